"""Static-int8 accuracy experiments on the landmark model (developers only; build venv; not used by the build).

Reproduces the "closing the gap" figures of core/VARIANTS.md. Crops come from
`python -m core.offline.model_build.calibrate crops DATA crops.npz --count 1800` (runtime venv).

    P=.venv/build/bin/python; M="-m core.offline.model_build.experiment"
    $P $M split crops.npz W                       # W/cal.npz (first 1400 crops), W/hold.npz (the rest)
    $P $M equalise W/cal.npz W/lm_cle.tflite --alpha 0.5   # float, exact (max |diff| printed)
    $P $M stats W/lm_cle.tflite W/cal.npz W/stats.npz --count 400
    $P $M quantise W/lm_cle.tflite W/stats.npz pct99.95 W/lm_q.tflite   # or minmax, pctP, mse
    $P $M proxy W/hold.npz W/lm_q.tflite ...      # deviation vs float on held-out crops
    $P $M task W/lm_q.tflite W/face_landmarker-x.task   # a bundle for the real gate / timing

`equalise` is cross-layer equalisation inside each block conv1x1 -> PRELU -> depthwise -> conv1x1
(34 of them): PRELU is positively homogeneous, so the conv's output channels are scaled by k
(ranges made alike), the depthwise outputs by j, and the next conv's inputs by 1/(k*j).
"""

from __future__ import annotations

import argparse
import sys
import zipfile
from pathlib import Path

import numpy as np

from core.offline.model_build import build as B
from core.offline.model_build import tflite_edit as te

OFFICIAL = Path.home() / ".cache" / "smile-mirror" / "face_landmarker.task"
BINS = 8192


def _float_model(source: Path = OFFICIAL) -> bytes:
    with zipfile.ZipFile(source) as z:
        return te.write(B.folded(z.read(B.LANDMARKS))[0])


def _interp(path_or_bytes, preserve: bool = False):
    from ai_edge_litert.interpreter import Interpreter

    kw = {"model_path": str(path_or_bytes)} if isinstance(path_or_bytes, (str, Path)) else {"model_content": path_or_bytes}
    it = Interpreter(num_threads=1, experimental_preserve_all_tensors=preserve, **kw)
    it.allocate_tensors()
    return it


def _feed(it, crop: np.ndarray) -> None:
    it.set_tensor(it.get_input_details()[0]["index"], crop[None].astype(np.float32) / 255.0)  # metadata: [0, 1]
    it.invoke()


def _activation_names(model) -> list[str]:
    sg = model.subgraphs[0]
    return [sg.tensors[i].name.decode() for i in sg.inputs] + [
        sg.tensors[o].name.decode() for op in sg.operators for o in op.outputs]


def channel_ranges(model_bytes: bytes, crops: np.ndarray, names: list[str]) -> dict[str, np.ndarray]:
    it = _interp(model_bytes, preserve=True)
    idx = {d["name"]: d["index"] for d in it.get_tensor_details()}
    lo: dict[str, np.ndarray] = {}
    hi: dict[str, np.ndarray] = {}
    for c in crops:
        _feed(it, c)
        for n in names:
            t = it.get_tensor(idx[n]).reshape(-1, it.get_tensor(idx[n]).shape[-1])
            lo[n] = np.minimum(lo.get(n, np.inf), t.min(0))
            hi[n] = np.maximum(hi.get(n, -np.inf), t.max(0))
    return {n: np.maximum(hi[n] - lo[n], 1e-6) for n in names}


def equalise(data: bytes, crops: np.ndarray, alpha: float = 0.5, limit: float = 32.0) -> bytes:
    m = te.read(data)
    sg = m.subgraphs[0]
    cons: dict[int, list] = {}
    for op in sg.operators:
        for i in op.inputs:
            cons.setdefault(i, []).append(op)
    prod = {o: op for op in sg.operators for o in op.outputs}
    kind = lambda op: te.op_name(m, op)  # noqa: E731

    def arr(ti):
        t = sg.tensors[ti]
        return np.frombuffer(bytes(m.buffers[t.buffer].data), "<f4").reshape(t.shape).copy()

    def put(ti, a):
        m.buffers[sg.tensors[ti].buffer].data = np.frombuffer(a.astype("<f4").tobytes(), np.uint8)

    chains = []
    for p in sg.operators:
        if kind(p) != "PRELU":
            continue
        c1, after = prod.get(p.inputs[0]), cons.get(p.outputs[0], [])
        if c1 is None or kind(c1) != "CONV_2D" or len(cons[p.inputs[0]]) != 1 or len(after) != 1 \
                or kind(after[0]) != "DEPTHWISE_CONV_2D":
            continue
        d = after[0]
        nxt = cons.get(d.outputs[0], [])
        if len(nxt) == 1 and kind(nxt[0]) == "CONV_2D":
            chains.append((c1, p, d, nxt[0]))
    name = lambda ti: sg.tensors[ti].name.decode()  # noqa: E731
    ranges = channel_ranges(data, crops, [name(x) for _, p, d, _ in chains for x in (p.outputs[0], d.outputs[0])])
    for c1, p, d, c2 in chains:
        r1 = ranges[name(p.outputs[0])]
        k = np.clip((np.median(r1) / r1) ** alpha, 1 / limit, limit)
        put(c1.inputs[1], arr(c1.inputs[1]) * k[:, None, None, None])
        if len(c1.inputs) > 2 and c1.inputs[2] >= 0:
            put(c1.inputs[2], arr(c1.inputs[2]) * k)
        r2 = ranges[name(d.outputs[0])] * k
        j = np.clip((np.median(r2) / r2) ** alpha, 1 / limit, limit)
        put(d.inputs[1], arr(d.inputs[1]) * j.reshape(1, 1, 1, -1))
        if len(d.inputs) > 2 and d.inputs[2] >= 0:
            put(d.inputs[2], arr(d.inputs[2]) * k * j)
        put(c2.inputs[1], arr(c2.inputs[1]) / (k * j).reshape(1, 1, 1, -1))
    print(f"equalised {len(chains)} blocks")
    return te.write(m)


def stats(model_bytes: bytes, crops: np.ndarray) -> dict[str, np.ndarray]:
    """Per-tensor histograms (BINS bins between the observed min and max) of every activation."""
    m = te.read(model_bytes)
    it = _interp(model_bytes, preserve=True)
    idx = {d["name"]: d["index"] for d in it.get_tensor_details()}
    names = [n for n in _activation_names(m) if n in idx]
    lo = {n: np.inf for n in names}
    hi = {n: -np.inf for n in names}
    for c in crops:
        _feed(it, c)
        for n in names:
            t = it.get_tensor(idx[n])
            lo[n], hi[n] = min(lo[n], float(t.min())), max(hi[n], float(t.max()))
    hist = {n: np.zeros(BINS, np.int64) for n in names}
    for c in crops:
        _feed(it, c)
        for n in names:
            span = (lo[n], hi[n]) if hi[n] > lo[n] else (lo[n], lo[n] + 1)
            hist[n] += np.histogram(it.get_tensor(idx[n]).ravel(), bins=BINS, range=span)[0]
    return {"names": np.array(names), "lo": np.array([lo[n] for n in names]),
            "hi": np.array([hi[n] for n in names]), "H": np.stack([hist[n] for n in names])}


def choose_ranges(st, method: str) -> dict[str, tuple[float, float]]:
    """minmax; pctP (both tails at percentile P); mse (range minimising clip + rounding error)."""
    out = {}
    for k, n in enumerate(st["names"]):
        a0, b0, h = float(st["lo"][k]), float(st["hi"][k]), st["H"][k].astype(np.float64)
        edges = np.linspace(a0, b0, h.size + 1)
        v = (edges[:-1] + edges[1:]) / 2
        cdf = np.cumsum(h) / h.sum()
        a, b = a0, b0
        if method.startswith("pct"):
            p = float(method[3:]) / 100
            a = float(v[np.searchsorted(cdf, 1 - p)]) if a0 < 0 else a0
            b = float(v[min(np.searchsorted(cdf, p), v.size - 1)])
        elif method == "mse":
            qs = 1 - np.logspace(-1, -7, 40)
            bc = np.unique(np.r_[v[np.minimum(np.searchsorted(cdf, qs), v.size - 1)], b0])
            ac = np.unique(np.r_[v[np.searchsorted(cdf, 1 - qs)], a0]) if a0 < 0 else np.array([min(a0, 0.0)])
            best = None
            for lo_ in ac:
                e_lo = (h * np.where(v < lo_, (v - lo_) ** 2, 0)).sum()
                for hi_ in bc:
                    if hi_ <= max(lo_, 0):
                        continue
                    step = (hi_ - min(lo_, 0.0)) / 255
                    e = e_lo + (h * np.where(v > hi_, (v - hi_) ** 2, 0)).sum() + h[(v >= lo_) & (v <= hi_)].sum() * step * step / 12
                    if best is None or e < best[0]:
                        best = (e, float(lo_), float(hi_))
            if best is not None:
                a, b = best[1:]
        elif method != "minmax":
            raise SystemExit(f"unknown method {method}")
        out[str(n)] = (a, b)
    return out


def quantise(model_bytes: bytes, ranges: dict[str, tuple[float, float]]) -> bytes:
    m = te.read(model_bytes)
    te.add_signature(m)
    ranks = {t.name.decode(): len(t.shape) for t in m.subgraphs[0].tensors}
    r = {n: {"min": np.full((1,) * ranks[n], a, np.float32), "max": np.full((1,) * ranks[n], b, np.float32)}
         for n, (a, b) in ranges.items() if n in ranks}
    return B.static_int8(te.write(m), r)


def landmarks(path_or_bytes, crops: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    it = _interp(path_or_bytes)
    outs = {d["name"]: d["index"] for d in it.get_output_details()}
    pts, flag = [], []
    for c in crops:
        _feed(it, c)
        pts.append(it.get_tensor(outs["Identity"]).reshape(478, 3).copy())
        flag.append(float(it.get_tensor(outs["Identity_1"]).reshape(-1)[0]))
    return np.array(pts), np.array(flag)


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m core.offline.model_build.experiment")
    sub = p.add_subparsers(dest="cmd", required=True)
    s = sub.add_parser("split"); s.add_argument("crops", type=Path); s.add_argument("dir", type=Path)
    s.add_argument("--cal", type=int, default=1400)
    e = sub.add_parser("equalise"); e.add_argument("crops", type=Path); e.add_argument("out", type=Path)
    e.add_argument("--alpha", type=float, default=0.5); e.add_argument("--count", type=int, default=40)
    t = sub.add_parser("stats"); t.add_argument("model", type=Path); t.add_argument("crops", type=Path)
    t.add_argument("out", type=Path); t.add_argument("--count", type=int, default=400)
    q = sub.add_parser("quantise"); q.add_argument("model", type=Path); q.add_argument("stats", type=Path)
    q.add_argument("method"); q.add_argument("out", type=Path)
    x = sub.add_parser("proxy"); x.add_argument("crops", type=Path); x.add_argument("models", type=Path, nargs="+")
    x.add_argument("--count", type=int, default=150)
    k = sub.add_parser("task"); k.add_argument("landmarks", type=Path); k.add_argument("out", type=Path)
    a = p.parse_args(argv)
    if a.cmd == "split":
        d = np.load(a.crops)
        a.dir.mkdir(parents=True, exist_ok=True)
        np.savez(a.dir / "cal.npz", crops=d["crops"][:a.cal], names=d["names"][:a.cal])
        np.savez(a.dir / "hold.npz", crops=d["crops"][a.cal:], names=d["names"][a.cal:])
    elif a.cmd == "equalise":
        crops = np.load(a.crops)["crops"][:a.count]
        ref = _float_model()
        out = equalise(ref, crops, a.alpha)
        a.out.write_bytes(out)
        print("max |diff| of the landmarks (px) vs float:", float(np.abs(landmarks(ref, crops[:5])[0] - landmarks(out, crops[:5])[0]).max()))
    elif a.cmd == "stats":
        np.savez(a.out, **stats(a.model.read_bytes(), np.load(a.crops)["crops"][:a.count]))
    elif a.cmd == "quantise":
        a.out.write_bytes(quantise(a.model.read_bytes(), choose_ranges(np.load(a.stats), a.method)))
    elif a.cmd == "proxy":
        crops = np.load(a.crops)["crops"][:a.count]
        ref, ref_flag = landmarks(_float_model(), crops)
        iod = np.linalg.norm(ref[:, 33, :2] - ref[:, 263, :2], axis=1)
        for path in a.models:
            pts, flag = landmarks(path, crops)
            d = 100 * np.linalg.norm(pts[:, :, :2] - ref[:, :, :2], axis=2).mean(1) / iod
            print(f"{path}: landmark deviation {d.mean():.2f}% mean, {np.percentile(d, 95):.2f}% p95 (of IOD); "
                  f"face-flag logit min {flag.min():.2f} (float {ref_flag.min():.2f})")
    elif a.cmd == "task":
        with zipfile.ZipFile(OFFICIAL) as zin, zipfile.ZipFile(a.out, "w", compression=zipfile.ZIP_STORED) as zout:
            for info in zin.infolist():
                data = zin.read(info)
                if info.filename == B.LANDMARKS:
                    data = a.landmarks.read_bytes()
                elif info.filename in (B.DETECTOR, B.BLENDSHAPES):
                    data = B.build_member(info.filename, data, "float")
                member = zipfile.ZipInfo(info.filename, date_time=info.date_time)
                member.external_attr = info.external_attr
                zout.writestr(member, data)
    return 0


if __name__ == "__main__":
    sys.exit(main())
