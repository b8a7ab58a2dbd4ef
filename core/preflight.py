"""Checks a start makes before it opens anything, shared with `smile-mirror config check`.

A config that passes `config check` must start; one that a start would refuse must fail the
check with the same sentence. Cameras are not looked for here (one may be plugged in later:
the mirror waits for it); files the config names are.
"""

from __future__ import annotations

import glob
import logging
import os
import re
from pathlib import Path

from core.errors import ConfigError
from core.safe_io import shown

log = logging.getLogger(__name__)

SOURCE_KINDS = ("auto", "picamera2", "webcam", "video", "images", "demo")
SPEC_HELP = "auto, picamera2, webcam, webcam:N, webcam:/dev/videoN, video:PATH, images:GLOB, demo"


def check_source(spec: str, cache: Path | None = None) -> None:
    """The source spec names a known kind, and the files it names exist (for `demo`, the
    provisioned demo image: a run never downloads it)."""
    kind, sep, arg = spec.partition(":")
    if kind not in SOURCE_KINDS or (kind in ("auto", "picamera2", "demo") and sep):
        raise ConfigError(f"source {shown(spec)} is not a source; use one of: {SPEC_HELP}.")
    if kind == "webcam" and arg and not (arg.isdigit() or re.fullmatch(r"/dev/[\w./-]+", arg)):
        raise ConfigError(f"source {shown(spec)}: a webcam is a number (webcam:0) or a device (webcam:/dev/video0).")
    if kind == "video":
        if not arg:
            raise ConfigError("source video: needs a file, e.g. video:party.mp4.")
        if not Path(arg).is_file():
            raise ConfigError(f"source {shown(spec)}: the video file {shown(arg)} does not exist or is not a file.")
    if kind in ("demo", "auto"):
        from core import assets
        from core.errors import AssetError

        try:
            assets.verify(assets.ASTRONAUT, assets.cached_path(assets.ASTRONAUT, cache), cache)
        except AssetError as exc:
            if kind == "demo":
                raise ConfigError(f"source demo: {exc}") from None
            log.warning("without a camera the mirror shows the demo, and it cannot: %s", exc)
    if kind == "images":
        if not arg:
            raise ConfigError("source images: needs a glob, e.g. 'images:photos/*.jpg'.")
        if not glob.glob(arg):
            raise ConfigError(f"source {shown(spec)}: no images match {shown(arg)}.")


def check_readings(path: str) -> None:
    """`run.readings` can be written: its folder exists and is writable, and it is not a folder."""
    if not path:
        return
    target = Path(path)
    if target.is_dir():
        raise ConfigError(f"cannot write readings to {shown(path)}: it is a folder; choose a file with --readings.")
    folder = target.parent
    if not folder.is_dir():
        raise ConfigError(f"cannot write readings to {shown(path)}: the folder {shown(folder)} does not exist.")
    if not os.access(target if target.exists() else folder, os.W_OK):
        raise ConfigError(f"cannot write readings to {shown(path)} (permission denied); choose another file "
                          f"with --readings.")
