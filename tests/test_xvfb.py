"""The mirror on a real X server with no window manager (an xinit kiosk): fullscreen fills the
screen, and a window has the size the config gives it. Xvfb and xwd come from Debian's
packages (`xvfb`, `x11-apps`; .ci/run installs them); the test starts its own server."""

from __future__ import annotations

import os
import shutil
import struct
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest

REPO = Path(__file__).resolve().parents[1]

pytestmark = pytest.mark.skipif(not (shutil.which("Xvfb") and shutil.which("xwd")),
                                reason="Xvfb or xwd is not installed (apt-get install xvfb x11-apps; .ci/run does)")


class Xvfb:
    """An Xvfb server on a display number it picks itself (-displayfd), black background."""

    def __init__(self, size: tuple[int, int]) -> None:
        read, write = os.pipe()
        self.proc = subprocess.Popen(["Xvfb", "-displayfd", str(write), "-screen", "0", f"{size[0]}x{size[1]}x24",
                                      "-nolisten", "tcp", "-br"], pass_fds=(write,), stdout=subprocess.DEVNULL,
                                     stderr=subprocess.DEVNULL)
        os.close(write)
        with os.fdopen(read) as fh:
            number = fh.readline().strip()
        if not number:
            self.close()
            pytest.skip("Xvfb did not start here")
        self.display = f":{number}"

    def screenshot(self) -> np.ndarray:
        """The root window as HxWx3 uint8 (channel order as the server keeps it), read with xwd."""
        data = subprocess.run(["xwd", "-root", "-silent", "-display", self.display], capture_output=True,
                              check=True, timeout=30).stdout
        header = struct.unpack(">25I", data[:100])
        size, width, height, bits, line, colours = header[0], header[4], header[5], header[11], header[12], header[19]
        step = bits // 8  # Xvfb's 24-bit screen: 3 bytes a pixel, lines padded to `line` bytes
        assert step in (3, 4) and line >= width * step, f"unexpected xwd layout: {bits} bits, {line} bytes a line"
        pixels = np.frombuffer(data, np.uint8, count=line * height, offset=size + colours * 12)
        return pixels.reshape(height, line)[:, :width * step].reshape(height, width, step)[..., :3]

    def close(self) -> None:
        self.proc.terminate()
        try:
            self.proc.wait(10)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()


def shot_of_mirror(server: Xvfb, args: list[str], tmp_path: Path, enough: float = 0.9) -> tuple[np.ndarray, str]:
    """Run the mirror on `server` (the demo face unless `args` name a source), take a screenshot
    while it is up, stop it."""
    env = {**os.environ, "DISPLAY": server.display, "SDL_VIDEODRIVER": "x11"}
    log = tmp_path / "run.log"
    with open(log, "w") as out:
        proc = subprocess.Popen([sys.executable, "-m", "kiosk.cli", "run", "--frames", "900",
                                 *(args if "--source" in args else ["--source", "demo", *args])],
                                cwd=REPO, env=env, stdout=out, stderr=subprocess.STDOUT)
        try:
            deadline = time.monotonic() + 90
            while "display:" not in log.read_text() and time.monotonic() < deadline and proc.poll() is None:
                time.sleep(0.2)
            image = server.screenshot()
            settle = time.monotonic() + 20  # until the picture is up (the model loads first), or give up
            while time.monotonic() < settle and proc.poll() is None and lit_box(image)[0] < enough:
                time.sleep(0.5)
                image = server.screenshot()
            assert proc.poll() is None, log.read_text()[-2000:]
        finally:
            proc.terminate()
            proc.wait(30)
    return image, log.read_text()


def lit_box(image: np.ndarray) -> tuple[float, int, int, int, int]:
    """(share of pixels not black, left, top, right, bottom) of what is drawn on the black root."""
    lit = image.max(axis=2) > 12
    ys, xs = np.nonzero(lit)
    if not len(xs):
        return 0.0, 0, 0, 0, 0
    return float(lit.mean()), int(xs.min()), int(ys.min()), int(xs.max()) + 1, int(ys.max()) + 1


@pytest.mark.model
@pytest.mark.slow
@pytest.mark.parametrize("size", [(1920, 1080), (1080, 1920)])
def test_fullscreen_fills_a_bare_x_server(size: tuple[int, int], tmp_path: Path, model_path: Path) -> None:
    server = Xvfb(size)
    try:
        image, log = shot_of_mirror(server, ["--display", "fullscreen"], tmp_path)
    finally:
        server.close()
    share, left, top, right, bottom = lit_box(image)
    assert (left, top, right, bottom) == (0, 0, *size), log[-1500:]
    assert share >= 0.9, f"only {share:.0%} of the screen is drawn"


@pytest.mark.model
@pytest.mark.slow
def test_a_window_has_the_configured_size(tmp_path: Path, model_path: Path) -> None:
    import cv2

    config = tmp_path / "window.toml"
    config.write_text("[display]\nwidth = 800\nheight = 450\n", encoding="utf-8")
    cv2.imwrite(str(tmp_path / "wall.png"), np.full((480, 640, 3), 200, np.uint8))  # an empty, bright room
    server = Xvfb((1920, 1080))
    try:
        image, log = shot_of_mirror(server, ["--display", "window", "--config", str(config), "--source",
                                             f"images:{tmp_path / 'wall.png'}", "--loop"], tmp_path,
                                    enough=0.95 * 800 * 450 / (1920 * 1080))
    finally:
        server.close()
    share, left, top, right, bottom = lit_box(image)
    assert (right - left, bottom - top) == (800, 450), log[-1500:]
