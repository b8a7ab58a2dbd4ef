"""`smile-mirror eval DIR`: score every photo of a labelled folder and print how well it went.

DIR holds `labels.csv` (`path,label,...`; label `smile` or `neutral`; optionally `subtype`
`genuine`/`posed`) as the folders in ../shared/data do. Each photo is a still, so the Face
Landmarker runs in IMAGE mode (no tracking carried from one photo to the next) and no
per-visitor baseline is used: this measures `score_face` exactly as `smile-mirror score` runs it.

With `distant=(W, H)` each photo is first shrunk so its face is 64-80 px wide and placed in a
WxH frame, which is how the mirror's 640x480 camera sees a visitor about 1 m away: it measures
whether such faces are found at all (see core/zoom.py) and how well they are scored.
"""

from __future__ import annotations

import logging
import sys
import time
from pathlib import Path
from typing import TextIO

import numpy as np

from core.errors import SmileMirrorError
from core.scoring import load_model, score_face
from core.types import SMILE_LINE
from core.offline.train_scorer import auc, load_rgb, read_labels, small_face_target
from core.types import FaceObservation

log = logging.getLogger(__name__)


def subset(rows: list[dict[str, str]], limit: int | None, seed: int = 0) -> list[dict[str, str]]:
    """A fixed random sample of `limit` rows, kept in file order (dev sets are sorted by label,
    so the first N would be one class only); all rows when `limit` is None or not smaller."""
    if limit is None or limit >= len(rows):
        return rows
    idx = np.sort(np.random.default_rng(seed).choice(len(rows), max(limit, 1), replace=False))
    return [rows[i] for i in idx]


def distant_view(rgb: np.ndarray, face: FaceObservation, frame: tuple[int, int], index: int) -> np.ndarray:
    """The photo shrunk so the face is 64-80 px wide (by `index`), in a `frame`-sized picture.

    The face centre lands at a position spread over the middle of the frame; the photo's edge
    pixels fill the rest, so no artificial border frames the face.
    """
    import cv2

    pts = face.points_px()
    s = min(1.0, small_face_target(index) / max(1e-3, float(np.ptp(pts[:, 0]))))
    w, h = frame
    cx = w / 4 + (index * 37 % 97) / 96 * w / 2
    cy = h / 4 + (index * 53 % 89) / 88 * h / 2
    m = np.float32([[s, 0, cx - s * pts[:, 0].mean()], [0, s, cy - s * pts[:, 1].mean()]])
    return cv2.warpAffine(rgb, m, (w, h), flags=cv2.INTER_AREA, borderMode=cv2.BORDER_REPLICATE)


def run_eval(data_dir: Path, model_path: Path, *, plot: Path | None = None, limit: int | None = None,
             zoom: bool = True, distant: tuple[int, int] | None = None, out: TextIO = sys.stdout,
             backend: str = "auto") -> int:
    """Score the photos listed in `data_dir/labels.csv` (with `limit`: a fixed random sample of
    that many, the same on every run; see `subset`) with the landmarker at `model_path` (zooming
    in on small faces as `score` does, unless `zoom` is False); print accuracy at 50, AUC,
    per-kind figures, faces not found and ms per photo. Returns an exit code."""
    import contextlib

    from core.zoom import face_landmarker

    try:
        rows = subset(read_labels(data_dir), limit)
    except FileNotFoundError:
        print(f"error: {data_dir / 'labels.csv'} not found; DIR must hold labels.csv (path,label,...)", file=out)
        return 2
    model = load_model()
    scores, eyes, kinds, labels, subtypes = [], [], [], [], []
    missing = unreadable = 0
    t_detect = t_score = 0.0
    if distant is not None:
        print(f"each photo shrunk so its face is 64-80 px wide, in a {distant[0]}x{distant[1]} frame; "
              f"zoom {'on' if zoom else 'off'}", file=out)
    with contextlib.ExitStack() as stack:
        lm = stack.enter_context(contextlib.closing(face_landmarker(model_path, still=True, zoom=zoom, backend=backend)))
        # With `distant`, where the face is comes from the photo as it is (found as `score` finds it).
        finder = None if distant is None else stack.enter_context(
            contextlib.closing(face_landmarker(model_path, still=True, backend=backend)))
        for index, row in enumerate(rows):
            rgb = load_rgb(data_dir / row["path"])
            if rgb is None:
                unreadable += 1
                log.warning("cannot read %s", row["path"])
                continue
            try:
                view: np.ndarray | None = rgb
                if finder is not None and distant is not None:
                    located = finder.detect(rgb, 0.0)
                    view = distant_view(rgb, located[0], distant, index) if located else None
                t0 = time.perf_counter()
                faces = lm.detect(view, 0.0) if view is not None else []
            except SmileMirrorError as exc:
                unreadable += 1
                log.warning("%s: %s", row["path"], exc)
                continue
            t1 = time.perf_counter()
            t_detect += t1 - t0
            labels.append(row["label"] == "smile")
            subtypes.append(row.get("subtype") or "")
            if not faces:
                missing += 1
                scores.append(np.nan), eyes.append(np.nan), kinds.append("no face")
                continue
            reading = score_face(faces[0], None, model)
            t_score += time.perf_counter() - t1
            scores.append(reading.score), eyes.append(reading.eye_engagement), kinds.append(reading.kind.value)
    s, e, y = np.array(scores, float), np.array(eyes, float), np.array(labels, bool)
    sub, k = np.array(subtypes), np.array(kinds)
    n, found = len(y), np.isfinite(s)
    print(f"{data_dir}: {len(rows)} photos, {n} read, {int(found.sum())} faces found, {missing} without a face, "
          f"{unreadable} unreadable", file=out)
    if n == 0:
        return 1
    pred = np.where(found, np.nan_to_num(s, nan=0.0) >= SMILE_LINE, False)
    on_found = f"{np.mean(pred[found] == y[found]):.3f}" if found.any() else "-"
    print(f"accuracy at score >= {SMILE_LINE:.0f}: {on_found} on faces found, "
          f"{np.mean(pred == y):.3f} counting photos without a face as 'no smile'", file=out)
    if found.any() and 0 < y[found].sum() < found.sum():
        print(f"AUC (score, smile vs neutral): {auc(s[found], y[found]):.3f}", file=out)
    for lab, name in ((True, "smile"), (False, "neutral")):
        m = found & (y == lab)
        if m.any():
            counts = ", ".join(f"{kk} {np.mean(k[m] == kk):.2f}" for kk in ("genuine", "posed", "none"))
            print(f"  {name:8s} n={int(m.sum()):5d}  median score {np.median(s[m]):5.1f}  "
                  f"median eye engagement {np.median(e[m]):5.1f}  kinds: {counts}  "
                  f"scoring >= 95: {np.mean(s[m] >= 95):.3f}", file=out)
    g, p = found & (sub == "genuine"), found & (sub == "posed")
    if g.any() and p.any():
        sm = found & ((sub == "genuine") | (sub == "posed"))
        print(f"genuine vs posed: eye-engagement AUC {auc(e[sm], sub[sm] == 'genuine'):.3f}; read as genuine: "
              f"genuine {np.mean(k[g] == 'genuine'):.2f}, posed {np.mean(k[p] == 'genuine'):.2f}; "
              f"kind right (genuine->genuine, posed->posed) {np.mean(np.r_[k[g] == 'genuine', k[p] == 'posed']):.3f}",
              file=out)
    print(f"speed: {1000 * t_detect / n:.1f} ms per photo in the landmarker, "
          f"{1000 * t_score / max(1, int(found.sum())):.2f} ms per face in the scorer", file=out)
    if plot is not None:
        write_plot(plot, s[found], y[found])
        print(f"plot written to {plot}", file=out)
    return 0


def write_plot(path: Path, scores: np.ndarray, smiling: np.ndarray) -> None:
    """Score histograms by label and a reliability curve (share of smiling photos per score bin)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    bins = np.linspace(0, 100, 21)
    fig, (a, b) = plt.subplots(1, 2, figsize=(10, 4))
    a.hist(scores[~smiling], bins=bins, alpha=0.6, label="neutral", color="tab:blue")
    a.hist(scores[smiling], bins=bins, alpha=0.6, label="smile", color="tab:orange")
    a.axvline(SMILE_LINE, color="k", lw=1, ls="--")
    a.set(xlabel="Smile Score", ylabel="photos", title="Score by label")
    a.legend()
    idx = np.clip(np.digitize(scores, bins) - 1, 0, len(bins) - 2)
    centres, share, counts = [], [], []
    for i in range(len(bins) - 1):
        m = idx == i
        if m.sum() >= 5:
            centres.append((bins[i] + bins[i + 1]) / 2), share.append(smiling[m].mean()), counts.append(m.sum())
    b.plot(centres, share, "o-", color="tab:green")
    b.plot([0, 100], [0, 1], ":", color="grey")
    b.axvline(SMILE_LINE, color="k", lw=1, ls="--")
    b.set(xlabel="Smile Score (bins of 5, >= 5 photos)", ylabel="share labelled smile", ylim=(-0.02, 1.02),
          title="Reliability")
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)
