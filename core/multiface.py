"""Several faces for the price of one: run MediaPipe's face detector for newcomers only now and then.

MediaPipe's Face Landmarker in VIDEO mode skips its face detector only while it tracks
`num_faces` faces; with fewer, it detects on every frame. A group-mode landmarker made with
`num_faces=4` would therefore pay for detection on every frame whenever fewer than four people
stand there, which is nearly always. Instead this keeps one VIDEO-mode landmarker per face
count (made when first needed) and tracks with the one whose `num_faces` equals the number of
faces tracked now, so the detector stays off, and every `search_ms` runs the landmarker for one
face more on that frame: its detector looks for a newcomer, and when it finds one, tracking
moves to it (its state is fresh from that very frame); when a newcomer was found, the next
frame searches again, so a group that walks up together is picked up within a few frames.
When someone leaves, tracking moves down to the landmarker for the faces still there; if that
one's memory of faces is stale and it comes back with fewer faces than expected, the same frame
is run once more (its detector then runs) so no frame loses a face; likewise a search whose
landmarker comes back with fewer faces than were tracked falls back, on the same frame, to the
landmarker that tracked them.

Same interface as `core.landmarker.Landmarker`.
"""

from __future__ import annotations

from pathlib import Path
from typing import Callable

import numpy as np

from core.landmarker import Landmarker
from core.tracking import dedupe
from core.types import FaceObservation


class NewcomerSearchLandmarker:
    def __init__(self, model_path: Path | None = None, max_faces: int = 4, *, search_ms: float = 500.0,
                 make: Callable[[int], Landmarker] | None = None) -> None:
        if make is None:
            if model_path is None:
                raise ValueError("give a model path or a landmarker factory")
            from core.landmarker import MediapipeLandmarker

            def make(n: int) -> Landmarker:
                return MediapipeLandmarker(model_path, max_faces=n)
        self._make = make
        self.max_faces = max_faces
        self.search_ms = search_ms
        self._tasks: dict[int, Landmarker] = {}
        self._tracking = 0               # faces tracked after the last call
        self._task_count = 1             # the landmarker used for tracking
        self._last_search = -1e18
        self.searches = 0
        self.reruns = 0
        self.version = ""

    def _task(self, n: int) -> Landmarker:
        task = self._tasks.get(n)
        if task is None:
            task = self._tasks[n] = self._make(n)
            self.version = getattr(task, "version", self.version)
        return task

    def detect(self, rgb: np.ndarray, t_ms: float) -> list[FaceObservation]:
        k = self._tracking
        searching = 1 <= k < self.max_faces and t_ms - self._last_search >= self.search_ms
        n = k + 1 if searching else max(1, k)
        switched = n != self._task_count and not searching
        faces = dedupe(self._task(n).detect(rgb, t_ms))
        # A landmarker not used for a while may track faces from its last use, gone now, and miss
        # the ones standing there (its detector runs only on its next call): when it comes back
        # with fewer faces than tracked, the same frame is run again (the wrapper nudges the time
        # stamp): by it after a switch, by the landmarker tracking them on the last frame after a search.
        if switched and len(faces) < n:
            self.reruns += 1
            faces = dedupe(self._task(n).detect(rgb, t_ms))
        elif searching and len(faces) < k:
            self.reruns += 1
            faces = dedupe(self._task(self._task_count).detect(rgb, t_ms))
            n = self._task_count
        if searching:
            self.searches += 1
            found = len(faces) > k
            self._last_search = -1e18 if found else t_ms  # found someone: look again next frame
        self._task_count = n
        self._tracking = min(len(faces), self.max_faces)
        return faces

    @property
    def open_landmarkers(self) -> int:
        return len(self._tasks)

    def close(self) -> None:
        tasks, self._tasks = self._tasks, {}
        for task in tasks.values():
            task.close()

    def __enter__(self) -> "NewcomerSearchLandmarker":
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
