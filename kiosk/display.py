"""Where frames go: a pygame screen (fullscreen on the console via kmsdrm, or a desktop
window), a headless log, or an off-screen recorder for tests and benchmarks.

All three take the same arguments and expose the same small interface (as picamera2's
NullPreview mirrors the real previews), so the app never asks which one it has.
Screens are drawn at their native resolution on a canvas (kiosk.canvas): SDL's renderer where
there is a GPU, the CPU's blitters on the window surface elsewhere.
"""

from __future__ import annotations

import gc
import logging
import os
import time
from pathlib import Path

from core.errors import SmileMirrorError

log = logging.getLogger(__name__)

os.environ.setdefault("PYGAME_HIDE_SUPPORT_PROMPT", "1")

import pygame  # noqa: E402

from kiosk.canvas import Canvas, open_window_canvas  # noqa: E402


class DisplayError(SmileMirrorError, RuntimeError):
    """No screen can be opened in the requested mode."""


QUIT, TOGGLE_DIAGNOSTICS = "quit", "diagnostics"
PRESS = "press"  # a tap, a click or the p key: the photo booth's Print


def resolve_mode(mode: str) -> str:
    """`auto`: a window inside a desktop session, fullscreen on a console with a GPU, else
    headless (CI, SSH sessions)."""
    if mode != "auto":
        return mode
    if os.environ.get("SDL_VIDEODRIVER") == "dummy" or os.environ.get("DISPLAY") or os.environ.get("WAYLAND_DISPLAY"):
        return "window"
    if any(Path("/dev/dri").glob("card*")):
        return "fullscreen"
    return "headless"


class _Base:
    """Shared: key handling and closing."""

    wants_pixels = True
    canvas: Canvas | None = None

    def __init__(self) -> None:
        self.frames = 0
        # CPU spent inside SDL's present: where SDL rasterises the queued draws. A GPU renderer
        # does that work on the GPU; SDL's software renderer does it here (bench reports both).
        self.present_cpu_s = 0.0

    def events(self) -> list[str]:
        out = []
        for event in pygame.event.get():
            if event.type == pygame.QUIT:
                out.append(QUIT)
            elif event.type == pygame.KEYDOWN:
                if event.key in (pygame.K_ESCAPE, pygame.K_q):
                    out.append(QUIT)
                elif event.key == pygame.K_d:
                    out.append(TOGGLE_DIAGNOSTICS)
                elif event.key in (pygame.K_p, pygame.K_RETURN, pygame.K_SPACE):
                    out.append(PRESS)
            elif event.type in (pygame.MOUSEBUTTONDOWN, pygame.FINGERDOWN):
                out.append(PRESS)
        return out

    def present(self) -> None:
        assert self.canvas is not None
        t0 = time.process_time()
        self.canvas.present()
        self.present_cpu_s += time.process_time() - t0
        self.frames += 1

    def describe(self) -> str:
        """The video driver and the kind of renderer, for logs and benchmarks."""
        if self.canvas is None or not pygame.display.get_init():
            return "no screen"
        how = "composed by the CPU on the window surface" if self.canvas.software else "accelerated renderer"
        return f"SDL {pygame.display.get_driver()} driver, {how}"

    def snapshot(self):
        """What the screen shows, as an HxWx3 RGB array."""
        assert self.canvas is not None
        return self.canvas.snapshot()

    def save(self, path: Path) -> Path:
        """The screen as a PNG."""
        pygame.image.save(pygame.surfarray.make_surface(self.snapshot().swapaxes(0, 1)), str(path))
        return path

    def close(self) -> None:
        self._release()
        if pygame.display.get_init():
            pygame.display.quit()

    def _release(self) -> None:
        """Textures, then the renderer, then the window, while SDL's video is still up."""
        if self.canvas is not None:
            self.canvas.release()
        self.canvas = None
        gc.collect()  # whatever a reference cycle still held of them goes now, not after the quit
        self._window = None


class PygameDisplay(_Base):
    """A real screen: a window of `window` pixels, or the whole screen (fullscreen hides the
    cursor). Drawn at the screen's own resolution; only the camera picture is scaled, by SDL."""

    def __init__(self, *, fullscreen: bool, window: tuple[int, int] = (1280, 720), rotate: int = 0,
                 title: str = "Smile Mirror") -> None:
        super().__init__()
        try:
            pygame.display.init()
            pygame.font.init()
            size = pygame.display.get_desktop_sizes()[0] if fullscreen else window
            self._window, self.canvas = open_window_canvas(size, rotate=rotate, title=title, fullscreen=fullscreen)
        except pygame.error as exc:
            raise DisplayError(f"no screen could be opened ({exc}); use --display headless, or run from the "
                               f"desktop session or the console") from None
        if fullscreen:
            pygame.mouse.set_visible(False)
        self.size = self.canvas.size
        log.info("display: %s %dx%d (driver %s)", "fullscreen" if fullscreen else "window", *self._window.size,
                 pygame.display.get_driver())


class RecordingDisplay(_Base):
    """Off-screen: renders exactly as the real display would, on a hidden window of `screen`
    pixels, and can save frames as PNG. Used by tests, `bench` and `soak`."""

    def __init__(self, *, screen: tuple[int, int] = (1280, 720), rotate: int = 0, save_every: int = 0,
                 save_dir: Path | None = None, compositor: str = "auto") -> None:
        super().__init__()
        os.environ.setdefault("SDL_VIDEODRIVER", "dummy")
        if not pygame.display.get_init():
            pygame.display.init()
        self._window, self.canvas = open_window_canvas(screen, rotate=rotate, hidden=True, compositor=compositor)
        self.size = self.canvas.size
        self.save_every, self.save_dir = save_every, save_dir
        self.saved: list[Path] = []

    def events(self) -> list[str]:
        return []

    def present(self) -> None:
        super().present()
        if self.save_every and self.save_dir and self.frames % self.save_every == 0:
            self.saved.append(self.save(self.save_dir / f"frame{self.frames:06d}.png"))

    def close(self) -> None:
        self._release()


class HeadlessDisplay(_Base):
    """No screen at all: nothing is drawn; the app logs one line of readings per second."""

    wants_pixels = False

    def __init__(self) -> None:
        super().__init__()
        self.size = (0, 0)

    def events(self) -> list[str]:
        return []

    def present(self) -> None:
        self.frames += 1

    def close(self) -> None:
        pass


def open_display(mode: str, *, window: tuple[int, int] = (1280, 720), rotate: int = 0) -> _Base:
    """Open the display for `mode` (auto, fullscreen, window, headless). In `auto`, a screen
    that cannot be opened falls back to headless with a log line; an explicit mode fails."""
    chosen = resolve_mode(mode)
    if chosen == "headless":
        return HeadlessDisplay()
    try:
        return PygameDisplay(fullscreen=chosen == "fullscreen", window=window, rotate=rotate)
    except DisplayError as exc:
        if mode != "auto":
            raise
        log.warning("%s; running headless", exc)
        return HeadlessDisplay()
