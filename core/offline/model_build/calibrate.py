"""Static-int8 calibration ranges for the landmark model, from real face crops (developers only).

Two steps, because the crops need MediaPipe (runtime venv) and the ranges need the TFLite
interpreter of the build tools (build venv):

    .venv/mediapipe-1/bin/python -m core.offline.model_build.calibrate crops ../shared/data/genki4k-dev /tmp/crops.npz
    .venv/build/bin/python -m core.offline.model_build.calibrate ranges /tmp/crops.npz

The first finds the face in each photo of the odd rows of labels.csv (the gate uses the even
rows) with the official model and cuts the 256x256 crop the landmark model sees (MediaPipe's
rule: the landmarks' box, turned upright by the outer eye corners, 1.5x, square). The second
runs the folded float landmark model on the crops and writes the per-tensor activation ranges
to core/offline/model_build/calibration-landmarks.tsv (committed; the photos are not).
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np

INPUT = 256
CROPS_DEFAULT = 400


def crop_for(rgb: np.ndarray, landmarks: np.ndarray, size: int = INPUT, scale: float = 1.5) -> np.ndarray:
    import cv2

    h, w = rgb.shape[:2]
    pts = landmarks[:, :2] * (w, h)
    (x0, y0), (x1, y1) = pts[33], pts[263]
    angle = np.arctan2(y1 - y0, x1 - x0)
    centre = (pts.min(0) + pts.max(0)) / 2
    c, s = np.cos(-angle), np.sin(-angle)
    upright = (pts - centre) @ np.array([[c, s], [-s, c]])
    side = float((upright.max(0) - upright.min(0)).max()) * scale
    k = size / side
    # map the upright square around `centre` onto the size x size crop
    m = np.array([[c * k, -s * k, 0.0], [s * k, c * k, 0.0]])
    m[:, 2] = size / 2 - m[:, :2] @ centre
    return cv2.warpAffine(rgb, m, (size, size), flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_CONSTANT)


def cmd_crops(data_dir: Path, out: Path, count: int) -> int:
    from core import assets
    from core.offline.evaluate import subset
    from core.landmarker import MediapipeLandmarker
    from core.offline.train_scorer import load_rgb, read_labels

    rows = subset(read_labels(data_dir)[1::2], count, seed=7)
    crops, names = [], []
    model = assets.ensure(assets.MODEL, allow_download=False)
    with MediapipeLandmarker(model, still=True) as lm:
        for row in rows:
            rgb = load_rgb(data_dir / row["path"])
            faces = lm.detect(rgb, 0.0) if rgb is not None else []
            if faces:
                crops.append(crop_for(rgb, faces[0].landmarks)), names.append(row["path"])
    np.savez_compressed(out, crops=np.stack(crops), names=np.array(names))
    print(f"{len(crops)} face crops from {len(rows)} photos of {data_dir} -> {out}")
    return 0


def cmd_ranges(crops_file: Path, out: Path, source: Path | None) -> int:
    import zipfile

    from core import assets
    from core.offline.model_build import build
    from core.offline.model_build import tflite_edit as te

    quantizer, _ = build.quantizer_modules()
    source = source or assets.cached_path(assets.MODEL)
    with zipfile.ZipFile(source) as z:
        model, _ = build.folded(z.read(build.LANDMARKS))
    te.add_signature(model)
    (name,), _ = te.io_names(model)
    q = quantizer.Quantizer(bytearray(te.write(model)))
    build.static_recipe(q)
    data = np.load(crops_file)
    crops = data["crops"]
    samples = [{name: (c[None].astype(np.float32) / 255.0)} for c in crops]  # metadata: input in [0, 1]
    ranges = q.calibrate({te.SIGNATURE_KEY: samples}, num_threads=1)
    header = (f"Activation ranges of face_landmarks_detector.tflite (official face_landmarker.task, SHA-256 "
              f"{assets.MODEL.sha256[:16]}...) for static int8,\nmin/max over {len(crops)} 256x256 face crops "
              f"of genki4k-dev (odd rows of labels.csv; the gate uses the even rows).\n"
              f"Made by: python -m core.offline.model_build.calibrate crops ... && python -m core.offline.model_build.calibrate ranges ...")
    build.save_ranges(ranges, out, header)
    print(f"{len(ranges)} tensor ranges -> {out}")
    return 0


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m core.offline.model_build.calibrate")
    sub = p.add_subparsers(dest="step", required=True)
    c = sub.add_parser("crops", help="face crops from labelled photos (runtime venv: mediapipe)")
    c.add_argument("data_dir", type=Path)
    c.add_argument("out", type=Path)
    c.add_argument("--count", type=int, default=CROPS_DEFAULT)
    r = sub.add_parser("ranges", help="activation ranges from the crops (build venv)")
    r.add_argument("crops", type=Path)
    r.add_argument("--out", type=Path, default=Path(__file__).with_name("calibration-landmarks.tsv"))
    r.add_argument("--source", type=Path, help="the official face_landmarker.task (default: the cache)")
    a = p.parse_args(argv)
    if a.step == "crops":
        return cmd_crops(a.data_dir, a.out, a.count)
    return cmd_ranges(a.crops, a.out, a.source)


if __name__ == "__main__":
    sys.exit(main())
