"""Frame sources behind one narrow seam, and the factory that picks one.

`open_source("auto")` tries the Pi camera, then a webcam, then the built-in demo, logging each
fallback (as gpiozero picks a pin factory and pibooth finds a camera). Every source returns RGB
uint8 frames; channel-order quirks are fixed inside the adapter that has them.
"""

from __future__ import annotations

import logging
from pathlib import Path

from core.errors import SourceError
from core.sources.base import FrameSource, fit_within
from core.sources.demo import DemoSource
from core.sources.files import ImageFilesSource, VideoFileSource
from core.sources.camera import Picamera2Source, WebcamSource

log = logging.getLogger(__name__)

__all__ = ["FrameSource", "open_source", "DemoSource", "ImageFilesSource", "VideoFileSource",
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


def _auto(size: tuple[int, int], fps: int, pace: bool, cache: Path | None,
          still_size: tuple[int, int]) -> FrameSource:
    for name, make in (("picamera2", lambda: Picamera2Source(size=size, fps=fps)),
                       ("webcam", lambda: WebcamSource("0", size=size, fps=fps, still_size=still_size))):
        try:
            source = make()
        except SourceError as exc:
            log.info("source auto: %s unavailable (%s); trying the next", name, exc)
            continue
        log.info("source auto: using %s", name)
        return source
    log.info("source auto: no camera found; showing the built-in demo")
    return DemoSource(size=size, fps=fps, pace=pace, cache=cache)
