"""Where frames go: a pygame screen (fullscreen on the console via kmsdrm, or a desktop
window), a headless log, or an off-screen recorder for tests and benchmarks.

All three take the same arguments and expose the same small interface (as picamera2's
NullPreview mirrors the real previews), so the app never asks which one it has.
Fullscreen, the pygame display draws at the camera's own resolution, cropped to the screen's
shape, and lets SDL scale it to the screen (`pygame.SCALED`): no per-frame rescale in Python.
A window is drawn at its own size (display.width x height).
"""

from __future__ import annotations

import ctypes
import ctypes.util
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
        if fullscreen:
            size = canvas_size(frame_size, screen, rotate)
        else:  # a window is exactly display.width x height: drawn at that size (SDL cannot resize a
            size = (screen[1], screen[0]) if rotate in (90, 270) else screen  # SCALED window reliably)
        shown = (size[1], size[0]) if rotate in (90, 270) else size
        # On an X server without a window manager (an xinit kiosk) nobody honours a fullscreen
        # request: the window keeps the canvas size and shows a cropped patch. A borderless
        # window at 0,0 the size of the screen is what fullscreen means there.
        bare_x = fullscreen and pygame.display.get_driver() == "x11" and x11_window_manager() is False
        if bare_x:
            os.environ["SDL_VIDEO_WINDOW_POS"] = "0,0"
            flags = pygame.SCALED | pygame.NOFRAME
        else:
            flags = pygame.SCALED | pygame.FULLSCREEN if fullscreen else 0
        try:
            self._surface = pygame.display.set_mode(shown, flags, vsync=0)
            if bare_x:
                _cover_screen(screen)
        except pygame.error as exc:
            raise DisplayError(f"the display refused a {shown[0]}x{shown[1]} {'fullscreen' if fullscreen else 'window'} "
                               f"({exc})") from None
        pygame.display.set_caption(title)
        if fullscreen:
            pygame.mouse.set_visible(False)
        self.canvas = pygame.Surface(size) if rotate else self._surface
        self.size = size
        log.info("display: %s %dx%d canvas on a %dx%d %s (driver %s)",
                 "fullscreen" if fullscreen else "window", size[0], size[1], screen[0], screen[1],
                 "window" if not fullscreen else "screen, no window manager" if bare_x else "screen",
                 pygame.display.get_driver())

    def present(self) -> None:
        if self.rotate:
            self._surface.blit(self._rotated(), (0, 0))
        pygame.display.flip()
        self.frames += 1


def _cover_screen(size: tuple[int, int]) -> None:
    """Put the (borderless, SCALED) window over the whole screen; SDL scales the canvas into it."""
    from pygame._sdl2.video import Window

    window = Window.from_display_module()
    window.position = (0, 0)
    if window.size != size:
        window.size = size


def x11_window_manager() -> bool | None:
    """Whether the X server named by $DISPLAY has a window manager (EWMH's
    _NET_SUPPORTING_WM_CHECK on the root window); None when libX11 or the server is not there."""
    name = ctypes.util.find_library("X11")
    if not name:
        return None
    try:
        x = ctypes.CDLL(name)
    except OSError:
        return None
    vp, ul = ctypes.c_void_p, ctypes.c_ulong
    x.XOpenDisplay.restype, x.XOpenDisplay.argtypes = vp, [ctypes.c_char_p]
    x.XDefaultRootWindow.restype, x.XDefaultRootWindow.argtypes = ul, [vp]
    x.XInternAtom.restype, x.XInternAtom.argtypes = ul, [vp, ctypes.c_char_p, ctypes.c_int]
    x.XGetWindowProperty.argtypes = [vp, ul, ul, ctypes.c_long, ctypes.c_long, ctypes.c_int, ul,
                                     ctypes.POINTER(ul), ctypes.POINTER(ctypes.c_int), ctypes.POINTER(ul),
                                     ctypes.POINTER(ul), ctypes.POINTER(vp)]
    x.XFree.argtypes, x.XCloseDisplay.argtypes = [vp], [vp]
    display = x.XOpenDisplay(None)
    if not display:
        return None
    try:
        atom = x.XInternAtom(display, b"_NET_SUPPORTING_WM_CHECK", 1)
        if not atom:
            return False
        kind, fmt, n, after, data = ul(), ctypes.c_int(), ul(), ul(), vp()
        status = x.XGetWindowProperty(display, x.XDefaultRootWindow(display), atom, 0, 1, 0, 0, ctypes.byref(kind),
                                      ctypes.byref(fmt), ctypes.byref(n), ctypes.byref(after), ctypes.byref(data))
        if data.value:
            x.XFree(data)
        return status == 0 and n.value > 0
    finally:
        x.XCloseDisplay(display)


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
