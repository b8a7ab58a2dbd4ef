"""The Face Landmarker seam: MediaPipe in, plain `FaceObservation`s out.

Nothing above this module imports mediapipe. Two implementations share one small interface:
`MediapipeLandmarker` (the real model, VIDEO mode, monotonic milliseconds, closed explicitly
because mediapipe 1.2's `__del__` raises at interpreter exit) and `ReplayLandmarker` (plays
back recorded observations so kiosk tests run without the model). Each observation carries
the grey mouth patch (`core.mouth_patch`) cut from the frame it came from: the one place where
both the pixels and the landmarks are at hand. Any other backend does the same.
"""

from __future__ import annotations

import json
import logging
from pathlib import Path
from typing import Iterable, Protocol, Sequence

import numpy as np

from core.errors import FrameError, ModelError
from core.mouth_patch import mouth_patch
from core.types import FaceObservation

log = logging.getLogger(__name__)


class Landmarker(Protocol):
    def detect(self, rgb: np.ndarray, t_ms: float) -> list[FaceObservation]: ...
    def close(self) -> None: ...


def check_frame(rgb: object) -> np.ndarray:
    """Accept only HxWx3 uint8 images of a sane size; anything else is a FrameError."""
    if not isinstance(rgb, np.ndarray):
        raise FrameError(f"frame is a {type(rgb).__name__}, not an image array")
    if rgb.dtype != np.uint8:
        raise FrameError(f"frame dtype is {rgb.dtype}, expected uint8")
    if rgb.ndim != 3 or rgb.shape[2] != 3:
        raise FrameError(f"frame shape is {rgb.shape}, expected height x width x 3")
    if not (16 <= rgb.shape[0] <= 8192 and 16 <= rgb.shape[1] <= 8192):
        raise FrameError(f"frame size {rgb.shape[1]}x{rgb.shape[0]} is out of range")
    return rgb


class MediapipeLandmarker:
    """MediaPipe's FaceLandmarker in VIDEO mode, with blendshapes and head-pose matrices.

    VIDEO mode tracks the face between calls (the detector runs only when tracking is lost),
    which is what makes frame-to-frame inference cheap. Timestamps must increase strictly; a
    repeated or older one is nudged forward by 1 ms rather than failing the frame.
    """

    backend = "mediapipe"

    def __init__(self, model_path: Path, max_faces: int = 1, *, min_confidence: float = 0.5,
                 still: bool = False) -> None:
        from core.armcpu import mediapipe_blocker

        why = mediapipe_blocker()
        if why:  # before the import: on such a CPU it is a SIGILL, not an exception
            raise ModelError(why)
        try:
            from mediapipe.tasks.python import vision
            from mediapipe.tasks.python.core import base_options
        except ImportError as exc:  # pragma: no cover - install problem
            raise ModelError(f"mediapipe cannot be imported ({exc}); install the project as the README says.") from None
        import mediapipe as mp

        self._mp = mp
        options = vision.FaceLandmarkerOptions(
            base_options=base_options.BaseOptions(model_asset_path=str(model_path)),
            # IMAGE mode for independent stills (no tracking carried from one photo to the next)
            running_mode=vision.RunningMode.IMAGE if still else vision.RunningMode.VIDEO,
            num_faces=max_faces,
            min_face_detection_confidence=min_confidence,
            min_face_presence_confidence=min_confidence,
            min_tracking_confidence=min_confidence,
            output_face_blendshapes=True,
            output_facial_transformation_matrixes=True,
        )
        try:
            self._task = vision.FaceLandmarker.create_from_options(options)
        except (RuntimeError, ValueError) as exc:
            raise ModelError(
                f"MediaPipe could not load the model {model_path} ({str(exc).splitlines()[0]}); "
                f"run `smile-mirror model fetch` to replace it.") from None
        self._last_ts = -1
        self.still = still
        self.version = getattr(mp, "__version__", "?")
        log.info("Face Landmarker loaded (mediapipe %s, %s, up to %d faces)", self.version, model_path, max_faces)

    def detect(self, rgb: np.ndarray, t_ms: float) -> list[FaceObservation]:
        if self._task is None:
            raise RuntimeError("landmarker is closed")
        rgb = np.ascontiguousarray(check_frame(rgb))
        ts = max(int(t_ms), self._last_ts + 1)
        self._last_ts = ts
        image = self._mp.Image(image_format=self._mp.ImageFormat.SRGB, data=rgb)
        result = self._task.detect(image) if self.still else self._task.detect_for_video(image, ts)
        h, w = rgb.shape[:2]
        return observations_from_result(result, float(t_ms), (w, h), rgb)

    def close(self) -> None:
        task, self._task = self._task, None
        if task is not None:
            task.close()

    def __enter__(self) -> "MediapipeLandmarker":
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def observations_from_result(result: object, t_ms: float, size: tuple[int, int],
                             rgb: np.ndarray | None = None) -> list[FaceObservation]:
    """Convert a FaceLandmarkerResult to plain observations (one per face, largest first), each
    with its mouth patch cut from `rgb` (the frame the result came from) when it is given."""
    out = []
    matrices = list(getattr(result, "facial_transformation_matrixes", None) or [])
    shapes = list(getattr(result, "face_blendshapes", None) or [])
    for i, face in enumerate(result.face_landmarks):  # type: ignore[attr-defined]
        pts = np.array([(p.x, p.y, p.z) for p in face], dtype=np.float32)
        blend = {c.category_name: float(c.score) for c in shapes[i]} if i < len(shapes) else {}
        mat = np.asarray(matrices[i], dtype=np.float32) if i < len(matrices) else None
        out.append(FaceObservation(t_ms=t_ms, landmarks=pts, blendshapes=blend,
                                   box=box_of(pts), image_size=size, transform=mat,
                                   mouth=None if rgb is None else mouth_patch(rgb, pts)))
    out.sort(key=lambda o: -(o.box[2] - o.box[0]) * (o.box[3] - o.box[1]))
    return out


def box_of(landmarks: np.ndarray) -> tuple[float, float, float, float]:
    x, y = landmarks[:, 0], landmarks[:, 1]
    return float(x.min()), float(y.min()), float(x.max()), float(y.max())


# ---- recording and replay -------------------------------------------------------------------

def observation_to_json(obs: FaceObservation) -> dict:
    return {
        "t_ms": obs.t_ms,
        "image_size": list(obs.image_size),
        "landmarks": np.round(obs.landmarks, 5).tolist(),
        "blendshapes": {k: round(v, 5) for k, v in obs.blendshapes.items()},
        "transform": None if obs.transform is None else np.round(obs.transform, 5).tolist(),
        "mouth": None if obs.mouth is None else obs.mouth.tolist(),
    }


def observation_from_json(data: dict) -> FaceObservation:
    pts = np.asarray(data["landmarks"], dtype=np.float32)
    mat, mouth = data.get("transform"), data.get("mouth")  # recordings from before the patch have none
    return FaceObservation(t_ms=float(data["t_ms"]), landmarks=pts, blendshapes=dict(data["blendshapes"]),
                           box=box_of(pts), image_size=tuple(data["image_size"]),  # type: ignore[arg-type]
                           transform=None if mat is None else np.asarray(mat, dtype=np.float32),
                           mouth=None if mouth is None else np.asarray(mouth, dtype=np.uint8))


class RecordingLandmarker:
    """Wraps a landmarker and keeps what it returned, for writing a replay file."""

    def __init__(self, inner: Landmarker) -> None:
        self.inner = inner
        self.frames: list[list[FaceObservation]] = []

    def detect(self, rgb: np.ndarray, t_ms: float) -> list[FaceObservation]:
        faces = self.inner.detect(rgb, t_ms)
        self.frames.append(faces)
        return faces

    def save(self, path: Path) -> None:
        with open(path, "w", encoding="utf-8") as fh:
            for faces in self.frames:
                fh.write(json.dumps([observation_to_json(o) for o in faces]) + "\n")

    def close(self) -> None:
        self.inner.close()


class ReplayLandmarker:
    """Plays recorded observations back in order, one list per call, ignoring the pixels.

    The recorded times are replaced by the caller's `t_ms`, so replays drive the same timing
    logic as the live model. Loops when it runs out.
    """

    def __init__(self, frames: Sequence[Sequence[FaceObservation]]) -> None:
        if not frames:
            raise ValueError("a replay needs at least one recorded frame")
        self._frames = [list(f) for f in frames]
        self._i = 0
        self.calls = 0

    @classmethod
    def from_file(cls, path: Path) -> "ReplayLandmarker":
        with open(path, encoding="utf-8") as fh:
            return cls([[observation_from_json(o) for o in json.loads(line)] for line in fh if line.strip()])

    @classmethod
    def constant(cls, faces: Iterable[FaceObservation]) -> "ReplayLandmarker":
        return cls([list(faces)])

    def detect(self, rgb: np.ndarray, t_ms: float) -> list[FaceObservation]:
        check_frame(rgb)
        faces = self._frames[self._i % len(self._frames)]
        self._i += 1
        self.calls += 1
        return [FaceObservation(t_ms=t_ms, landmarks=o.landmarks, blendshapes=o.blendshapes, box=o.box,
                                image_size=o.image_size, transform=o.transform, mouth=o.mouth) for o in faces]

    def close(self) -> None:
        pass
