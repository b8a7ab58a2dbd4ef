"""Build the Face Landmarker variants from the verified official bundle (BUILD-ONLY).

    .venv/build/bin/python -m core.offline.model_build.build --source face_landmarker.task --out DIR [VARIANT ...]

(or `smile-mirror model build`, which runs this in the build venv). Every variant is a
`.task` zip with the official member names, in the official order, stored uncompressed, with
the official timestamps: the same inputs and tool versions give the same bytes.

Variants (see core/VARIANTS.md):
- `float32`: each DEQUANTIZE of a float16 constant folded into a float32 constant (bit-identical).
- `int8-weights`: float32, then every weight int8 (per channel, symmetric), computed in float.
- `int8-dynamic`: float32, then the landmark and blendshape models' weights int8 (per channel)
  with dynamic-range compute: the runtime quantises each activation on the fly and runs the
  convolutions in int8 (XNNPACK's qd8 kernels; ARM's dot-product instructions are where it pays).
- `int8`: static int8 landmark model (weights per channel, activations per tensor from the
  committed calibration ranges), float32 input/output, the layers in `FLOAT_LAYERS` kept float;
  detector and blendshape model as in `float32`.
"""

from __future__ import annotations

import argparse
import hashlib
import io
import logging
import sys
import zipfile
from pathlib import Path

import numpy as np

from core.offline.model_build import tflite_edit as te
from core.variants import VARIANTS, variant_filename  # stdlib, numpy and core only: fine in the build venv


DETECTOR, LANDMARKS, BLENDSHAPES = "face_detector.tflite", "face_landmarks_detector.tflite", "face_blendshapes.tflite"
MODELS = (DETECTOR, LANDMARKS, BLENDSHAPES)
CALIBRATION = Path(__file__).with_name("calibration-landmarks.tsv")

# Static int8: what each member gets. "float": folded only; "weights": int8 weights; "static": int8 compute.
PLAN = {
    "float32": {DETECTOR: "float", LANDMARKS: "float", BLENDSHAPES: "float"},
    # the detector stays float: int8 weights there move its boxes (and so every crop) and lose faces
    "int8-weights": {DETECTOR: "float", LANDMARKS: "weights", BLENDSHAPES: "weights"},
    "int8-dynamic": {DETECTOR: "float", LANDMARKS: "dynamic", BLENDSHAPES: "dynamic"},
    "int8": {DETECTOR: "float", LANDMARKS: "static", BLENDSHAPES: "float"},
}
# Landmark-model layers (regexes on an op's output tensor name) left in float in the static
# variant, because quantising them costs the most accuracy for the least time (see VARIANTS.md).
# `^Identity` is the output head (the 1434 landmark coordinates, face flag): one 1x1 conv whose
# per-channel int8 weights alone move the Smile Score by ~4 points on average.
FLOAT_LAYERS: tuple[str, ...] = ("^Identity",)
# Layers (same kind of regexes, per member) whose weights stay float in `int8-weights`.
FLOAT_WEIGHTS: dict[str, tuple[str, ...]] = {LANDMARKS: ("^Identity",)}


def quantizer_modules():
    """ai_edge_quantizer's `quantizer` and `qtyping`, or a sentence saying how to install them."""
    try:
        from ai_edge_quantizer import qtyping, quantizer
    except ImportError as exc:
        raise SystemExit(f"the build tools are missing ({exc}); install requirements/build.txt "
                         f"into a separate venv (see core/VARIANTS.md)") from None
    return quantizer, qtyping


def folded(data: bytes) -> tuple[object, int]:
    model = te.read(data)
    te.fix_opcodes(model)
    count = te.fold_fp16(model)
    return model, count


def weight_only(data: bytes, float_layers: tuple[str, ...] = ()) -> bytes:
    quantizer, qtyping = quantizer_modules()
    from ai_edge_quantizer.algorithm_manager import AlgorithmName

    q = quantizer.Quantizer(bytearray(data))
    q.add_weight_only_config(".*", qtyping.TFLOperationName.ALL_SUPPORTED, 8,
                             qtyping.QuantGranularity.CHANNELWISE)
    for regex in float_layers:
        q.update_quantization_recipe(regex, qtyping.TFLOperationName.ALL_SUPPORTED,
                                     algorithm_key=AlgorithmName.NO_QUANTIZE)
    return inline(bytes(q.quantize(enable_progress_bar=False, enable_progress_report=False).quantized_model))


def dynamic_range(data: bytes, float_layers: tuple[str, ...] = ()) -> bytes:
    """int8 weights whose ops compute in int8 on activations quantised at run time (no DEQUANTIZE
    in front of them, unlike `weight_only`)."""
    quantizer, qtyping = quantizer_modules()
    from ai_edge_quantizer.algorithm_manager import AlgorithmName

    q = quantizer.Quantizer(bytearray(data))
    q.add_dynamic_config(".*", qtyping.TFLOperationName.ALL_SUPPORTED, 8, qtyping.QuantGranularity.CHANNELWISE)
    for regex in float_layers:
        q.update_quantization_recipe(regex, qtyping.TFLOperationName.ALL_SUPPORTED,
                                     algorithm_key=AlgorithmName.NO_QUANTIZE)
    return inline(bytes(q.quantize(enable_progress_bar=False, enable_progress_report=False).quantized_model))


def inline(data: bytes) -> bytes:
    """The quantizer appends large constants after the flatbuffer (buffer offset/size); the TFLite
    in mediapipe 0.10.18 cannot read those ("Input tensor N to op M (DEQUANTIZE) is not produced"),
    so store every buffer inside the flatbuffer, as the official models do."""
    return te.write(te.read(data))


def static_recipe(q, float_layers: tuple[str, ...] = FLOAT_LAYERS) -> None:
    _, qtyping = quantizer_modules()
    from ai_edge_quantizer.algorithm_manager import AlgorithmName

    op = qtyping.TFLOperationName
    q.add_static_config(".*", op.ALL_SUPPORTED, 8, 8, qtyping.QuantGranularity.CHANNELWISE)
    # MediaPipe accepts float32 (or uint8) I/O only: "Requested one of these types: uint8/float32, got INT8"
    for io_op in (op.INPUT, op.OUTPUT):
        q.update_quantization_recipe(".*", io_op, algorithm_key=AlgorithmName.NO_QUANTIZE)
    for regex in float_layers:
        q.update_quantization_recipe(regex, op.ALL_SUPPORTED, algorithm_key=AlgorithmName.NO_QUANTIZE)


def static_int8(data: bytes, ranges: dict[str, dict[str, np.ndarray]],
                float_layers: tuple[str, ...] = FLOAT_LAYERS) -> bytes:
    """`data`: a folded float32 model with a signature; `ranges`: calibration (tensor -> min/max)."""
    quantizer, _ = quantizer_modules()
    q = quantizer.Quantizer(bytearray(data))
    static_recipe(q, float_layers)
    out = te.read(bytes(q.quantize(ranges, enable_progress_bar=False, enable_progress_report=False).quantized_model))
    te.strip_signature(out)
    return te.write(out)


# ---- calibration ranges: a small committed text file ------------------------------------------

def save_ranges(ranges: dict[str, dict[str, np.ndarray]], path: Path, header: str) -> None:
    lines = [f"# {line}" for line in header.splitlines()]
    lines.append("# tensor\tmin\tmax   (float32 values, per tensor; one line per activation tensor)")
    for name in sorted(ranges):
        lo, hi = np.asarray(ranges[name]["min"]), np.asarray(ranges[name]["max"])
        if lo.size != 1:
            continue  # only per-tensor activation ranges are stored
        lines.append(f"{name}\t{float(lo.reshape(-1)[0].astype(np.float32))!r}\t{float(hi.reshape(-1)[0].astype(np.float32))!r}")
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")


def load_ranges(path: Path, model: object) -> dict[str, dict[str, np.ndarray]]:
    """Ranges keyed by tensor name, shaped as the tensors' rank (what the quantizer expects)."""
    ranks = {t.name.decode(): len(t.shape) for t in model.subgraphs[0].tensors}  # type: ignore[attr-defined]
    out: dict[str, dict[str, np.ndarray]] = {}
    for line in path.read_text(encoding="utf-8").splitlines():
        if not line or line.startswith("#"):
            continue
        name, lo, hi = line.split("\t")
        if name not in ranks:
            raise ValueError(f"{path}: tensor {name!r} is not in the model")
        shape = (1,) * ranks[name]
        out[name] = {"min": np.full(shape, float(lo), np.float32), "max": np.full(shape, float(hi), np.float32)}
    return out


# ---- the variants ---------------------------------------------------------------------------

def build_member(name: str, data: bytes, how: str, calibration: Path = CALIBRATION) -> bytes:
    model, _ = folded(data)
    if how == "float":
        return te.write(model)
    if how == "weights":
        return weight_only(te.write(model), FLOAT_WEIGHTS.get(name, ()))
    if how == "dynamic":
        return dynamic_range(te.write(model), FLOAT_WEIGHTS.get(name, ()))
    if how == "static":
        te.add_signature(model)
        ranges = load_ranges(calibration, model)
        return static_int8(te.write(model), ranges)
    raise ValueError(how)


def build_variant(source: Path, variant: str, out: Path, calibration: Path = CALIBRATION) -> Path:
    """Write `out` (a .task) for `variant` from the official bundle at `source`; returns `out`."""
    plan = PLAN[variant]
    buf = io.BytesIO()
    with zipfile.ZipFile(source) as zin, zipfile.ZipFile(buf, "w", compression=zipfile.ZIP_STORED) as zout:
        for info in zin.infolist():
            data = zin.read(info)
            if info.filename in plan:
                data = build_member(info.filename, data, plan[info.filename], calibration)
            member = zipfile.ZipInfo(info.filename, date_time=info.date_time)
            member.compress_type = zipfile.ZIP_STORED
            member.external_attr = info.external_attr
            zout.writestr(member, data)
    tmp = out.with_name(out.name + ".part")
    tmp.write_bytes(buf.getvalue())
    tmp.replace(out)
    return out


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m core.offline.model_build.build", description=__doc__.splitlines()[0])
    p.add_argument("variants", nargs="*", metavar="VARIANT", help=f"any of {', '.join(VARIANTS)} (default: all)")
    p.add_argument("--source", type=Path, required=True, help="the verified official face_landmarker.task")
    p.add_argument("--out", type=Path, required=True, help="folder for face_landmarker-<variant>.task")
    p.add_argument("--calibration", type=Path, default=CALIBRATION)
    a = p.parse_args(argv)
    unknown = set(a.variants) - set(VARIANTS)
    if unknown:
        p.error(f"unknown variant(s) {', '.join(sorted(unknown))}; choose from {', '.join(VARIANTS)}")
    logging.basicConfig(level=logging.WARNING)
    a.out.mkdir(parents=True, exist_ok=True)
    for variant in a.variants or VARIANTS:
        path = build_variant(a.source, variant, a.out / variant_filename(variant), a.calibration)
        digest = hashlib.sha256(path.read_bytes()).hexdigest()
        print(f"{variant}\t{path}\t{path.stat().st_size}\t{digest}", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
