"""Live cameras: the Raspberry Pi camera through picamera2, and any webcam through OpenCV."""

from __future__ import annotations

import logging
import os
import sys

import cv2
import numpy as np

from core.clock import now_ms
from core.errors import SourceError
from core.sources.base import FrameSource, fit_within
from core.types import Frame

log = logging.getLogger(__name__)


class Picamera2Source(FrameSource):
    """The Pi camera, one small stream at the inference size (the display upscales it in SDL).

    libcamera names formats by their register order: "BGR888" is R, G, B in memory, i.e. the
    RGB array we want, so no per-frame conversion is needed (and "RGB888" would be BGR).
    picamera2 comes from apt (`python3-picamera2`) and is imported only here, lazily.
    """

    live = True

    def __init__(self, size: tuple[int, int] = (640, 480), fps: int = 30, camera_num: int = 0) -> None:
        try:
            from picamera2 import Picamera2  # type: ignore[import-not-found]
        except ImportError:
            raise SourceError("picamera2 is not installed here (on a Raspberry Pi: `sudo apt install "
                              "python3-picamera2` and a venv made with --system-site-packages)") from None
        except Exception as exc:  # libcamera bindings can fail to load in odd ways
            raise SourceError(f"picamera2 cannot be loaded ({exc})") from None
        self._cam = None
        try:
            if not Picamera2.global_camera_info():
                raise SourceError("no Raspberry Pi camera is connected")
            self._cam = Picamera2(camera_num)
            config = self._cam.create_video_configuration(
                main={"size": tuple(size), "format": "BGR888"},
                controls={"FrameRate": float(fps)},
                buffer_count=4,
            )
            self._cam.configure(config)
            # The photo booth's still: the sensor's full resolution, same channel order.
            self._still_config = self._cam.create_still_configuration(main={"format": "BGR888"})
            self._cam.start()
        except Exception as exc:
            self.close()  # a half-started camera must be released, or every retry finds it "in use"
            if isinstance(exc, SourceError):
                raise
            raise SourceError(f"the Pi camera could not be started ({exc})") from None
        self._index = 0
        self.name = f"picamera2:{camera_num}"
        log.info("Pi camera started at %dx%d, %d fps", size[0], size[1], fps)

    def read(self) -> Frame | None:
        try:
            rgb = self._cam.capture_array("main")
        except Exception as exc:
            raise SourceError(f"the Pi camera stopped delivering frames ({exc})") from None
        if rgb.ndim == 3 and rgb.shape[2] == 4:  # XBGR8888 on some sensors: drop the padding
            rgb = rgb[:, :, :3]
        self._index += 1
        return Frame(rgb=rgb, t_ms=now_ms(), index=self._index)

    def capture_still(self) -> np.ndarray | None:
        """Switch to the full-resolution still mode for one frame and back (picamera2 does the
        switch; the preview pauses for a few hundred milliseconds)."""
        try:
            rgb = self._cam.switch_mode_and_capture_array(self._still_config, "main")
        except Exception as exc:
            raise SourceError(f"the Pi camera could not take a still ({exc})") from None
        return rgb[:, :, :3] if rgb.ndim == 3 and rgb.shape[2] == 4 else rgb

    def close(self) -> None:
        cam, self._cam = getattr(self, "_cam", None), None
        if cam is not None:
            try:
                cam.stop()
            finally:
                cam.close()


def _device_of(arg: str) -> int | str:
    return int(arg) if arg.isdigit() else arg


class WebcamSource(FrameSource):
    """A V4L2 (or any OpenCV-supported) webcam at a modest resolution, for desktops and tests."""

    live = True

    def __init__(self, device: str = "0", size: tuple[int, int] = (640, 480), fps: int = 30,
                 still_size: tuple[int, int] = (1920, 1080)) -> None:
        dev = _device_of(device)
        path = f"/dev/video{dev}" if isinstance(dev, int) else dev
        if sys.platform.startswith("linux") and not os.path.exists(path):
            raise SourceError(f"no webcam at {path}")
        backend = cv2.CAP_V4L2 if sys.platform.startswith("linux") else cv2.CAP_ANY
        self._cap = cv2.VideoCapture(dev, backend)
        if not self._cap.isOpened():
            self._cap.release()
            raise SourceError(f"the webcam at {path} cannot be opened (in use, or no permission: "
                              f"is this user in the 'video' group?)")
        self._cap.set(cv2.CAP_PROP_FOURCC, cv2.VideoWriter_fourcc(*"MJPG"))
        self._cap.set(cv2.CAP_PROP_FRAME_WIDTH, size[0])
        self._cap.set(cv2.CAP_PROP_FRAME_HEIGHT, size[1])
        self._cap.set(cv2.CAP_PROP_FPS, fps)
        self._cap.set(cv2.CAP_PROP_BUFFERSIZE, 1)  # newest frame, not a queue of old ones
        ok, _ = self._cap.read()  # some V4L2 nodes (codecs, a Pi 5's CSI receiver) open but never deliver
        if not ok:
            self._cap.release()
            raise SourceError(f"the device at {path} opens but gives no picture (not a webcam?)")
        self._size, self._still_size = size, still_size
        self._index = 0
        self.name = f"webcam:{device}"
        log.info("webcam %s opened at %dx%d", path, int(self._cap.get(cv2.CAP_PROP_FRAME_WIDTH)),
                 int(self._cap.get(cv2.CAP_PROP_FRAME_HEIGHT)))

    def read(self) -> Frame | None:
        ok, bgr = self._cap.read()
        if not ok or bgr is None:
            raise SourceError(f"{self.name} stopped delivering frames")
        t = now_ms()
        rgb = cv2.cvtColor(fit_within(bgr, self._size), cv2.COLOR_BGR2RGB)
        self._index += 1
        return Frame(rgb=rgb, t_ms=t, index=self._index)

    def capture_still(self, tries: int = 4) -> np.ndarray | None:
        """Switch the webcam to its still resolution (or the nearest it offers), keep the
        sharpest of a few frames (the first ones after a mode change are often soft), and
        switch back to the preview size."""
        cap = self._cap
        cap.set(cv2.CAP_PROP_FRAME_WIDTH, self._still_size[0])
        cap.set(cv2.CAP_PROP_FRAME_HEIGHT, self._still_size[1])
        best, best_sharpness = None, -1.0
        try:
            for _ in range(tries):
                ok, bgr = cap.read()
                if not ok or bgr is None:
                    continue
                sharpness = float(cv2.Laplacian(cv2.cvtColor(bgr, cv2.COLOR_BGR2GRAY), cv2.CV_32F).var())
                if sharpness > best_sharpness:
                    best, best_sharpness = bgr, sharpness
        finally:
            cap.set(cv2.CAP_PROP_FRAME_WIDTH, self._size[0])
            cap.set(cv2.CAP_PROP_FRAME_HEIGHT, self._size[1])
        return None if best is None else cv2.cvtColor(best, cv2.COLOR_BGR2RGB)

    def close(self) -> None:
        cap, self._cap = getattr(self, "_cap", None), None
        if cap is not None:
            cap.release()
