"""Frame sources behind one narrow seam, and the factory that picks one.

`open_source("auto")` tries the Pi camera, then a webcam, then the built-in demo, logging each
fallback (as gpiozero picks a pin factory and pibooth finds a camera). `SourceOpener` is what the
capture thread calls on start and after every failure; it settles `auto` by what it finds.
Every source returns RGB uint8 frames; channel-order quirks are fixed inside the adapter.
"""

from __future__ import annotations

import glob
import logging
import time
from pathlib import Path
from typing import Any

from core.errors import SourceError
from core.sources.base import FrameSource, fit_within
from core.sources.demo import DemoSource
from core.sources.files import ImageFilesSource, VideoFileSource
from core.sources.camera import Picamera2Source, WebcamSource
from core.types import Frame

log = logging.getLogger(__name__)

__all__ = ["FrameSource", "open_source", "check_source", "SourceOpener", "DemoSource", "ImageFilesSource", "VideoFileSource",
           "Picamera2Source", "WebcamSource", "fit_within", "SPEC_HELP"]

SPEC_HELP = "auto, picamera2, webcam, webcam:N, webcam:/dev/videoN, video:PATH, images:GLOB, demo"


def open_source(spec: str, *, width: int = 640, height: int = 480, fps: int = 30, pace: bool = True,
                loop: bool = False, cache: Path | None = None,
                still_size: tuple[int, int] = (1920, 1080)) -> FrameSource:
    """Open the source named by `spec`; raise SourceError with a plain reason if it cannot be."""
    kind, _, arg = spec.partition(":")
    size = (width, height)
    if kind == "auto":
        return _auto(size, fps, pace, cache, still_size)
    if kind == "picamera2":
        return Picamera2Source(size=size, fps=fps)
    if kind == "webcam":
        return WebcamSource(arg or "0", size=size, fps=fps, still_size=still_size)
    if kind == "video" and arg:
        return VideoFileSource(Path(arg), size=size, pace=pace, loop=loop)
    if kind == "images" and arg:
        return ImageFilesSource(arg, size=size, fps=fps, pace=pace, loop=loop)
    if kind == "demo":
        return DemoSource(size=size, fps=fps, pace=pace, cache=cache)
    raise SourceError(f"unknown source {spec!r}; use one of: {SPEC_HELP}.")


def check_source(spec: str, **options: Any) -> None:
    """Raise SourceError now, before anything starts, for a source that can never work as
    named: an unknown name, or a video or image list that is missing or has no frame that
    decodes. Cameras are not checked here: one that is absent or busy at boot is retried."""
    kind, _, arg = spec.partition(":")
    if kind not in ("auto", "picamera2", "webcam", "video", "images", "demo") or (kind in ("video", "images")
                                                                                  and not arg):
        raise SourceError(f"unknown source {spec!r}; use one of: {SPEC_HELP}.")
    if kind not in ("video", "images"):
        return
    with open_source(spec, **{**options, "pace": False, "loop": False}) as source:
        if source.read() is None:
            what = f"video file {arg}" if kind == "video" else f"no image matching {arg!r}"
            raise SourceError(f"{what} has no frame that can be decoded (empty, corrupt or an unsupported format)"
                              if kind == "video" else f"{what} can be read")


def _auto(size: tuple[int, int], fps: int, pace: bool, cache: Path | None,
          still_size: tuple[int, int]) -> FrameSource:
    try:
        return _first_camera(size, fps, still_size)[0]
    except SourceError:
        log.info("source auto: no camera found; showing the built-in demo")
        return DemoSource(size=size, fps=fps, pace=pace, cache=cache)


def _first_camera(size: tuple[int, int], fps: int, still_size: tuple[int, int]) -> tuple[FrameSource, str]:
    """The Pi camera, else the first webcam, with the spec that reopens it; SourceError if none."""
    for spec, make in (("picamera2", lambda: Picamera2Source(size=size, fps=fps)),
                       ("webcam:0", lambda: WebcamSource("0", size=size, fps=fps, still_size=still_size))):
        try:
            source = make()
        except SourceError as exc:
            log.info("source auto: %s unavailable (%s); trying the next", spec, exc)
            continue
        log.info("source auto: using %s", spec)
        return source, spec
    raise SourceError("no camera found")


def camera_snapshot() -> tuple[Any, ...]:
    """What cameras the system shows now (Pi cameras and V4L2 nodes), cheap enough to poll."""
    try:
        from picamera2 import Picamera2  # type: ignore[import-not-found]

        pi = len(Picamera2.global_camera_info())
    except Exception:  # not installed, or libcamera unhappy: no Pi camera to offer
        pi = 0
    return pi, tuple(sorted(glob.glob("/dev/video*")))


class CameraWatch(FrameSource):
    """The demo, shown while no camera was found, that steps aside when one is plugged in: every
    `every_s` it compares the system's cameras with those at its start, and on a change ends
    with a SourceError so that the capture thread reopens, cameras first."""

    def __init__(self, inner: FrameSource, every_s: float = 5.0, snapshot=camera_snapshot) -> None:
        self.inner, self.every_s, self._snapshot = inner, every_s, snapshot
        self.name, self.live, self.realtime = inner.name, inner.live, inner.realtime
        self._seen = snapshot()
        self._next = time.monotonic() + every_s

    def read(self) -> Frame | None:
        if time.monotonic() >= self._next:
            self._next = time.monotonic() + self.every_s
            if self._snapshot() != self._seen:
                raise SourceError("a camera was connected; switching from the demo to it")
        return self.inner.read()

    def capture_still(self):
        return self.inner.capture_still()

    def close(self) -> None:
        self.inner.close()


class SourceOpener:
    """Opens `spec` each time the capture thread asks (at start, and after a failure).

    `auto` is settled by what it finds: once a camera has been used, a reopen waits for that same
    camera (the calm "camera unavailable" screen, retried with back-off) instead of sliding to
    the demo; while no camera has ever been found, the demo runs and watches for one to appear.
    """

    def __init__(self, spec: str, **options: Any) -> None:
        self.spec, self.options = spec, options
        self.camera: str | None = None  # the camera `auto` settled on

    def __call__(self) -> FrameSource:
        if self.spec != "auto":
            return open_source(self.spec, **self.options)
        if self.camera is not None:
            return open_source(self.camera, **self.options)
        o = self.options
        size, fps = (o.get("width", 640), o.get("height", 480)), o.get("fps", 30)
        try:
            source, self.camera = _first_camera(size, fps, o.get("still_size", (1920, 1080)))
            return source
        except SourceError:
            log.info("source auto: no camera found; showing the built-in demo until one is connected")
        return CameraWatch(DemoSource(size=size, fps=fps, pace=o.get("pace", True), cache=o.get("cache")))
