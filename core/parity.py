"""`smile-mirror model parity DIR|VIDEO`: the LiteRT and mediapipe backends on the same frames.

An offline tool (never on the per-frame path). Photos are run as stills (each on its own, the
detector every time), a video in video mode (tracking from frame to frame), one face, no zoom,
so what is compared is the backends themselves. Faces are paired by box overlap; per pair it
measures the mean landmark error in image pixels, the largest blendshape difference, and the
Smile Score and eye-engagement difference; faces found by only one backend are counted.
"""

from __future__ import annotations

import json
import logging
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Iterator, Sequence, TextIO

import numpy as np

from core.types import FaceObservation

log = logging.getLogger(__name__)

IMAGE_SUFFIXES = {".jpg", ".jpeg", ".png", ".bmp", ".webp"}
# The goals the backends are held to (per face, for at least SHARE_GOAL of the faces).
LANDMARK_GOAL_PX = 0.5
BLENDSHAPE_GOAL = 0.02
POINTS_GOAL = 1.0
SHARE_GOAL = 0.99
FOUND_GOAL = 0.005


@dataclass
class ParityReport:
    frames: int = 0
    pairs: int = 0
    only_mediapipe: int = 0
    only_litert: int = 0
    landmark_px: list[float] = field(default_factory=list)
    blendshape: list[float] = field(default_factory=list)
    score: list[float] = field(default_factory=list)
    eye: list[float] = field(default_factory=list)

    def summary(self) -> dict:
        def stats(values: Sequence[float], goal: float) -> dict:
            v = np.asarray(values, dtype=float)
            if len(v) == 0:
                return {"mean": None, "p99": None, "max": None, "within_goal": None, "goal": goal}
            return {"mean": round(float(v.mean()), 5), "p99": round(float(np.percentile(v, 99)), 5),
                    "max": round(float(v.max()), 5), "within_goal": round(float((v <= goal).mean()), 5),
                    "goal": goal}

        found = self.pairs + max(self.only_mediapipe, self.only_litert)
        return {
            "frames": self.frames, "faces_compared": self.pairs,
            "faces_only_mediapipe": self.only_mediapipe, "faces_only_litert": self.only_litert,
            "faces_differ_share": round((self.only_mediapipe + self.only_litert) / max(1, found), 5),
            "landmark_error_px": stats(self.landmark_px, LANDMARK_GOAL_PX),
            "blendshape_max_error": stats(self.blendshape, BLENDSHAPE_GOAL),
            "score_difference": stats(self.score, POINTS_GOAL),
            "eye_engagement_difference": stats(self.eye, POINTS_GOAL),
        }

    def passed(self) -> bool:
        s = self.summary()
        shares = [s[k]["within_goal"] for k in ("landmark_error_px", "blendshape_max_error", "score_difference",
                                                 "eye_engagement_difference")]
        return (self.pairs > 0 and all(x is not None and x >= SHARE_GOAL for x in shares)
                and s["faces_differ_share"] <= FOUND_GOAL)


def _box_iou(a: tuple[float, ...], b: tuple[float, ...]) -> float:
    ix = max(0.0, min(a[2], b[2]) - max(a[0], b[0]))
    iy = max(0.0, min(a[3], b[3]) - max(a[1], b[1]))
    inter = ix * iy
    union = (a[2] - a[0]) * (a[3] - a[1]) + (b[2] - b[0]) * (b[3] - b[1]) - inter
    return inter / union if union > 0 else 0.0


def compare(report: ParityReport, ref: list[FaceObservation], new: list[FaceObservation]) -> None:
    """Pair the faces of one frame (mediapipe's `ref`, LiteRT's `new`) and add their differences."""
    from core.scoring import score_face

    report.frames += 1
    unmatched = list(new)
    for a in ref:
        best = max(unmatched, key=lambda b: _box_iou(a.box, b.box), default=None)
        if best is None or _box_iou(a.box, best.box) < 0.3:
            report.only_mediapipe += 1
            continue
        unmatched.remove(best)
        w, h = a.image_size
        d = (a.landmarks[:, :2] - best.landmarks[:, :2]) * np.array([w, h], dtype=np.float32)
        report.landmark_px.append(float(np.linalg.norm(d, axis=1).mean()))
        report.blendshape.append(max(abs(a.blendshapes[k] - best.blendshapes.get(k, np.nan)) for k in a.blendshapes))
        ra, rb = score_face(a), score_face(best)
        report.score.append(abs(ra.score - rb.score))
        report.eye.append(abs(ra.eye_engagement - rb.eye_engagement))
        report.pairs += 1
    report.only_litert += len(unmatched)


def image_paths(folder: Path, limit: int | None) -> list[Path]:
    paths = sorted(p for p in folder.rglob("*") if p.suffix.lower() in IMAGE_SUFFIXES)
    if limit is not None and len(paths) > limit:  # an even spread, the same on every run
        paths = [paths[int(i * len(paths) / limit)] for i in range(limit)]
    return paths


def _frames(path: Path, limit: int | None) -> Iterator[tuple[np.ndarray, float]]:
    from core.sources.files import VideoFileSource, read_image_rgb

    if path.is_dir():
        for p in image_paths(path, limit):
            try:
                yield read_image_rgb(p), 0.0
            except Exception as exc:  # an unreadable photo is skipped, and said
                log.warning("skipping %s: %s", p, exc)
        return
    source = VideoFileSource(path, size=(10_000, 10_000), pace=False)
    try:
        n = 0
        while limit is None or n < limit:
            frame = source.read()
            if frame is None:
                break
            n += 1
            yield frame.rgb, frame.t_ms
    finally:
        source.close()


def run_parity(path: Path, model: Path, *, limit: int | None = None, threads: int = 1) -> ParityReport:
    """Both backends on the frames of `path` (a folder of photos, or a video)."""
    from core.backends.litert import LiteRTLandmarker
    from core.landmarker import MediapipeLandmarker

    still = path.is_dir()
    report = ParityReport()
    with MediapipeLandmarker(model, still=still) as ref, LiteRTLandmarker(model, still=still, threads=threads) as new:
        for rgb, t_ms in _frames(path, limit):
            compare(report, ref.detect(rgb, t_ms), new.detect(rgb, t_ms))
    return report


def format_report(path: Path, report: ParityReport) -> str:
    s = report.summary()
    lines = [f"parity of LiteRT against mediapipe on {path}: {s['frames']} frames, {s['faces_compared']} faces "
             f"compared; found only by mediapipe {s['faces_only_mediapipe']}, only by LiteRT {s['faces_only_litert']} "
             f"({100 * s['faces_differ_share']:.2f}%, goal <= {100 * FOUND_GOAL:.1f}%)"]
    for key, label, unit in (("landmark_error_px", "landmark error (mean per face)", "px"),
                             ("blendshape_max_error", "largest blendshape difference", ""),
                             ("score_difference", "Smile Score difference", "points"),
                             ("eye_engagement_difference", "eye engagement difference", "points")):
        v = s[key]
        if v["mean"] is None:
            lines.append(f"  {label}: no face compared")
            continue
        lines.append(f"  {label}: mean {v['mean']:.4f}, p99 {v['p99']:.4f}, max {v['max']:.4f} {unit}; "
                     f"{100 * v['within_goal']:.1f}% of faces within {v['goal']:g}")
    lines.append("PASS" if report.passed() else "FAIL: outside the parity goals")
    return "\n".join(lines)


def cmd_parity(path: Path, model: Path, *, limit: int | None, threads: int, as_json: bool,
               out: TextIO = sys.stdout) -> int:
    if not path.exists():
        from core.errors import ConfigError

        raise ConfigError(f"{path} does not exist; give a folder of photos or a video file.")
    report = run_parity(path, model, limit=limit, threads=threads)
    if as_json:
        print(json.dumps({"path": str(path), **report.summary(), "passed": report.passed()}), file=out)
    else:
        print(format_report(path, report), file=out)
    return 0 if report.passed() else 1

