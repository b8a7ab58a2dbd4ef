"""The built-in demo: a real smiling face that drifts, turns and zooms, with no camera at all.

The face is scikit-image's public-domain astronaut portrait, provisioned by checksum from the
wheel that ships it (see core.assets), so a fresh laptop shows a working mirror offline once
set up. The motion is slow and smooth so the tracker, not the detector, does most frames, as
it would with a person standing in front of a lobby screen.
"""

from __future__ import annotations

import math
from pathlib import Path

import cv2
import numpy as np

from core import assets
from core.errors import AssetError, ImageReadError, SourceError
from core.image_guard import read_image
from core.sources.base import FrameSource, Pacer
from core.types import Frame


class DemoSource(FrameSource):
    def __init__(self, size: tuple[int, int] = (640, 480), fps: int = 30, *, pace: bool = True,
                 cache: Path | None = None, image: np.ndarray | None = None) -> None:
        if image is None:
            # Never downloads: a kiosk's run touches no network. `model fetch` (which ./mirror and
            # the installer run) provisions the image with the model.
            try:
                path = assets.ensure(assets.ASTRONAUT, cache, allow_download=False)
                bgr = read_image(path).bgr
            except (AssetError, ImageReadError) as exc:
                raise SourceError(f"the demo image is unavailable ({exc})") from None
            image = cv2.cvtColor(bgr, cv2.COLOR_BGR2RGB)
        self._image = image
        self._size = size
        self._fps = fps
        self._pacer = Pacer(fps, pace)
        self.realtime = pace
        self._pos = 0
        self._out = np.empty((size[1], size[0], 3), np.uint8)
        self.name = "demo"

    def _transform(self, t_s: float) -> np.ndarray:
        """Affine map from the portrait to the output: slow drift, sway and breathing zoom."""
        h, w = self._image.shape[:2]
        ow, oh = self._size
        base = 1.35 * max(ow / w, oh / h)
        scale = base * (1.0 + 0.12 * math.sin(t_s * 0.5))
        angle = 6.0 * math.sin(t_s * 0.7)
        # keep the face (upper-middle of the portrait) near the centre, drifting a little
        cx = w * (0.44 + 0.05 * math.sin(t_s * 0.3))
        cy = h * (0.25 + 0.04 * math.cos(t_s * 0.4))
        m = cv2.getRotationMatrix2D((cx, cy), angle, scale)
        m[0, 2] += ow / 2 - cx
        m[1, 2] += oh / 2 - cy
        return m

    def capture_still(self) -> np.ndarray | None:
        """The current view rendered at twice the preview size."""
        m = self._transform(max(0, self._pos - 1) * 1000.0 / self._fps) * 2.0
        size = (self._size[0] * 2, self._size[1] * 2)
        return cv2.warpAffine(self._image, m, size, flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_REFLECT)

    def read(self) -> Frame | None:
        t_ms = self._pos * 1000.0 / self._fps
        self._pacer.wait(t_ms)
        cv2.warpAffine(self._image, self._transform(t_ms / 1000.0), self._size, dst=self._out,
                       flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_REFLECT)
        self._pos += 1
        return Frame(rgb=self._out.copy(), t_ms=t_ms, index=self._pos)
