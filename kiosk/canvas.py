"""The two ways a screen's pixels get composed, behind one small interface that painters use:

- `RendererCanvas`: SDL's render API (`pygame._sdl2.video`) on an accelerated renderer. The
  camera picture is one streaming texture scaled by the GPU (kmsdrm and V3D on a Pi, GL on a
  desktop); every label, gauge and mark is a small texture made once and copied each frame.
- `SurfaceCanvas`: where there is no GPU renderer (SDL's dummy driver, a bare framebuffer,
  `SDL_RENDER_DRIVER=software`, an OpenGL that Mesa draws on the CPU), the picture is composed on the window's own surface with
  pygame's SIMD blitters: the camera frame is resized by OpenCV straight into the window's
  pixels, the sprites are alpha-blitted, and the window is flipped. SDL's software renderer
  would do the same work through slower generic blitters and one more copy of the screen.

Both draw at the screen's native resolution; neither rescales anything in Python per frame but
the camera picture on the CPU compositor (what a GPU does for free).
"""

from __future__ import annotations

import logging
import os
from collections import OrderedDict
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Union

import cv2
import numpy as np

# What the venue asked of SDL for scaling, read before the default below is filled in: on the
# CPU compositor a smooth (linear) upscale of each camera frame costs about 2.5 ms more per
# 1080p frame than nearest, so there it is done only when asked for, as SDL's software renderer
# does (its default is nearest); a GPU scales linearly for free.
# (A marker says the value is our default, so child processes that inherit it are not misled.)
_DEFAULTED = "SMILE_MIRROR_SCALE_QUALITY_DEFAULTED"
_ASKED_SCALE_QUALITY = "" if os.environ.get(_DEFAULTED) else os.environ.get("SDL_RENDER_SCALE_QUALITY", "").strip().lower()
os.environ.setdefault("PYGAME_HIDE_SUPPORT_PROMPT", "1")
if "SDL_RENDER_SCALE_QUALITY" not in os.environ:
    os.environ["SDL_RENDER_SCALE_QUALITY"] = "linear"  # smooth camera scaling on a GPU
    os.environ[_DEFAULTED] = "1"

import pygame  # noqa: E402
from pygame._sdl2.sdl2 import error as SDLError  # noqa: E402
from pygame._sdl2.video import Renderer, Texture, Window  # noqa: E402

log = logging.getLogger(__name__)

Sprite = Union[Texture, pygame.Surface]  # what `Canvas.sprite` hands back: has get_rect(), width, height


def _smooth_on_cpu() -> bool:
    return _ASKED_SCALE_QUALITY in ("1", "2", "linear", "best")


class Canvas:
    """One screen's worth of drawing. With `rotate`, everything is composed on a picture of the
    rotated shape and turned once when presented. Subclasses keep the sprite cache's bounds."""

    CACHE = 768                   # sprites kept at most ...
    CACHE_BYTES = 24 * 1024 * 1024  # ... and their pixels at most this big (a Pi's GPU shares its RAM)
    software = False              # True where the CPU composes the picture

    def __init__(self, size: tuple[int, int], rotate: int) -> None:
        self.rotate = rotate
        self._out = size          # the window's size
        self.size = (size[1], size[0]) if rotate in (90, 270) else size  # what painters draw on
        self.w, self.h = self.size
        self._sprites: OrderedDict[tuple, Sprite] = OrderedDict()
        self._sprite_bytes = 0

    # -- frame lifecycle (subclasses) -------------------------------------------------------------
    def begin(self, colour: tuple[int, int, int] = (0, 0, 0)) -> None:
        """A new frame, on `colour`."""
        raise NotImplementedError

    def finish(self) -> None:
        raise NotImplementedError

    def present(self) -> None:
        raise NotImplementedError

    def snapshot(self) -> np.ndarray:
        """What the screen shows now, as an HxWx3 RGB array (tests, screenshots)."""
        raise NotImplementedError

    def fill(self, rgba: tuple[int, int, int, int], rect: pygame.Rect | None = None) -> None:
        raise NotImplementedError

    def image(self, slot: str, rgb: np.ndarray, src: tuple[int, int, int, int], dst: pygame.Rect,
              *, flip: bool = False) -> None:
        """The `src` part of an RGB array (the camera frame, a photo) scaled into `dst`."""
        raise NotImplementedError

    def draw(self, tex: Sprite, dst: pygame.Rect, *, alpha: int = 255, angle: float = 0.0) -> None:
        """A sprite at `dst` (scaled to it), `alpha` over its own, turned `angle` degrees clockwise."""
        raise NotImplementedError

    def _make(self, surface: pygame.Surface) -> Sprite:
        raise NotImplementedError

    # -- shared -------------------------------------------------------------------------------------
    def sprite(self, key: tuple, make: Callable[[], pygame.Surface]) -> Sprite:
        """A sprite made once from `make()` and kept while it is used."""
        tex = self._sprites.get(key)
        if tex is not None:
            self._sprites.move_to_end(key)
            return tex
        tex = self._make(make())
        self._sprites[key] = tex
        self._sprite_bytes += 4 * tex.width * tex.height
        while len(self._sprites) > 1 and (len(self._sprites) > self.CACHE or self._sprite_bytes > self.CACHE_BYTES):
            _, old = self._sprites.popitem(last=False)
            self._sprite_bytes -= 4 * old.width * old.height
        return tex

    def release(self) -> None:
        """Give back every texture and surface now (subclasses add theirs)."""
        self._sprites.clear()
        self._sprite_bytes = 0


class RendererCanvas(Canvas):
    """Composed by SDL's renderer (a GPU): see the module's docstring."""

    def __init__(self, renderer: Renderer, size: tuple[int, int], *, rotate: int = 0) -> None:
        super().__init__(size, rotate)
        self.renderer = renderer
        self._target = Texture(renderer, self.size, target=True) if rotate else None
        self._images: dict[str, tuple[tuple[int, int], Texture, object]] = {}

    def begin(self, colour: tuple[int, int, int] = (0, 0, 0)) -> None:
        self.renderer.target = self._target
        self.fill((*colour, 255))

    def finish(self) -> None:
        if self._target is not None:
            self.renderer.target = None
            ow, oh = self._out
            w, h = self.size
            self.renderer.draw_color = (0, 0, 0, 255)
            self.renderer.clear()
            # rotate about the centre: a w x h picture turned by 90 fills the oh x ow screen
            self._target.draw(dstrect=pygame.Rect((ow - w) // 2, (oh - h) // 2, w, h), angle=self.rotate)

    def present(self) -> None:
        self.renderer.present()

    def release(self) -> None:
        """SDL frees a window's renderer with the window, so a texture or renderer that Python
        frees afterwards (a painter in a reference cycle, collected at some later moment) would
        free memory twice: the process dies at exit. So they all go now."""
        super().release()
        self._images.clear()
        self._target = None
        self.renderer = None  # type: ignore[assignment]

    def snapshot(self) -> np.ndarray:
        if self._target is not None:
            self.renderer.target = None
        surf = self.renderer.to_surface()
        return pygame.surfarray.array3d(surf).swapaxes(0, 1).copy()

    def fill(self, rgba: tuple[int, int, int, int], rect: pygame.Rect | None = None) -> None:
        r = self.renderer
        r.draw_blend_mode = 1 if rgba[3] < 255 else 0
        r.draw_color = rgba
        if rect is None:
            if rgba[3] >= 255:
                r.clear()
            else:
                r.fill_rect(pygame.Rect(0, 0, self.w, self.h))
        else:
            r.fill_rect(rect)

    def image(self, slot: str, rgb: np.ndarray, src: tuple[int, int, int, int], dst: pygame.Rect,
              *, flip: bool = False) -> None:
        h, w = rgb.shape[:2]
        held = self._images.get(slot)
        if held is None or held[0] != (w, h):
            held = ((w, h), Texture(self.renderer, (w, h), streaming=True), None)
        tex = held[1]
        if held[2] is not rgb:  # a photo under review is uploaded once, a camera frame each time
            tex.update(pygame.image.frombuffer(np.ascontiguousarray(rgb), (w, h), "RGB"))
        self._images[slot] = ((w, h), tex, rgb)
        if flip:
            x, y, cw, ch = src
            src = (w - x - cw, y, cw, ch)
        tex.draw(srcrect=pygame.Rect(src), dstrect=dst, flip_x=flip)

    def _make(self, surface: pygame.Surface) -> Texture:
        tex = Texture.from_surface(self.renderer, surface)
        tex.blend_mode = 1
        return tex

    def draw(self, tex: Sprite, dst: pygame.Rect, *, alpha: int = 255, angle: float = 0.0) -> None:
        tex.alpha = alpha
        tex.draw(dstrect=dst, angle=angle)


class SurfaceCanvas(Canvas):
    """Composed by the CPU on the window's surface: see the module's docstring."""

    software = True
    SCALED = 8  # sprites kept stretched to another size (a fade band over the screen's width)

    def __init__(self, window: Window, *, rotate: int = 0) -> None:
        super().__init__(tuple(window.size), rotate)  # type: ignore[arg-type]
        self.window = window
        # the driver's own framebuffer (X11: shared memory), not SDL's default of a GL texture
        # the surface is uploaded to each flip, which costs a software GL 20 ms a 1080p frame
        os.environ.setdefault("SDL_FRAMEBUFFER_ACCELERATION", "0")
        self._screen = window.get_surface()
        self._surface = pygame.Surface(self.size).convert(self._screen) if rotate else self._screen
        self._clear: tuple[int, int, int] | None = None  # a begin() colour not yet filled in
        self._frame = 0
        self._images: dict[str, _Shown] = {}
        self._solids: dict[tuple[int, int, int], pygame.Surface] = {}  # screen-sized, one a colour
        self._scaled: OrderedDict[tuple, tuple[pygame.Surface, pygame.Surface]] = OrderedDict()

    # -- frame lifecycle ------------------------------------------------------------------------
    def begin(self, colour: tuple[int, int, int] = (0, 0, 0)) -> None:
        # filled lazily: a camera picture covering the whole screen makes the fill pointless
        self._clear = colour
        self._frame += 1

    def _cleared(self) -> pygame.Surface:
        if self._clear is not None:
            self._surface.fill(self._clear)
            self._clear = None
        return self._surface

    def finish(self) -> None:
        surface = self._cleared()
        if self.rotate:
            turned = pygame.transform.rotate(surface, -self.rotate)  # pygame turns anticlockwise
            self._screen.fill((0, 0, 0))
            self._screen.blit(turned, turned.get_rect(center=self._screen.get_rect().center))

    def present(self) -> None:
        self.window.flip()

    def release(self) -> None:
        super().release()
        self._images.clear()
        self._scaled.clear()
        self._solids.clear()
        self._surface = self._screen = None  # type: ignore[assignment]

    def snapshot(self) -> np.ndarray:
        return pygame.surfarray.array3d(self._screen).swapaxes(0, 1).copy()

    # -- primitives -------------------------------------------------------------------------------
    def fill(self, rgba: tuple[int, int, int, int], rect: pygame.Rect | None = None) -> None:
        surface = self._cleared()
        rect = rect or surface.get_rect()
        if rgba[3] >= 255:
            surface.fill(rgba[:3], rect)
        elif rgba[3] > 0 and rect.width > 0 and rect.height > 0:
            solid = self._solids.get(rgba[:3])
            if solid is None:
                solid = self._solids[rgba[:3]] = pygame.Surface(surface.get_size()).convert(surface)
                solid.fill(rgba[:3])
            solid.set_alpha(rgba[3])
            surface.blit(solid, rect, area=pygame.Rect(0, 0, rect.width, rect.height))

    def image(self, slot: str, rgb: np.ndarray, src: tuple[int, int, int, int], dst: pygame.Rect,
              *, flip: bool = False) -> None:
        held = self._images.get(slot)
        if held is not None and held.rgb is rgb and held.size == dst.size and held.picture is not None:
            self._cleared().blit(held.picture, dst)  # a photo under review: scaled once
            return
        x, y, cw, ch = src
        part = rgb[y:y + ch, x:x + cw]
        small = cv2.cvtColor(cv2.flip(part, 1) if flip else part, cv2.COLOR_RGB2BGRA)  # at camera size
        if held is not None and held.rgb is rgb:
            interpolation, arrived = held.interpolation, held.arrived  # redrawn: as it was drawn
        else:
            # a picture new every few frames (the camera) is upscaled the cheap way unless asked
            # otherwise; a photo shown for a while, smoothly
            streaming = held is not None and self._frame - held.arrived <= 3
            arrived = self._frame
            if dst.width < cw:
                interpolation = cv2.INTER_AREA
            else:
                interpolation = cv2.INTER_NEAREST if streaming and not _smooth_on_cpu() else cv2.INTER_LINEAR
        whole = dst == self._surface.get_rect()
        if whole and self._clear is not None:
            self._clear = None  # covered entirely: no need to fill first
        target = self._cleared()
        pixels = _bgra_view(target) if whole else None
        picture = None
        if pixels is not None:
            cv2.resize(small, dst.size, dst=pixels, interpolation=interpolation)
            del pixels  # the surface stays locked while a view of it lives
        else:
            picture = pygame.image.frombuffer(cv2.resize(small, dst.size, interpolation=interpolation), dst.size,
                                              "BGRA").convert(target)
            target.blit(picture, dst)
        self._images[slot] = _Shown(rgb, arrived, dst.size, picture, interpolation)

    def _make(self, surface: pygame.Surface) -> pygame.Surface:
        if surface.get_flags() & pygame.SRCALPHA:
            return surface.convert_alpha()  # ARGB8888: what blits fastest onto XRGB8888
        return surface.convert(self._surface)

    def draw(self, tex: Sprite, dst: pygame.Rect, *, alpha: int = 255, angle: float = 0.0) -> None:
        surface = self._cleared()
        if (tex.width, tex.height) != dst.size:
            tex = self._stretched(tex, dst.size)
        if angle:
            tex = pygame.transform.rotate(tex, -angle)
            dst = tex.get_rect(center=dst.center)
        tex.set_alpha(alpha)  # None would switch blending off altogether
        surface.blit(tex, dst)

    def _stretched(self, tex: pygame.Surface, size: tuple[int, int]) -> pygame.Surface:
        key = (id(tex), size)
        held = self._scaled.get(key)
        if held is None:  # (the entry keeps its sprite alive, so the id stays that sprite's)
            held = self._scaled[key] = (tex, pygame.transform.smoothscale(tex, size))
            while len(self._scaled) > self.SCALED:
                self._scaled.popitem(last=False)
        else:
            self._scaled.move_to_end(key)
        return held[1]


@dataclass
class _Shown:
    """What a picture slot shows: the array, the frame it arrived in, and how it was scaled
    (`picture`: the scaled copy, or None where it was resized straight into the screen)."""

    rgb: object
    arrived: int
    size: tuple[int, int]
    picture: pygame.Surface | None
    interpolation: int


def _bgra_view(surface: pygame.Surface) -> np.ndarray | None:
    """The surface's pixels as an HxWx4 BGRA array to write into, where its layout allows."""
    w, h = surface.get_size()
    if surface.get_bytesize() != 4 or surface.get_pitch() != 4 * w or surface.get_masks()[:3] != (0xFF0000, 0xFF00, 0xFF):
        return None
    return np.frombuffer(surface.get_buffer(), np.uint8).reshape(h, w, 4)


def open_window_canvas(size: tuple[int, int], *, rotate: int = 0, title: str = "Smile Mirror",
                       fullscreen: bool = False, hidden: bool = False, compositor: str = "auto"
                       ) -> tuple[Window, Canvas]:
    """A window (or the whole screen) and its canvas; the video subsystem must be up.
    `compositor`: "auto" (SDL's renderer where a GPU is behind it, else the CPU's blitters),
    "renderer" (SDL's renderer even if it is the software one: tests) or "surface"."""
    window = Window(title, size=size, fullscreen_desktop=fullscreen, hidden=hidden)
    # SDL_RENDER_DRIVER=software makes even an "accelerated" request give SDL's software renderer
    wants_cpu = os.environ.get("SDL_RENDER_DRIVER", "").strip().lower() == "software"
    renderer = None
    if compositor == "renderer" or (compositor == "auto" and not wants_cpu):
        try:
            renderer = Renderer(window, accelerated=1, vsync=False)
        except (pygame.error, SDLError):  # no GPU renderer here (SDL's dummy driver, a bare framebuffer)
            renderer = Renderer(window, accelerated=0, vsync=False) if compositor == "renderer" else None
        gl = _gl_renderer_name() if renderer is not None and compositor == "auto" else ""
        if any(name in gl.lower() for name in SOFTWARE_GL):
            log.info("display: %s is OpenGL drawn by the CPU; the CPU composes on the window surface instead", gl)
            del renderer  # SDL gives the window its surface only once its renderer is gone
            renderer = None
    canvas: Canvas
    if renderer is None:
        canvas = SurfaceCanvas(window, rotate=rotate)
    else:
        canvas = RendererCanvas(renderer, tuple(window.size), rotate=rotate)  # type: ignore[arg-type]
    log.debug("display: composed by %s", "the CPU on the window surface" if canvas.software else "SDL's renderer")
    return window, canvas


# OpenGL implementations that rasterise on the CPU (Mesa's): a 1080p textured quad costs them
# 15-17 ms, where blitting the same picture on the window surface costs under 1 ms.
SOFTWARE_GL = ("llvmpipe", "softpipe", "swrast", "software rasterizer")


def _gl_renderer_name() -> str:
    """GL_RENDERER of the GL context SDL's renderer just made current, or "" if there is none
    (another render backend) or it cannot be asked."""
    import ctypes

    try:
        maps = Path("/proc/self/maps").read_text()
    except OSError:
        return ""
    for lib in ("libGLESv2.so.2", "libGL.so.1"):
        if lib.split(".so")[0] + ".so" not in maps:
            continue
        try:
            get_string = ctypes.CDLL(lib).glGetString
            get_string.restype = ctypes.c_char_p
            get_string.argtypes = [ctypes.c_uint]
            name = get_string(0x1F01)  # GL_RENDERER
        except (OSError, AttributeError):
            continue
        if name:
            return name.decode(errors="replace")
    return ""
