"""Where frames go: a pygame screen (fullscreen on the console via kmsdrm, or a desktop
window), a headless log, or an off-screen recorder for tests and benchmarks.

All three take the same arguments and expose the same small interface (as picamera2's
NullPreview mirrors the real previews), so the app never asks which one it has.
The pygame display draws at the camera's own resolution, cropped to the screen's shape, and
lets SDL scale it to the screen (`pygame.SCALED`): no per-frame rescale in Python.
"""

from __future__ import annotations

import logging
import os
from pathlib import Path

from core.errors import SmileMirrorError

log = logging.getLogger(__name__)

os.environ.setdefault("PYGAME_HIDE_SUPPORT_PROMPT", "1")
os.environ.setdefault("SDL_RENDER_SCALE_QUALITY", "linear")  # smooth upscaling in SCALED mode

import pygame  # noqa: E402


class DisplayError(SmileMirrorError, RuntimeError):
    """No screen can be opened in the requested mode."""


QUIT, TOGGLE_DIAGNOSTICS = "quit", "diagnostics"


def canvas_size(frame: tuple[int, int], screen: tuple[int, int], rotate: int = 0) -> tuple[int, int]:
    """The largest canvas with the screen's shape (after rotation) that the camera frame covers
    at 1:1, so the picture fills the screen without distortion or upscaling in Python."""
    sw, sh = (screen[1], screen[0]) if rotate in (90, 270) else screen
    fw, fh = frame
    if fw * sh >= fh * sw:  # frame wider than the screen: keep its height
        return max(1, round(fh * sw / sh)), fh
    return fw, max(1, round(fw * sh / sw))


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
    """Shared: a canvas to draw on, optional rotation, and key handling."""

    wants_pixels = True

    def __init__(self, frame_size: tuple[int, int], *, rotate: int = 0) -> None:
        self.rotate = rotate
        self.frames = 0
        self.canvas: pygame.Surface | None = None

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
        return out

    def _rotated(self) -> pygame.Surface:
        assert self.canvas is not None
        return pygame.transform.rotate(self.canvas, -self.rotate) if self.rotate else self.canvas

    def close(self) -> None:
        if pygame.display.get_init():
            pygame.display.quit()


class PygameDisplay(_Base):
    """A real screen. Fullscreen hides the cursor and uses the whole display."""

    def __init__(self, frame_size: tuple[int, int], *, fullscreen: bool, window: tuple[int, int] = (1280, 720),
                 rotate: int = 0, title: str = "Smile Mirror") -> None:
        super().__init__(frame_size, rotate=rotate)
        try:
            pygame.display.init()
            pygame.font.init()
            screen = pygame.display.get_desktop_sizes()[0] if fullscreen else window
        except pygame.error as exc:
            raise DisplayError(f"no screen could be opened ({exc}); use --display headless, or run from the "
                               f"desktop session or the console") from None
        size = canvas_size(frame_size, screen, rotate)
        shown = (size[1], size[0]) if rotate in (90, 270) else size
        flags = pygame.SCALED | (pygame.FULLSCREEN if fullscreen else pygame.RESIZABLE)
        try:
            self._surface = pygame.display.set_mode(shown, flags, vsync=0)
        except pygame.error as exc:
            raise DisplayError(f"the display refused a {shown[0]}x{shown[1]} {'fullscreen' if fullscreen else 'window'} "
                               f"({exc})") from None
        pygame.display.set_caption(title)
        if fullscreen:
            pygame.mouse.set_visible(False)
        self.canvas = pygame.Surface(size) if rotate else self._surface
        self.size = size
        log.info("display: %s %dx%d canvas on a %dx%d screen (driver %s)", "fullscreen" if fullscreen else "window",
                 size[0], size[1], screen[0], screen[1], pygame.display.get_driver())

    def present(self) -> None:
        if self.rotate:
            self._surface.blit(self._rotated(), (0, 0))
        pygame.display.flip()
        self.frames += 1


class RecordingDisplay(_Base):
    """Off-screen: renders exactly as the real display would, keeps the last canvas, and can
    save frames as PNG. Used by tests, `bench` and `--display record`-style tooling."""

    def __init__(self, frame_size: tuple[int, int], *, screen: tuple[int, int] = (1280, 720), rotate: int = 0,
                 save_every: int = 0, save_dir: Path | None = None) -> None:
        super().__init__(frame_size, rotate=rotate)
        if not pygame.font.get_init():
            pygame.font.init()
        self.size = canvas_size(frame_size, screen, rotate)
        self.canvas = pygame.Surface(self.size)
        self.save_every, self.save_dir = save_every, save_dir
        self.saved: list[Path] = []

    def events(self) -> list[str]:
        return []

    def present(self) -> None:
        self.frames += 1
        if self.save_every and self.save_dir and self.frames % self.save_every == 0:
            self.saved.append(self.save(self.save_dir / f"frame{self.frames:06d}.png"))

    def save(self, path: Path) -> Path:
        pygame.image.save(self._rotated(), str(path))
        return path

    def close(self) -> None:
        pass


class HeadlessDisplay(_Base):
    """No screen at all: nothing is drawn; the app logs one line of readings per second."""

    wants_pixels = False

    def __init__(self, frame_size: tuple[int, int], *, rotate: int = 0) -> None:
        super().__init__(frame_size, rotate=rotate)
        self.size = frame_size

    def events(self) -> list[str]:
        return []

    def present(self) -> None:
        self.frames += 1

    def close(self) -> None:
        pass


def open_display(mode: str, frame_size: tuple[int, int], *, window: tuple[int, int] = (1280, 720),
                 rotate: int = 0) -> _Base:
    """Open the display for `mode` (auto, fullscreen, window, headless). In `auto`, a screen
    that cannot be opened falls back to headless with a log line; an explicit mode fails."""
    chosen = resolve_mode(mode)
    if chosen == "headless":
        return HeadlessDisplay(frame_size, rotate=rotate)
    try:
        return PygameDisplay(frame_size, fullscreen=chosen == "fullscreen", window=window, rotate=rotate)
    except DisplayError as exc:
        if mode != "auto":
            raise
        log.warning("%s; running headless", exc)
        return HeadlessDisplay(frame_size, rotate=rotate)
