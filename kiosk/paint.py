"""The paint kit: palette, text, gauges, bars, face marks and the frame-to-screen mapping that
every mode's painter draws with.

Everything is drawn at the screen's native resolution on a canvas (kiosk.canvas: SDL's
renderer on a GPU, the CPU's blitters elsewhere): the camera image is scaled once per frame,
and every label, gauge and mark is rendered once into a sprite, cached by what it shows, and
copied each frame. Sizes are in layout units `u` (1% of the screen's shorter side), so the same layout
reads from 3 m on any screen and in portrait.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Iterable

import numpy as np

from kiosk.canvas import Canvas, Sprite  # first: it sets SDL's defaults before pygame loads

import pygame  # noqa: E402
import pygame.gfxdraw  # noqa: E402

from core.framing import Framing, follow_face  # noqa: E402
from core.types import SmileKind, shown_score  # noqa: E402

Colour = tuple[int, int, int]
Box = tuple[float, float, float, float]

INK: Colour = (245, 247, 250)
MUTED: Colour = (190, 198, 210)
SHADE: Colour = (12, 16, 22)
GOLD: Colour = (255, 206, 84)
SKY: Colour = (140, 200, 255)
KIND_COLOURS: dict[SmileKind, Colour] = {SmileKind.GENUINE: GOLD, SmileKind.POSED: SKY, SmileKind.NONE: MUTED}
_STOPS = ((0.0, (120, 140, 165)), (50.0, (110, 215, 180)), (80.0, (255, 206, 84)), (100.0, (255, 150, 70)))


def score_colour(score: float) -> Colour:
    """Cool slate for no smile, mint at the smile line, gold for a broad smile."""
    s = min(max(score, 0.0), 100.0)
    for (a, ca), (b, cb) in zip(_STOPS, _STOPS[1:]):
        if s <= b:
            f = (s - a) / (b - a)
            return tuple(round(x + (y - x) * f) for x, y in zip(ca, cb))  # type: ignore[return-value]
    return _STOPS[-1][1]


def parse_colour(text: str) -> Colour:
    """'#ffce54' -> (255, 206, 84); raises ValueError for anything else."""
    t = text.strip()
    if len(t) != 7 or t[0] != "#":
        raise ValueError(f"{text!r} is not a colour like #ffce54")
    return int(t[1:3], 16), int(t[3:5], 16), int(t[5:7], 16)


# ---- the frame-to-screen mapping (pure) --------------------------------------------------------

@dataclass(frozen=True, slots=True)
class ScreenMap:
    """Where the camera picture lands: `crop` (x, y, w, h) of the frame, in frame pixels, fills
    `area` (x, y, w, h) of the screen, the whole screen unless given (a group wider than the
    screen's shape is shown with bars above and below); `mirror` flips it left-right as a mirror
    does."""

    frame: tuple[int, int]
    crop: tuple[int, int, int, int]
    screen: tuple[int, int]
    mirror: bool = True
    area: tuple[int, int, int, int] | None = None

    def box(self, box: Box) -> tuple[float, float, float, float]:
        """A normalised camera box as (left, top, right, bottom) screen pixels."""
        fw, fh = self.frame
        cx, cy, cw, ch = self.crop
        ax, ay, aw, ah = self.area or (0, 0, *self.screen)
        x0, y0, x1, y1 = box
        if self.mirror:
            x0, x1 = 1.0 - x1, 1.0 - x0
            cx = fw - (cx + cw)
        sx, sy = aw / cw, ah / ch
        return (ax + (x0 * fw - cx) * sx, ay + (y0 * fh - cy) * sy,
                ax + (x1 * fw - cx) * sx, ay + (y1 * fh - cy) * sy)

    def point(self, x: float, y: float) -> tuple[float, float]:
        left, top, _, _ = self.box((x, y, x, y))
        return left, top


def cover_crop(frame: tuple[int, int], screen: tuple[int, int], centre: tuple[float, float] = (0.5, 0.5)
               ) -> tuple[int, int, int, int]:
    """The largest part of a `frame`-sized image with the screen's shape, centred as near
    `centre` (normalised, un-mirrored frame coordinates) as the frame allows."""
    fw, fh = frame
    sw, sh = screen
    scale = max(sw / fw, sh / fh)
    cw, ch = min(fw, round(sw / scale)), min(fh, round(sh / scale))
    x = min(max(round(centre[0] * fw - cw / 2), 0), fw - cw)
    y = min(max(round(centre[1] * fh - ch / 2), 0), fh - ch)
    return x, y, cw, ch


def thick_arc(surf: pygame.Surface, c: float, r_in: float, r_out: float, start: float, sweep: float,
              colour: tuple) -> None:
    """An anti-aliased ring segment from `start` through `sweep` radians, centred at (c, c)."""
    steps = max(4, int(abs(sweep) * r_out / 3))
    outer = list(_arc_points(c, r_out, start, sweep, steps))
    inner = list(_arc_points(c, r_in, start, sweep, steps))[::-1]
    poly = outer + inner
    pygame.gfxdraw.aapolygon(surf, poly, colour)
    pygame.gfxdraw.filled_polygon(surf, poly, colour)


def _arc_points(c: float, r: float, start: float, sweep: float, steps: int) -> Iterable[tuple[float, float]]:
    for i in range(steps + 1):
        a = start + sweep * i / steps
        yield c + r * math.cos(a), c + r * math.sin(a)


# Visitor text sizes, as cap heights in fractions of the screen height: what reads from 3 m
# (the score's digits >= 8%, a verdict >= 5%, every other line for the visitor >= 3%), with a
# little margin. "operator" is for diagnostics and the like, not meant to be read from afar.
ROLES: dict[str, float] = {"score": 0.092, "headline": 0.06, "verdict": 0.056, "line": 0.034, "operator": 0.018}
CAP_RATIO = 0.5  # cap height / point size of pygame's bundled font (measured: "H" at 100 px is 50 px)


@dataclass(frozen=True, slots=True)
class Drawn:
    """One line of text as drawn this frame (tests measure visitor text from these)."""

    text: str
    px: int
    role: str
    rect: pygame.Rect


class Painter:
    """Drawing for painters: all sizes in screen pixels, usually multiples of `u`."""

    def __init__(self, canvas: Canvas, *, accent: Colour | None = None, logo: np.ndarray | None = None) -> None:
        if not pygame.font.get_init():
            pygame.font.init()
        self.canvas = canvas
        self.w, self.h = canvas.size
        self.u = min(self.w, self.h) / 100.0
        self.portrait = self.h > self.w
        self.accent = accent or GOLD
        self.logo = logo  # the venue's logo, RGBA (kiosk.branding), or None
        self._framing: Framing | None = None  # the crop following the face (camera(..., t_ms=))
        self._framed_ms: float | None = None
        self.map: ScreenMap | None = None
        self.drawn: list[Drawn] = []  # this frame's text, newest last (cleared by the renderer)
        self._fonts: dict[int, pygame.font.Font] = {}

    def px(self, role: str) -> int:
        """The point size for a text role on this screen."""
        return math.ceil(ROLES[role] * self.h / CAP_RATIO)

    # -- text ---------------------------------------------------------------------------------------
    def font(self, px: int) -> pygame.font.Font:
        font = self._fonts.get(px)
        if font is None:
            font = self._fonts[px] = pygame.font.Font(None, max(6, px))
        return font

    def label(self, text: str, px: int, colour: Colour, *, shadow: bool = True) -> Sprite:
        def make() -> pygame.Surface:
            font = self.font(px)
            fg = font.render(text, True, colour)
            if not shadow:
                return fg
            off = max(2, px // 28)
            surf = pygame.Surface((fg.get_width() + off, fg.get_height() + off), pygame.SRCALPHA)
            surf.blit(font.render(text, True, SHADE), (off, off))
            surf.blit(fg, (0, 0))
            return surf
        return self.canvas.sprite(("label", text, px, colour, shadow), make)

    def text(self, text: str, px: int | str, colour: Colour = INK, *, shadow: bool = True, alpha: int = 255,
             **anchor: object) -> pygame.Rect:
        """Draw one line of text placed by a pygame.Rect anchor (center=, midtop=, topleft=...).
        `px` is a point size, or a role from ROLES ("score", "verdict", "line", ...)."""
        if not text:
            return pygame.Rect(0, 0, 0, 0)
        role = px if isinstance(px, str) else "line"
        size = self.px(px) if isinstance(px, str) else round(px)
        tex = self.label(text, size, colour, shadow=shadow)
        rect = tex.get_rect(**anchor)
        self.canvas.draw(tex, rect, alpha=alpha)
        self.drawn.append(Drawn(text, size, role, rect))
        return rect

    def wrap(self, text: str, px: int | str, width: float) -> list[str]:
        """`text` broken into lines that fit `width` at this size (a word is never split)."""
        font = self.font(self.px(px) if isinstance(px, str) else round(px))
        lines: list[str] = []
        for word in text.split():
            if lines and font.size(f"{lines[-1]} {word}")[0] <= width:
                lines[-1] = f"{lines[-1]} {word}"
            else:
                lines.append(word)
        return lines

    def paragraph(self, text: str, px: int | str, colour: Colour, width: float, *, x: float, y: float,
                  align: str = "left", shadow: bool = True, alpha: int = 255) -> pygame.Rect:
        """Wrapped text from (x, y) (its top-left, or top-centre with align="center")."""
        size = self.px(px) if isinstance(px, str) else round(px)
        step = round(self.font(size).get_linesize() * 0.92)
        box = pygame.Rect(round(x), round(y), 0, 0)
        for i, line in enumerate(self.wrap(text, px, width)):
            pos = (round(x), round(y + i * step))
            rect = self.text(line, px, colour, shadow=shadow, alpha=alpha,
                             **({"midtop": pos} if align == "center" else {"topleft": pos}))
            box = rect if box.width == 0 else box.union(rect)
        return box

    def fit_px(self, text: str, px: int, width: float) -> int:
        """The largest size up to `px` at which `text` fits in `width` pixels."""
        w = self.font(px).size(text)[0]
        return px if w <= width else max(6, int(px * width / max(1, w)))

    # -- pictures ------------------------------------------------------------------------------------
    def camera(self, rgb: np.ndarray, *, mirror: bool = True, centre: tuple[float, float] = (0.5, 0.5),
               follow: Box | None = None, t_ms: float | None = None, widen: bool = False,
               above: int | None = None) -> ScreenMap:
        """The camera picture filling the screen, cropped to its shape around `centre`; with
        `t_ms` (the view's clock), the crop follows the face box `follow` smoothly instead
        (core.framing), and glides back to the centre when there has been none for a while.
        With `widen` (a group's box), a group wider than the screen's shape widens the crop and
        the picture is shown across the screen's width, with bars above and below: centred on
        the screen, or standing on `above` (a panel's top) where it fits above that."""
        h, w = rgb.shape[:2]
        if t_ms is None:
            crop = cover_crop((w, h), (self.w, self.h), centre)
        else:
            dt = 0.0 if self._framed_ms is None else t_ms - self._framed_ms
            self._framed_ms = t_ms
            self._framing = follow_face((w, h), self.w / self.h, follow, self._framing, dt, widen=widen)
            x, y, cw, ch = self._framing.rect()
            cw, ch = min(cw, w), min(ch, h)
            crop = (min(max(x, 0), w - cw), min(max(y, 0), h - ch), cw, ch)
        area = pygame.Rect(0, 0, self.w, self.h)
        if crop[2] * self.h > crop[3] * self.w + crop[3]:  # wider than the screen by over a pixel
            area.height = round(self.w * crop[3] / crop[2])
            if above is None:
                area.centery = self.h // 2
            else:  # on the panel; from the screen's top while it narrows back taller than that
                area.top = max(0, above - area.height)
        self.canvas.image("camera", rgb, crop, area, flip=mirror)
        self.map = ScreenMap((w, h), crop, (self.w, self.h), mirror,
                             None if area.size == (self.w, self.h) else tuple(area))  # type: ignore[arg-type]
        return self.map

    def photo(self, rgb: np.ndarray, area: pygame.Rect | None = None) -> pygame.Rect:
        """A whole photo fitted into `area` (default: the screen), not mirrored (it is what
        others will see)."""
        area = area or pygame.Rect(0, 0, self.w, self.h)
        h, w = rgb.shape[:2]
        scale = min(area.width / w, area.height / h)
        dst = pygame.Rect(0, 0, max(1, round(w * scale)), max(1, round(h * scale)))
        dst.center = area.center
        self.canvas.image("photo", rgb, (0, 0, w, h), dst)
        return dst

    # -- shapes -----------------------------------------------------------------------------------
    def dim(self, alpha: int = 150, colour: Colour = SHADE) -> None:
        self.canvas.fill((*colour, alpha))

    def flash(self, strength: float) -> None:
        if strength > 0:
            self.canvas.fill((255, 255, 255, round(255 * min(1.0, strength))))

    def fade(self, top: int, height: int, *, alpha: int = 215, upward: bool = False) -> None:
        """A dark band fading in from transparent (downward: darkest at the bottom)."""
        def make() -> pygame.Surface:
            band = pygame.Surface((1, 64), pygame.SRCALPHA)
            for y in range(64):
                a = round(alpha * min(1.0, y / 32) ** 1.3)
                band.set_at((0, 63 - y if upward else y), (*SHADE, a))
            return band
        self.canvas.draw(self.canvas.sprite(("fade", alpha, upward), make), pygame.Rect(0, top, self.w, height))

    def panel(self, rect: pygame.Rect, *, colour: Colour = SHADE, alpha: int = 190, radius: int | None = None) -> None:
        """A rounded translucent panel (behind text that must read on any background)."""
        radius = rect.height // 4 if radius is None else radius

        def make() -> pygame.Surface:
            surf = pygame.Surface(rect.size, pygame.SRCALPHA)
            pygame.draw.rect(surf, (*colour, alpha), surf.get_rect(), border_radius=radius)
            return surf
        self.canvas.draw(self.canvas.sprite(("panel", rect.size, colour, alpha, radius), make), rect)

    def bar(self, rect: pygame.Rect, fraction: float, colour: Colour, *, mark: float | None = None,
            mark_colour: Colour = INK) -> None:
        """A rounded progress bar, optionally with a tick at `mark` (0-1): where a goal begins."""
        f = min(max(fraction, 0.0), 1.0)
        filled = max(rect.height, round(rect.width * f)) if f > 0 else 0

        def make() -> pygame.Surface:
            surf = pygame.Surface((rect.width, rect.height + 2 * (rect.height // 2)), pygame.SRCALPHA)
            body = pygame.Rect(0, rect.height // 2, rect.width, rect.height)
            radius = rect.height // 2
            pygame.draw.rect(surf, (*SHADE, 150), body, border_radius=radius)
            pygame.draw.rect(surf, (255, 255, 255, 200), body, width=max(1, rect.height // 8), border_radius=radius)
            if filled:
                pygame.draw.rect(surf, colour, pygame.Rect(0, body.top, filled, rect.height), border_radius=radius)
            if mark is not None:
                x = round(rect.width * min(max(mark, 0.0), 1.0))
                tick = max(2, rect.height // 4)
                pygame.draw.rect(surf, mark_colour, pygame.Rect(x - tick // 2, 0, tick, surf.get_height()))
            return surf
        tex = self.canvas.sprite(("bar", rect.size, filled, colour, mark, mark_colour), make)
        self.canvas.draw(tex, pygame.Rect(rect.left, rect.top - rect.height // 2, tex.width, tex.height))

    def gauge(self, score: float, centre: tuple[float, float], radius: float, *, number_px: int | None = None,
              thickness: float | None = None, backdrop: bool = False, role: str = "score") -> pygame.Rect:
        """The Smile Score dial: a 270-degree ring open at the bottom, filled to the score, the
        number in the middle (recorded under `role`, for the tests that measure visitor text)."""
        value = shown_score(score)
        r_out = round(radius)
        r_in = r_out - max(3, round(thickness if thickness is not None else 0.17 * radius))
        px = number_px or round(radius)

        def make() -> pygame.Surface:
            size = 2 * r_out + 4
            surf = pygame.Surface((size, size), pygame.SRCALPHA)
            c = size / 2
            if backdrop:
                pygame.gfxdraw.filled_circle(surf, round(c), round(c), r_in, (*SHADE, 170))
            start, sweep = math.radians(135), math.radians(270)
            thick_arc(surf, c, r_in, r_out, start, sweep, (255, 255, 255, 60 if not backdrop else 80))
            if value > 0:
                thick_arc(surf, c, r_in, r_out, start, sweep * value / 100.0, (*score_colour(value), 255))
            number = self.font(px).render(str(value), True, INK)
            surf.blit(number, number.get_rect(center=(c, c + 0.03 * size)))
            return surf
        tex = self.canvas.sprite(("gauge", value, r_out, r_in, px, backdrop), make)
        rect = tex.get_rect(center=(round(centre[0]), round(centre[1])))
        self.canvas.draw(tex, rect)
        w, h = self.font(px).size(str(value))
        self.drawn.append(Drawn(str(value), px, role, pygame.Rect(rect.centerx - w // 2, rect.centery - h // 2, w, h)))
        return rect

    def face_marks(self, box: Box, colour: Colour) -> tuple[float, float, float, float]:
        """Corner brackets around a face (a camera box), on the picture last drawn by `camera`.
        Returns the brackets' (left, top, right, bottom)."""
        assert self.map is not None, "draw the camera first"
        left, top, right, bottom = self.map.box(box)
        pad = 0.08 * (right - left)
        left, right, top, bottom = left - pad, right + pad, top - pad * 1.6, bottom + pad
        arm = max(4, round(0.22 * (right - left)))
        width = max(2, round(0.6 * self.u))
        for x, y, dx, dy in ((left, top, 1, 1), (right, top, -1, 1), (left, bottom, 1, -1), (right, bottom, -1, -1)):
            x0 = round(x if dx > 0 else x - arm)
            y0 = round(y if dy > 0 else y - arm)
            self.canvas.fill((*colour, 255), pygame.Rect(x0, round(y if dy > 0 else y - width), arm, width))
            self.canvas.fill((*colour, 255), pygame.Rect(round(x if dx > 0 else x - width), y0, width, arm))
        return left, top, right, bottom

    def dot(self, centre: tuple[float, float], radius: float, colour: Colour, *, alpha: int = 255,
            filled: bool = True, width: int = 0) -> None:
        """An anti-aliased disc (or ring of `width` px)."""
        r = max(1, round(radius))
        w = width or max(1, round(0.3 * self.u))

        def make() -> pygame.Surface:
            surf = pygame.Surface((2 * r + 3, 2 * r + 3), pygame.SRCALPHA)
            c = r + 1
            if filled:
                pygame.gfxdraw.filled_circle(surf, c, c, r, (*colour, 255))
                pygame.gfxdraw.aacircle(surf, c, c, r, (*colour, 255))
            else:
                for k in range(w):
                    pygame.gfxdraw.aacircle(surf, c, c, max(1, r - k), (*colour, 255))
            return surf
        tex = self.canvas.sprite(("dot", r, colour, filled, w if not filled else 0), make)
        self.canvas.draw(tex, tex.get_rect(center=(round(centre[0]), round(centre[1]))), alpha=alpha)

    def confetto(self, centre: tuple[float, float], size: float, angle_deg: float, colour: Colour, *,
                 alpha: int = 235) -> None:
        """One piece of confetti: a small rotated card."""
        w, h = max(2, round(2.8 * size)), max(1, round(1.2 * size))

        def make() -> pygame.Surface:
            surf = pygame.Surface((w, h), pygame.SRCALPHA)
            surf.fill((*colour, 255))
            return surf
        tex = self.canvas.sprite(("confetto", w, h, colour), make)
        self.canvas.draw(tex, tex.get_rect(center=(round(centre[0]), round(centre[1]))), alpha=alpha, angle=angle_deg)
