"""The venue's look: its logo and accent colour, read and checked before the mirror starts.

A logo that is missing or cannot be decoded stops the start with one sentence (exit code 2),
rather than a mirror that silently shows no logo for months.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np

from core.errors import ConfigError
from core.sources.files import declared_size

log = logging.getLogger(__name__)

DEFAULT_ACCENT = "#ffce54"
MAX_SIDE = 4096  # a logo larger than this is a mistake (and costs memory on a Pi)


@dataclass(frozen=True, slots=True)
class Branding:
    """`logo` is RGBA uint8 (HxWx4) or None; `accent` an (r, g, b) tuple."""

    logo: np.ndarray | None = None
    accent: tuple[int, int, int] = (255, 206, 84)


def parse_colour(text: str) -> tuple[int, int, int]:
    """'#rrggbb' -> (r, g, b); ConfigError for anything else."""
    t = text.strip()
    if len(t) != 7 or t[0] != "#":
        raise ConfigError(f"display.accent = {text!r} is not a colour; write it as \"#rrggbb\", e.g. \"{DEFAULT_ACCENT}\".")
    try:
        return int(t[1:3], 16), int(t[3:5], 16), int(t[5:7], 16)
    except ValueError:
        raise ConfigError(f"display.accent = {text!r} is not a colour; write it as \"#rrggbb\", "
                          f"e.g. \"{DEFAULT_ACCENT}\".") from None


def load_logo(path: str | Path) -> np.ndarray:
    """The logo image as RGBA uint8; ConfigError saying why when it cannot be used."""
    p = Path(path).expanduser()
    try:
        data = np.fromfile(p, dtype=np.uint8)
    except FileNotFoundError:
        raise ConfigError(f"display.logo: {p} does not exist; fix the path or set logo = \"\".") from None
    except OSError as exc:
        raise ConfigError(f"display.logo: {p} cannot be read ({exc.strerror or exc}).") from None
    size = declared_size(data[:65536].tobytes()) if data.size else None
    if size is not None and max(size) > MAX_SIDE:
        raise ConfigError(f"display.logo: {p} is {size[0]}x{size[1]} pixels; use an image at most {MAX_SIDE} on a side.")
    image = cv2.imdecode(data, cv2.IMREAD_UNCHANGED) if data.size else None
    if image is None or image.ndim not in (2, 3) or min(image.shape[:2]) < 1:
        raise ConfigError(f"display.logo: {p} is not an image that can be decoded (use a PNG or JPEG).")
    if image.dtype != np.uint8:  # 16-bit PNG
        image = (image / 257).astype(np.uint8)
    if image.ndim == 2:
        image = cv2.cvtColor(image, cv2.COLOR_GRAY2BGRA)
    elif image.shape[2] == 3:
        image = cv2.cvtColor(image, cv2.COLOR_BGR2BGRA)
    rgba = cv2.cvtColor(image, cv2.COLOR_BGRA2RGBA)
    log.info("logo %s: %dx%d", p, rgba.shape[1], rgba.shape[0])
    return np.ascontiguousarray(rgba)


def branding_from(display_config) -> Branding:
    """The Branding a [display] config asks for (its `logo` and `accent`)."""
    logo = load_logo(display_config.logo) if display_config.logo else None
    return Branding(logo=logo, accent=parse_colour(display_config.accent))
