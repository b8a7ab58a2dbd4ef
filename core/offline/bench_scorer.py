"""How much the scorer costs per face, part by part: prints figures, asserts nothing.

    taskset -c 0 python -m core.offline.bench_scorer [--data /work/shared/data/genki4k-dev] [--faces 200]

Faces come from real photos (the dev set when given, else the provisioned astronaut photo, in
several sizes), run once through the landmarker; then each part is timed on them, repeated,
and the median of the per-face times is printed: cutting the mouth patch from the frame (done
by the landmarker wrapper), its HOG, the named features, and the whole `score_face` with and
without the patch. Pin it to one core (`taskset -c 0`): the claim is about one core.
"""

from __future__ import annotations

import argparse
import contextlib
import platform
import sys
import time
from pathlib import Path
from typing import Callable, Sequence

import numpy as np


def _per_face_ms(fn: Callable[[int], object], n: int, repeats: int) -> float:
    times = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        for i in range(n):
            fn(i)
        times.append((time.perf_counter() - t0) / n * 1000)
    return float(np.median(times))


def main(argv: Sequence[str] | None = None) -> int:
    from dataclasses import replace

    from core import assets
    from core.features import face_features, mouth_hog
    from core.hog import hog
    from core.mouth_patch import mouth_patch
    from core.scoring import load_model, score_face
    from core.offline.train_scorer import load_rgb, read_labels
    from core.zoom import face_landmarker

    ap = argparse.ArgumentParser(prog="python -m core.offline.bench_scorer", description=__doc__.split("\n\n")[0])
    ap.add_argument("--data", type=Path, default=None, help="a labelled photo folder (labels.csv); default: the astronaut")
    ap.add_argument("--faces", type=int, default=200)
    ap.add_argument("--repeats", type=int, default=7)
    args = ap.parse_args(argv)

    if args.data is not None:
        images = [load_rgb(args.data / r["path"]) for r in read_labels(args.data)[:: max(1, 3600 // args.faces)]]
        images = [im for im in images if im is not None][:args.faces]
    else:
        import cv2

        big = load_rgb(assets.ensure(assets.ASTRONAUT))
        assert big is not None
        images = [cv2.resize(big, (s, s), interpolation=cv2.INTER_AREA) for s in (160, 240, 320, 512)]
    frames, faces = [], []
    with contextlib.closing(face_landmarker(assets.ensure(assets.MODEL), still=True)) as lm:
        for rgb in images:
            found = lm.detect(rgb, 0.0)
            if found:
                frames.append(rgb), faces.append(found[0])
    n = len(faces)
    if n == 0:
        print("no faces found; nothing to time", file=sys.stderr)
        return 1
    model = load_model()
    bare = [replace(f, mouth=None) for f in faces]
    hogs = [mouth_hog(f) for f in faces]
    feats = [face_features(f) for f in faces]
    parts = {
        "mouth patch (cut from the frame)": lambda i: mouth_patch(frames[i], faces[i].landmarks),
        "mouth HOG (numpy)": lambda i: hog(faces[i].mouth),
        "named features": lambda i: face_features(faces[i]),
        "model only (logit + scale)": lambda i: model.score(feats[i], hogs[i]),
        "score_face, with the mouth patch": lambda i: score_face(faces[i], None, model),
        "score_face, without (fallback model)": lambda i: score_face(bare[i], None, model),
    }
    print(f"{n} faces from {'the astronaut photo' if args.data is None else args.data}; "
          f"{platform.machine()} {platform.processor() or ''}, Python {platform.python_version()}, "
          f"numpy {np.__version__}; median of {args.repeats} runs")
    for name, fn in parts.items():
        print(f"  {name:40s} {_per_face_ms(fn, n, args.repeats):7.3f} ms per face")
    return 0


if __name__ == "__main__":
    sys.exit(main())
