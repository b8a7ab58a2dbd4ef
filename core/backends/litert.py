"""The Face Landmarker's three models run directly on LiteRT (`ai-edge-litert`).

Why: LiteRT publishes wheels that run on every Raspberry Pi (mediapipe 1.x dies with SIGILL on a
Pi 4), opens no network connection, needs no EGL, and takes a thread count. The models are read
from the verified `face_landmarker.task` in memory; what MediaPipe does around them is in
`core.backends.facemesh` (pre/post-processing), `core.backends.geometry` (the head-pose matrix)
and `core.backends.smoothing` (single-face video smoothing), so the observations match the
mediapipe backend's.

Tracking: each face is followed on its own rectangle, made from its landmarks on the previous
call; the detector runs only to find faces: on every call while nobody is tracked, and, while
fewer than `max_faces` are, every `search_ms` and at once when something moves away from the
tracked faces (in a still, on every call). A face lost while
tracked is looked for again by the detector on the same frame, so no frame is lost to it.
"""

from __future__ import annotations

import io
import logging
import zipfile
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from core.backends import facemesh as fm
from core.backends.geometry import parse_metadata, pose_matrix
from core.backends.smoothing import LandmarkSmoother
from core.errors import ModelError
from core.landmarker import box_of, check_frame
from core.motion import MOVED_BY, NEWCOMER_CORE, THUMB, blob_pixels, thumbnail
from core.mouth_patch import mouth_patch
from core.types import FaceObservation

log = logging.getLogger(__name__)

MEMBERS = ("face_detector.tflite", "face_landmarks_detector.tflite", "face_blendshapes.tflite",
           "geometry_pipeline_metadata_landmarks.binarypb")
DUPLICATE_IOU = 0.5  # a detection overlapping a tracked face this much is that face
TIGHT_CROP_BORDER = 1.8  # the detector's view of a still where it found nobody, as a share of the photo


def litert_version() -> str:
    try:
        from importlib.metadata import version

        return version("ai-edge-litert")
    except Exception:  # metadata missing: still usable, just unnamed
        return "?"


def read_bundle(model_path: Path) -> dict[str, bytes]:
    """The bundle's members, read once into memory (the path was verified by the caller)."""
    try:
        with zipfile.ZipFile(io.BytesIO(Path(model_path).read_bytes())) as z:
            return {name: z.read(name) for name in MEMBERS}
    except (OSError, zipfile.BadZipFile, KeyError) as exc:
        raise ModelError(f"{model_path} is not a complete Face Landmarker bundle ({exc}); "
                         f"run `smile-mirror model fetch` to replace it.") from None


class _Model:
    """One LiteRT interpreter with its input and output tensor indices."""

    def __init__(self, content: bytes, threads: int, name: str) -> None:
        from ai_edge_litert.interpreter import Interpreter

        try:
            self.it = Interpreter(model_content=content, num_threads=threads)
            self.it.allocate_tensors()
        except (RuntimeError, ValueError) as exc:
            raise ModelError(f"LiteRT could not load {name} ({str(exc).splitlines()[0]}); "
                             f"run `smile-mirror model fetch` to replace the model.") from None
        self.input = self.it.get_input_details()[0]["index"]
        self.outputs = {d["name"]: d["index"] for d in self.it.get_output_details()}
        self.output_order = [d["index"] for d in self.it.get_output_details()]

    def run(self, x: np.ndarray) -> list[np.ndarray]:
        self.it.set_tensor(self.input, x)
        self.it.invoke()
        return [self.it.get_tensor(i) for i in self.output_order]


@dataclass
class _Track:
    roi: fm.Roi
    smoother: LandmarkSmoother


class LiteRTLandmarker:
    """Detection, per-face tracking, landmarks, blendshapes and head pose on LiteRT.

    Same interface as `core.landmarker.Landmarker`. `detector_runs` counts detector calls.
    """

    backend = "litert"

    def __init__(self, model_path: Path, max_faces: int = 1, *, min_confidence: float = 0.5,
                 still: bool = False, threads: int = 1, search_ms: float = 500.0, smooth: bool | None = None) -> None:
        try:
            import ai_edge_litert.interpreter  # noqa: F401
        except ImportError as exc:
            raise ModelError(f"ai-edge-litert cannot be imported ({exc}); install the project as the README "
                             f"says, or set model.backend = \"mediapipe\".") from None
        files = read_bundle(model_path)
        self._detector = _Model(files[MEMBERS[0]], threads, MEMBERS[0])
        self._mesh = _Model(files[MEMBERS[1]], threads, MEMBERS[1])
        # With a second thread, the small blendshape model runs on it, single-threaded, while this
        # one works out the head pose and the mouth patch (LiteRT lets go of the GIL in invoke):
        # about 1 ms of a tracked frame's wall time, where splitting that model itself gains little;
        # and, where the crop comes from the maps (an OpenCV without the classic warp), it cuts
        # half of it.
        self._beside = ThreadPoolExecutor(1, thread_name_prefix="litert-blend") if threads > 1 else None
        self._blend = _Model(files[MEMBERS[2]], 1 if self._beside else threads, MEMBERS[2])
        self._mesh_buffer = np.empty((1, fm.LANDMARKS_SIZE, fm.LANDMARKS_SIZE, 3), np.float32)
        self._geometry = parse_metadata(files[MEMBERS[3]])
        mesh_out = {tuple(self._mesh.it.get_tensor(i).shape): n for n, i in enumerate(self._mesh.output_order)}
        self._mesh_points = mesh_out[(1, 1, 1, 1434)]
        self._mesh_flag = mesh_out[(1, 1, 1, 1)]
        det_out = {tuple(self._detector.it.get_tensor(i).shape): n for n, i in enumerate(self._detector.output_order)}
        self._det_boxes, self._det_scores = det_out[(1, 896, 16)], det_out[(1, 896, 1)]
        self.max_faces = max_faces
        self.min_confidence = min_confidence
        self.still = still
        self.threads = threads
        self.search_ms = search_ms
        # MediaPipe smooths landmarks only for a single face in video; we smooth each tracked face.
        self.smooth = (not still) if smooth is None else smooth
        self._tracks: list[_Track] = []
        self._last_search = -1e18
        self._last_t: float | None = None
        self._closed = False
        self.detector_runs = 0
        self.motion_searches = 0
        self._thumb: np.ndarray | None = None
        self.version = f"litert {litert_version()}"
        log.info("Face Landmarker loaded (LiteRT %s, %d thread%s, %s, up to %d faces)", litert_version(), threads,
                 "" if threads == 1 else "s", model_path, max_faces)

    # -- the three models --------------------------------------------------------------------
    def detect_faces(self, rgb: np.ndarray, window: tuple[int, int, int, int] | None = None,
                     border: float = 1.0) -> list[fm.Detection]:
        """Detector hits in image pixels (on the frame, or a window of it), best first."""
        h, w = rgb.shape[:2]
        roi = fm.letterbox_roi(w, h, window, border)
        out = self._detector.run(fm.detector_input(rgb, roi))
        self.detector_runs += 1
        return fm.decode_detections(out[self._det_boxes], out[self._det_scores], roi, self.min_confidence,
                                    self.max_faces)

    def _mesh_input(self, rgb: np.ndarray, roi: fm.Roi) -> np.ndarray:
        """The landmark model's input; with a second thread, each thread cuts half of the crop
        through the maps (OpenCV and numpy let go of the GIL), where one alone would leave a core
        idle. OpenCV's own classic warp needs no help."""
        if self._beside is None or fm.opencv_warps_in_fixed_point():
            return fm.landmarks_input(rgb, roi)
        half = fm.LANDMARKS_SIZE // 2
        lower = self._beside.submit(fm.landmarks_input_rows, rgb, roi, (half, fm.LANDMARKS_SIZE),
                                    self._mesh_buffer[0, half:])
        fm.landmarks_input_rows(rgb, roi, (0, half), self._mesh_buffer[0, :half])
        lower.result()
        return self._mesh_buffer

    def _landmarks(self, rgb: np.ndarray, roi: fm.Roi) -> np.ndarray | None:
        h, w = rgb.shape[:2]
        out = self._mesh.run(self._mesh_input(rgb, roi))
        if fm.sigmoid(out[self._mesh_flag].reshape(-1)[0]) <= self.min_confidence:
            return None
        return fm.project_landmarks(out[self._mesh_points], roi, w, h)

    def _observe(self, landmarks: np.ndarray, t_ms: float, rgb: np.ndarray) -> FaceObservation:
        """One face's observation, with its mouth patch cut from the frame (the score reads it)."""
        h, w = rgb.shape[:2]
        x = fm.blendshapes_input(landmarks, w, h)
        running = self._beside.submit(self._blend.run, x) if self._beside is not None else None
        pose = pose_matrix(self._geometry, landmarks, w, h)
        mouth = mouth_patch(rgb, landmarks)
        scores = (running.result() if running is not None else self._blend.run(x))[0].reshape(-1)
        blend = {name: float(v) for name, v in zip(fm.BLENDSHAPE_NAMES, scores)}
        return FaceObservation(t_ms=t_ms, landmarks=landmarks, blendshapes=blend, box=box_of(landmarks),
                               image_size=(w, h), transform=pose, mouth=mouth)

    # -- the Landmarker interface ------------------------------------------------------------
    def detect(self, rgb: np.ndarray, t_ms: float) -> list[FaceObservation]:
        if self._closed:
            raise RuntimeError("landmarker is closed")
        rgb = np.ascontiguousarray(check_frame(rgb))
        h, w = rgb.shape[:2]
        if self.still:
            self._tracks = []
        # the smoother's clock: whole, strictly increasing milliseconds, as mediapipe's VIDEO mode has
        t_ms_filter = float(int(t_ms)) if self._last_t is None else max(float(int(t_ms)), self._last_t + 1.0)
        self._last_t = t_ms_filter
        found: list[tuple[_Track, np.ndarray]] = []
        lost = False
        for track in self._tracks:
            pts = self._landmarks(rgb, track.roi)
            if pts is None:
                lost = True
                continue
            found.append((track, pts))
        found = self._dedupe(found, w, h)
        moved = self._moved_elsewhere(rgb, found) if len(found) < self.max_faces and not self.still else False
        search = (self.still or not found or lost or moved
                  or (len(found) < self.max_faces and t_ms - self._last_search >= self.search_ms))
        if search and len(found) < self.max_faces:
            self._last_search = t_ms
            tracked = [fm.roi_from_landmarks(p, w, h) for _, p in found]
            detections = self.detect_faces(rgb)
            if not detections and not found and self.still:
                # A face that fills the photo (a tight crop) is too big for the detector's anchors:
                # look again with a margin around the photo.
                detections = self.detect_faces(rgb, border=TIGHT_CROP_BORDER)
            for det in detections:
                if len(found) >= self.max_faces:
                    break
                if tracked and fm.iou(np.array(det.box), np.array([r.box() for r in tracked])).max() > DUPLICATE_IOU:
                    continue
                roi = fm.roi_from_detection(det)
                pts = self._landmarks(rgb, roi)
                if pts is None:
                    continue
                track = _Track(roi, LandmarkSmoother())
                found.append((track, pts))
                tracked.append(fm.roi_from_landmarks(pts, w, h))
            found = self._dedupe(found, w, h)
        out, tracks = [], []
        for track, pts in found:
            track.roi = fm.roi_from_landmarks(pts, w, h)  # from the raw landmarks, as MediaPipe does
            if self.smooth:
                scale = np.array([w, h, w], dtype=np.float32)
                pts = track.smoother.apply(pts * scale, t_ms_filter) / scale
            tracks.append(track)
            out.append(self._observe(pts.astype(np.float32), float(t_ms), rgb))
        self._tracks = [] if self.still else tracks
        order = sorted(range(len(out)), key=lambda i: -(out[i].box[2] - out[i].box[0]) * (out[i].box[3] - out[i].box[1]))
        return [out[i] for i in order]

    def _moved_elsewhere(self, rgb: np.ndarray, found: list[tuple[_Track, np.ndarray]]) -> bool:
        """Something changed since the last call away from every tracked face (a newcomer)."""
        thumb, before = thumbnail(rgb), self._thumb
        self._thumb = thumb
        if before is None or before.shape != thumb.shape:
            return False
        changed = np.abs(thumb - before) >= MOVED_BY
        for _, pts in found:  # a tracked face moving is no newcomer: mask it out, with a margin
            x0, y0, x1, y1 = box_of(pts)
            mx, my = 0.25 * (x1 - x0), 0.25 * (y1 - y0)
            c0, c1 = int(max(0.0, x0 - mx) * THUMB[0]), int(min(1.0, x1 + mx) * THUMB[0]) + 1
            r0, r1 = int(max(0.0, y0 - my) * THUMB[1]), int(min(1.0, y1 + my) * THUMB[1]) + 1
            changed[r0:r1, c0:c1] = False
        moved = blob_pixels(changed) >= NEWCOMER_CORE
        self.motion_searches += int(moved)
        return moved

    @staticmethod
    def _dedupe(found: list[tuple[_Track, np.ndarray]], w: int, h: int) -> list[tuple[_Track, np.ndarray]]:
        """Two tracks that converged on one face become one (the earlier keeps it)."""
        kept: list[tuple[_Track, np.ndarray]] = []
        boxes: list[tuple[float, float, float, float]] = []
        for track, pts in found:
            b = box_of(pts)
            if boxes and fm.iou(np.array(b), np.array(boxes)).max() > DUPLICATE_IOU:
                continue
            kept.append((track, pts))
            boxes.append(b)
        return kept

    def close(self) -> None:
        self._closed = True
        self._tracks = []
        if self._beside is not None:
            self._beside.shutdown(wait=True)

    def __enter__(self) -> "LiteRTLandmarker":
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
