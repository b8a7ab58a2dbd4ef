"""Digital zoom for faces too small for MediaPipe's face detector.

Why: the Face Landmarker's detector sees the whole frame squeezed to 128 px, so it finds a face
only when the face is at least about 12% of the frame's width. At the mirror's 640x480 capture
that is a face 77 px wide, about 1 m from a Camera Module 3. It then misses the face altogether.
The astronaut photo, pasted at different sizes, was found at 12% and missed at 10% (mediapipe
1.2.3); tests/test_zoom.py checks that it is missed at 8%. The landmark model itself works on
a crop of the face at full resolution, so its landmarks are good well below that size.

`ZoomingLandmarker` wraps a one-face landmarker and gives it a window of the frame instead:
- While a small face is tracked, the window sits around it, about three times the face's width.
  It moves only when the face nears its edge or changes size a lot, so MediaPipe's VIDEO-mode
  tracking carries on from frame to frame.
- With nobody found, calls alternate between the full frame and one half-size window. The window
  is the one nearest to whatever moved since the last call (someone walking in), else the next
  in turn, centre first. A near face is found at once, a far one that moves within a few calls,
  and a still one within one sweep (18 calls: about 4.5 s at the 4 Hz scored while nobody is
  there).
- For stills, it tries the full frame and then each window until one holds a face.

Landmarks come back in full-frame coordinates, so nothing downstream knows a window was used.
"""

from __future__ import annotations

import logging
from pathlib import Path

import numpy as np

from core.landmarker import Landmarker, box_of, check_frame
from core.motion import MOVED_BY, MOVED_MIN, THUMB, change, thumbnail
from core.types import FaceObservation

log = logging.getLogger(__name__)

Window = tuple[int, int, int, int]  # x0, y0, width, height in frame pixels

ZOOM_BELOW = 0.16   # a tracked face narrower than this share of the frame gets a window
UNZOOM_AT = 0.24    # ... and goes back to the full frame once it is this wide (hysteresis)
FACE_SHARE = 0.33   # the face's width as a share of its window's width
SHARE_RANGE = (0.22, 0.5)  # outside this the window is resized
RECENTRE_AT = 0.18  # the face centre this far (share of the window) from the window centre moves it
MIN_WINDOW = 96     # pixels: the smallest window (a face of ~32 px)


def search_windows(width: int, height: int) -> list[Window]:
    """Half-size windows, overlapping by half, covering the frame; the most central first.

    In a half-size window the detector finds faces down to about 6% of the frame's width.
    """
    w, h = width // 2, height // 2
    xs, ys = (width // 4, 0, width - w), (height // 4, 0, height - h)
    windows = {(x, y, w, h) for x in xs for y in ys}
    cx, cy = width / 2, height / 2
    # Central first; then upper before lower (faces sit in the upper half of a mirror camera's view).
    return sorted(windows, key=lambda c: (round(abs(c[0] + w / 2 - cx) / w + abs(c[1] + h / 2 - cy) / h, 3), c[1], c[0]))


def window_nearest_motion(before: np.ndarray, now: np.ndarray, windows: list[Window],
                          size: tuple[int, int]) -> Window | None:
    """The window whose centre is nearest to the middle of what changed between two thumbnails;
    None when (almost) nothing changed."""
    ys, xs = np.nonzero(change(before, now) >= MOVED_BY)
    if len(xs) < MOVED_MIN:
        return None
    cx, cy = (xs.mean() + 0.5) * size[0] / THUMB[0], (ys.mean() + 0.5) * size[1] / THUMB[1]
    return min(windows, key=lambda c: (c[0] + c[2] / 2 - cx) ** 2 + (c[1] + c[3] / 2 - cy) ** 2)


def to_frame(obs: FaceObservation, window: Window, frame_size: tuple[int, int]) -> FaceObservation:
    """An observation made on `window` of a frame, in the full frame's normalised coordinates."""
    x0, y0, cw, ch = window
    fw, fh = frame_size
    pts = obs.landmarks.astype(np.float32, copy=True)
    pts[:, 0] = (pts[:, 0] * cw + x0) / fw
    pts[:, 1] = (pts[:, 1] * ch + y0) / fh
    pts[:, 2] = pts[:, 2] * cw / fw  # z is scaled like x
    return FaceObservation(t_ms=obs.t_ms, landmarks=pts, blendshapes=obs.blendshapes, box=box_of(pts),
                           image_size=(fw, fh), transform=obs.transform,
                           mouth=obs.mouth)  # cut from the window at the frame's own resolution: the same pixels


def window_around(box: tuple[float, float, float, float], frame_size: tuple[int, int]) -> Window:
    """A window of the frame's shape in which the face (normalised `box`) is FACE_SHARE of the width."""
    fw, fh = frame_size
    face_w = (box[2] - box[0]) * fw
    cw = int(min(fw, max(MIN_WINDOW, face_w / FACE_SHARE)))
    ch = int(min(fh, round(cw * fh / fw)))
    cx, cy = (box[0] + box[2]) / 2 * fw, (box[1] + box[3]) / 2 * fh
    x0 = int(min(max(0, round(cx - cw / 2)), fw - cw))
    y0 = int(min(max(0, round(cy - ch / 2)), fh - ch))
    return x0, y0, cw, ch


def keeps_window(box: tuple[float, float, float, float], window: Window, frame_size: tuple[int, int]) -> bool:
    """True while the face sits well inside `window` at a good size (so tracking is not disturbed)."""
    x0, y0, cw, ch = window
    fw, fh = frame_size
    share = (box[2] - box[0]) * fw / cw
    dx = abs((box[0] + box[2]) / 2 * fw - (x0 + cw / 2)) / cw
    dy = abs((box[1] + box[3]) / 2 * fh - (y0 + ch / 2)) / ch
    return SHARE_RANGE[0] <= share <= SHARE_RANGE[1] and dx <= RECENTRE_AT and dy <= RECENTRE_AT


class ZoomingLandmarker:
    """A one-face landmarker that also finds and tracks faces too small for the detector.

    Same interface as `core.landmarker.Landmarker`. `window` is the part of the frame the next
    call will look at (None: the whole frame); `zoomed` counts calls that used a window.
    """

    def __init__(self, inner: Landmarker, *, still: bool = False) -> None:
        self.inner = inner
        self.still = still
        self.window: Window | None = None
        self.zoomed = 0
        self._step = 0    # searching: even steps look at the full frame, odd ones at the next window
        self._tracking = False  # the last call found a face
        self.reruns = 0
        self._size: tuple[int, int] | None = None
        self._thumb: np.ndarray | None = None  # the last frame searched, for motion
        self._moved: Window | None = None  # the window nearest to motion not yet looked at
        self.version = getattr(inner, "version", "")

    def _run(self, rgb: np.ndarray, window: Window | None, t_ms: float) -> list[FaceObservation]:
        if window is None:
            return self.inner.detect(rgb, t_ms)
        self.zoomed += 1
        x0, y0, cw, ch = window
        faces = self.inner.detect(np.ascontiguousarray(rgb[y0:y0 + ch, x0:x0 + cw]), t_ms)
        h, w = rgb.shape[:2]
        return [to_frame(o, window, (w, h)) for o in faces]

    def detect(self, rgb: np.ndarray, t_ms: float) -> list[FaceObservation]:
        rgb = check_frame(rgb)
        h, w = rgb.shape[:2]
        if self._size != (w, h):  # a new camera mode: windows made for the old size no longer fit
            self._size, self.window, self._step, self._thumb, self._moved = (w, h), None, 0, None, None
        if self.still:
            return self._detect_still(rgb, t_ms)
        faces = self._run(rgb, self.window, t_ms)
        if not faces and self._tracking:
            # Tracking lost (or the window just moved): MediaPipe runs its detector only on the
            # next call, so make that call now, on the same frame, rather than lose a frame.
            self.reruns += 1
            faces = self._run(rgb, self.window, t_ms)
        if faces:
            self._tracking, self._step = True, 0
            self._follow(faces[0], (w, h))
        else:
            self._step = 0 if self._tracking else self._step + 1
            self._tracking = False
            windows = search_windows(w, h)
            thumb, before = thumbnail(rgb), self._thumb
            self._thumb = thumb
            if before is not None:
                self._moved = window_nearest_motion(before, thumb, windows, (w, h)) or self._moved
            self.window = None
            if self._step % 2:
                self.window = self._moved or windows[(self._step // 2) % len(windows)]
                self._moved = None
        return faces

    def _follow(self, face: FaceObservation, size: tuple[int, int]) -> None:
        """Choose the window for the next frame from where the face is now."""
        share = face.box[2] - face.box[0]
        if share >= UNZOOM_AT or (self.window is None and share >= ZOOM_BELOW):
            if self.window is not None:
                log.debug("face is %.0f%% of the frame width: back to the full frame", share * 100)
            self.window = None
        elif self.window is None or not keeps_window(face.box, self.window, size):
            self.window = window_around(face.box, size)
            log.debug("small face (%.0f%% of the frame width): zoom window %s", share * 100, self.window)

    def _detect_still(self, rgb: np.ndarray, t_ms: float) -> list[FaceObservation]:
        h, w = rgb.shape[:2]
        for window in [None, *search_windows(w, h)]:
            faces = self._run(rgb, window, t_ms)
            if faces:
                return faces
        return []

    def close(self) -> None:
        self.inner.close()

    def __enter__(self) -> "ZoomingLandmarker":
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def face_landmarker(model: Path, *, max_faces: int = 1, still: bool = False, zoom: bool = True,
                    backend: str = "auto", threads: int = 1) -> Landmarker:
    """The landmarker for one face (with the zoom unless `zoom` is False) or for several (without),
    on the named backend (core.backends)."""
    from core.backends import make_landmarker

    inner = make_landmarker(model, backend=backend, max_faces=max_faces, still=still, threads=threads)
    if zoom and max_faces == 1:
        return ZoomingLandmarker(inner, still=still)
    return inner
