"""`smile-mirror eval DIR`: score every photo of a labelled folder and print how well it went.

DIR holds `labels.csv` (`path,label,...`; label `smile` or `neutral`; optionally `subtype`
`genuine`/`posed`) as the folders in ../shared/data do. Each photo is a still, so the Face
Landmarker runs in IMAGE mode (no tracking carried from one photo to the next) and no
per-visitor baseline is used: this measures `score_face` exactly as `smile-mirror score` runs it.
"""

from __future__ import annotations

import logging
import sys
import time
from pathlib import Path
from typing import TextIO

import numpy as np

from core.errors import SmileMirrorError
from core.scoring import SMILE_AT, load_model, score_face
from core.train_scorer import auc, load_rgb, read_labels

log = logging.getLogger(__name__)


def subset(rows: list[dict[str, str]], limit: int | None, seed: int = 0) -> list[dict[str, str]]:
    """A fixed random sample of `limit` rows, kept in file order (dev sets are sorted by label,
    so the first N would be one class only); all rows when `limit` is None or not smaller."""
    if limit is None or limit >= len(rows):
        return rows
    idx = np.sort(np.random.default_rng(seed).choice(len(rows), max(limit, 1), replace=False))
    return [rows[i] for i in idx]


def run_eval(data_dir: Path, model_path: Path, *, plot: Path | None = None, limit: int | None = None,
             out: TextIO = sys.stdout) -> int:
    """Score the photos listed in `data_dir/labels.csv` (with `limit`: a fixed random sample of
    that many, the same on every run; see `subset`) with the landmarker at `model_path`; print
    accuracy at 50, AUC, per-kind figures, faces not found and ms per photo. Returns an exit code."""
    from core.landmarker import MediapipeLandmarker

    try:
        rows = subset(read_labels(data_dir), limit)
    except FileNotFoundError:
        print(f"error: {data_dir / 'labels.csv'} not found; DIR must hold labels.csv (path,label,...)", file=out)
        return 2
    model = load_model()
    scores, eyes, kinds, labels, subtypes = [], [], [], [], []
    missing = unreadable = 0
    t_detect = t_score = 0.0
    with MediapipeLandmarker(model_path, still=True) as lm:
        for row in rows:
            rgb = load_rgb(data_dir / row["path"])
            if rgb is None:
                unreadable += 1
                log.warning("cannot read %s", row["path"])
                continue
            t0 = time.perf_counter()
            try:
                faces = lm.detect(rgb, 0.0)
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
    pred = np.where(found, np.nan_to_num(s, nan=0.0) >= SMILE_AT, False)
    print(f"accuracy at score >= {SMILE_AT:.0f}: {np.mean(pred[found] == y[found]):.3f} on faces found, "
          f"{np.mean(pred == y):.3f} counting photos without a face as 'no smile'", file=out)
    if found.any() and 0 < y[found].sum() < found.sum():
        print(f"AUC (score, smile vs neutral): {auc(s[found], y[found]):.3f}", file=out)
    for lab, name in ((True, "smile"), (False, "neutral")):
        m = found & (y == lab)
        if m.any():
            counts = ", ".join(f"{kk} {np.mean(k[m] == kk):.2f}" for kk in ("genuine", "posed", "none"))
            print(f"  {name:8s} n={int(m.sum()):5d}  median score {np.median(s[m]):5.1f}  "
                  f"median eye engagement {np.median(e[m]):5.1f}  kinds: {counts}", file=out)
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
    a.axvline(SMILE_AT, color="k", lw=1, ls="--")
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
    b.axvline(SMILE_AT, color="k", lw=1, ls="--")
    b.set(xlabel="Smile Score (bins of 5, >= 5 photos)", ylabel="share labelled smile", ylim=(-0.02, 1.02),
          title="Reliability")
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)
