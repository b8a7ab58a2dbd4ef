"""The faces the contagion experiment shows: drawn by the program, or a venue's own clips.

A stimulus is a short animation that starts neutral and turns into a smile; `frame(t_ms)`
gives the picture at `t_ms` into it and whether that picture already smiles (the first one
that does is the onset, timed at the display flip).

The drawn face comes in two versions with an identical mouth movement (about 0.4 s onset):
"duchenne", whose cheeks rise, lower lids rise, eyes narrow and crow's feet appear as it
smiles (the orbicularis oculi), and "mouth-only", whose eyes do not move. It is drawn with
OpenCV at any size, so it is sharp on any screen and needs no file.

A venue may supply its own clips instead: a folder with short videos and `labels.csv`
(`file,kind,onset_frame`: the clip, its kind such as duchenne or mouth-only, and the first
frame in which the face smiles), checked when the mirror starts.
"""

from __future__ import annotations

import csv
import functools
import logging
import math
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

import cv2
import numpy as np

from core.errors import ConfigError

log = logging.getLogger(__name__)

DUCHENNE, MOUTH_ONLY = "duchenne", "mouth-only"
KINDS = (DUCHENNE, MOUTH_ONLY)
LABELS = "labels.csv"


class Stimulus(Protocol):
    kind: str
    duration_ms: float
    smile_at_ms: float   # when the first smiling frame is due, into the animation

    def frame(self, t_ms: float) -> tuple[np.ndarray, bool, int]:
        """(RGB picture, smiling yet?, frame number) at `t_ms` into the animation."""


# ---- the drawn face ------------------------------------------------------------------------------

SKIN = (236, 196, 166)
SHADOW = (200, 150, 122)
LINE = (120, 72, 58)


def smoothstep(x: float) -> float:
    x = min(max(x, 0.0), 1.0)
    return x * x * (3 - 2 * x)


@functools.lru_cache(maxsize=96)
def draw_face(size: int, smile: float, eyes: float) -> np.ndarray:
    """A face `size` pixels square: `smile` 0-1 moves the mouth, `eyes` 0-1 the orbicularis
    oculi (cheeks up, lower lids up, upper lids a little down, crow's feet)."""
    s = 2 * size  # drawn at twice the size, then reduced: smooth edges
    img = np.full((s, s, 3), (38, 44, 56), np.uint8)

    def p(x: float, y: float) -> tuple[int, int]:
        return round(x * s), round(y * s)

    def r(v: float) -> int:
        return max(1, round(v * s))

    aa = cv2.LINE_AA
    cv2.ellipse(img, p(0.5, 0.36), (r(0.33), r(0.30)), 0, 180, 360, (70, 48, 40), -1, aa)  # hair
    cv2.ellipse(img, p(0.5, 0.52), (r(0.30), r(0.40)), 0, 0, 360, SKIN, -1, aa)            # face
    for x in (0.19, 0.81):                                                                   # ears
        cv2.ellipse(img, p(x, 0.53), (r(0.035), r(0.07)), 0, 0, 360, SHADOW, -1, aa)
    cv2.ellipse(img, p(0.5, 0.22), (r(0.30), r(0.12)), 0, 180, 360, (70, 48, 40), -1, aa)
    # cheeks: a soft rounded lift under each eye that rises and fills with the eyes
    band = slice(round(0.45 * s), round(0.7 * s))  # blend only the rows the cheeks are in
    layer = img[band].copy()
    for x in (0.36, 0.64):
        cx, cy = p(x, 0.58 - 0.04 * eyes)
        cv2.ellipse(layer, (cx, cy - band.start), (r(0.075), r(0.05)), 0, 0, 360, (230, 160, 140), -1, aa)
    img[band] = cv2.addWeighted(layer, 0.35 + 0.35 * eyes, img[band], 0.65 - 0.35 * eyes, 0)
    feet = []  # crow's feet, drawn together at the end
    for side, x in ((-1, 0.37), (1, 0.63)):
        cx, cy = x, 0.46
        ew, eh = 0.065, 0.032
        upper = eh * (1.0 - 0.25 * eyes)           # the upper lid comes down a little
        lower = eh * (1.0 - 0.75 * eyes)           # the lower lid rises
        cv2.ellipse(img, p(cx, cy), (r(ew), r(upper)), 0, 180, 360, (250, 250, 250), -1, aa)
        cv2.ellipse(img, p(cx, cy), (r(ew), r(max(lower, 0.004))), 0, 0, 180, (250, 250, 250), -1, aa)
        cv2.circle(img, p(cx, cy - 0.002), r(0.022), (92, 64, 44), -1, aa)
        cv2.circle(img, p(cx, cy - 0.002), r(0.01), (20, 16, 14), -1, aa)
        # the lids over the eyeball, then their lines
        cv2.ellipse(img, p(cx, cy - upper - 0.03), (r(ew * 1.05), r(0.03)), 0, 0, 360, SKIN, -1, aa)
        cv2.ellipse(img, p(cx, cy + lower + 0.03), (r(ew * 1.05), r(0.03)), 0, 0, 360, SKIN, -1, aa)
        cv2.ellipse(img, p(cx, cy), (r(ew), r(upper)), 0, 180, 360, LINE, r(0.006), aa)
        cv2.ellipse(img, p(cx, cy), (r(ew), r(max(lower, 0.004))), 0, 0, 180, SHADOW, r(0.004), aa)
        # the lower-lid bulge and the cheek line under it
        if eyes > 0:
            cv2.ellipse(img, p(cx, cy + lower + 0.012), (r(ew * 0.9), r(0.012 + 0.008 * eyes)), 0, 10, 170,
                        SHADOW, r(0.004), aa)
        # brows: they come down a touch with the eyes
        by = 0.385 + 0.012 * eyes
        cv2.ellipse(img, p(cx, by + 0.03), (r(0.075), r(0.035)), 0, 200, 340, (70, 48, 40), r(0.014), aa)
        # crow's feet at the outer corner
        if eyes > 0.05:
            ox = cx + side * (ew + 0.012)
            for dy in (-0.02, 0.0, 0.02):
                length = 0.03 * eyes
                a = math.radians(dy * 900)
                feet.append((p(ox, cy + dy * 0.6), p(ox + side * length * math.cos(a), cy + dy + length * math.sin(a) * 0.6)))
    if feet:
        band = slice(round(0.38 * s), round(0.54 * s))
        layer = img[band].copy()
        for (x0, y0), (x1, y1) in feet:
            cv2.line(layer, (x0, y0 - band.start), (x1, y1 - band.start), LINE, r(0.004), aa)
        img[band] = cv2.addWeighted(layer, min(1.0, eyes), img[band], 1 - min(1.0, eyes), 0)
    # nose
    cv2.line(img, p(0.5, 0.48), p(0.485, 0.6), SHADOW, r(0.007), aa)
    cv2.ellipse(img, p(0.5, 0.615), (r(0.04), r(0.018)), 0, 0, 180, SHADOW, r(0.007), aa)
    # nasolabial folds deepen with the smile (a mouth movement: both versions have them)
    for side in (-1, 1):
        cv2.ellipse(img, p(0.5 + side * 0.085, 0.66), (r(0.03), r(0.06)), 0, 90 - side * 60, 90 + side * 10,
                    SHADOW, r(0.004 + 0.004 * smile), aa)
    # the mouth: corners out and up, the lips part to show the teeth
    width = 0.085 + 0.04 * smile
    lift = 0.035 * smile
    cy = 0.735
    left, right = (0.5 - width, cy - lift), (0.5 + width, cy - lift)
    upper_mid = (0.5, cy - 0.006 + 0.004 * smile)
    lower_mid = (0.5, cy + 0.012 + 0.05 * smile)
    curve_top = _bezier(left, upper_mid, right, 24)
    curve_bottom = _bezier(right, lower_mid, left, 24)
    mouth = np.array([p(x, y) for x, y in curve_top + curve_bottom], np.int32)
    cv2.fillPoly(img, [mouth], (120, 40, 46), aa)
    if smile > 0.15:  # teeth along the upper lip
        teeth = _bezier(left, (0.5, cy + 0.012 + 0.012 * smile), right, 24)
        tpoly = np.array([p(x, y) for x, y in curve_top + teeth[::-1]], np.int32)
        cv2.fillPoly(img, [tpoly], (246, 244, 238), aa)
    lip = (196, 96, 100)
    cv2.polylines(img, [np.array([p(x, y - 0.008) for x, y in curve_top], np.int32)], False, lip, r(0.012), aa)
    cv2.polylines(img, [np.array([p(x, y + 0.01) for x, y in curve_bottom], np.int32)], False, lip, r(0.016), aa)
    return cv2.resize(img, (size, size), interpolation=cv2.INTER_AREA)


def _bezier(a, c, b, n: int) -> list[tuple[float, float]]:
    return [((1 - t) ** 2 * a[0] + 2 * (1 - t) * t * c[0] + t * t * b[0],
             (1 - t) ** 2 * a[1] + 2 * (1 - t) * t * c[1] + t * t * b[1]) for t in np.linspace(0, 1, n)]


@dataclass(frozen=True, slots=True)
class DrawnFace:
    """The program's own stimulus: neutral for `lead_ms`, a smile over `onset_ms`, then held."""

    kind: str
    size: int = 720
    lead_ms: float = 700.0
    onset_ms: float = 400.0
    duration_ms: float = 3500.0
    fps: float = 60.0           # the animation's own steps (the display shows the newest one)

    def amount(self, t_ms: float) -> float:
        return smoothstep((t_ms - self.lead_ms) / self.onset_ms)

    @property
    def smile_at_ms(self) -> float:
        """When the first smiling frame is due, into the animation."""
        return (math.floor(self.lead_ms * self.fps / 1000.0) + 1) * 1000.0 / self.fps

    def frame(self, t_ms: float) -> tuple[np.ndarray, bool, int]:
        n = int(max(0.0, t_ms) * self.fps / 1000.0)
        s = round(self.amount(n * 1000.0 / self.fps), 2)
        eyes = s if self.kind == DUCHENNE else 0.0
        return draw_face(self.size, s, eyes), s > 0, n


# ---- a venue's own clips -----------------------------------------------------------------------------

@dataclass(frozen=True, slots=True)
class Clip:
    kind: str
    frames: tuple[np.ndarray, ...]
    onset_frame: int
    fps: float
    name: str = ""

    @property
    def duration_ms(self) -> float:
        return len(self.frames) * 1000.0 / self.fps

    @property
    def smile_at_ms(self) -> float:
        return self.onset_frame * 1000.0 / self.fps

    def frame(self, t_ms: float) -> tuple[np.ndarray, bool, int]:
        n = min(len(self.frames) - 1, int(max(0.0, t_ms) * self.fps / 1000.0))
        return self.frames[n], n >= self.onset_frame, n


def load_clips(folder: Path, *, max_height: int = 720, max_seconds: float = 10.0) -> list[Clip]:
    """The venue's clips, decoded into memory; a ConfigError that says what to fix otherwise."""
    folder = Path(folder)
    where = f"contagion.stimuli = {str(folder)!r}"
    if not folder.is_dir():
        raise ConfigError(f"{where}: no such folder; make it, or leave contagion.stimuli empty for the drawn faces.")
    labels = folder / LABELS
    if not labels.is_file():
        raise ConfigError(f"{where}: no {LABELS} in it; write one with a header 'file,kind,onset_frame' and a "
                          f"line per clip, e.g. 'smile1.mp4,duchenne,12'.")
    try:
        rows = list(csv.reader(labels.read_text(encoding="utf-8").splitlines()))
    except (OSError, UnicodeDecodeError, csv.Error) as exc:
        raise ConfigError(f"{labels}: cannot be read ({exc}).") from None
    if not rows or [c.strip() for c in rows[0]] != ["file", "kind", "onset_frame"]:
        raise ConfigError(f"{labels}: the first line must be 'file,kind,onset_frame'.")
    clips = []
    for n, row in enumerate(rows[1:], start=2):
        if not row or not "".join(row).strip():
            continue
        if len(row) != 3:
            raise ConfigError(f"{labels} line {n}: expected 3 fields (file,kind,onset_frame), found {len(row)}.")
        name, kind, onset = (c.strip() for c in row)
        if not kind:
            raise ConfigError(f"{labels} line {n}: the kind is empty; name it, e.g. duchenne or mouth-only.")
        try:
            onset_frame = int(onset)
        except ValueError:
            raise ConfigError(f"{labels} line {n}: onset_frame {onset!r} is not a whole number.") from None
        path = folder / name
        if not path.is_file() or path.resolve().parent != folder.resolve():
            raise ConfigError(f"{labels} line {n}: {name!r} is not a file in {folder}.")
        frames, fps = _decode(path, max_height, max_seconds)
        if not frames:
            raise ConfigError(f"{labels} line {n}: {name!r} has no video frames OpenCV can read.")
        if not 0 < onset_frame < len(frames):
            raise ConfigError(f"{labels} line {n}: onset_frame {onset_frame} must be after the first frame and "
                              f"before the end of {name!r} ({len(frames)} frames).")
        clips.append(Clip(kind, tuple(frames), onset_frame, fps, name))
    if not clips:
        raise ConfigError(f"{labels}: lists no clips; add a line per clip (file,kind,onset_frame).")
    kinds = sorted({c.kind for c in clips})
    log.info("contagion stimuli: %d clips from %s (%s)", len(clips), folder, ", ".join(kinds))
    return clips


def _decode(path: Path, max_height: int, max_seconds: float) -> tuple[list[np.ndarray], float]:
    cap = cv2.VideoCapture(str(path))
    try:
        fps = cap.get(cv2.CAP_PROP_FPS) or 30.0
        fps = fps if 1.0 <= fps <= 240.0 else 30.0
        frames = []
        while len(frames) < max_seconds * fps:
            ok, bgr = cap.read()
            if not ok:
                break
            h, w = bgr.shape[:2]
            if h > max_height:
                bgr = cv2.resize(bgr, (round(w * max_height / h), max_height), interpolation=cv2.INTER_AREA)
            frames.append(cv2.cvtColor(bgr, cv2.COLOR_BGR2RGB))
        return frames, fps
    finally:
        cap.release()
