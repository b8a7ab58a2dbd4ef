"""Draws a View onto a pygame Surface: the mirrored camera, the Smile Score gauge, the smile
kind in words, the eye-engagement bar, and the calm attract and notice screens.

Sizes are fractions of the canvas height so the same layout reads from 3 m on any screen.
Text and the gauge are cached and redrawn only when their value changes; the per-frame pixel
work is the camera image's mirror flip and blit (the display scales it in SDL, and a scale here
happens only when the frame and canvas sizes differ) and, on the attract screen, one dimming
blend.
"""

from __future__ import annotations

import logging
import math
from collections import OrderedDict
from typing import TYPE_CHECKING, Iterable

import numpy as np
import pygame
import pygame.gfxdraw

from core.framing import Framing, follow_face
from core.types import SmileKind, SmileReading, shown_eye, shown_score
from kiosk.text import kind_label, t
from kiosk.view import Screen, View

if TYPE_CHECKING:
    from kiosk.booth import BoothView
    from kiosk.branding import Branding

log = logging.getLogger(__name__)

INK = (245, 247, 250)
MUTED = (190, 198, 210)
SHADE = (12, 16, 22)
KIND_COLOURS = {SmileKind.GENUINE: (255, 206, 84), SmileKind.POSED: (140, 200, 255), SmileKind.NONE: (190, 198, 210)}
_STOPS = ((0.0, (120, 140, 165)), (50.0, (110, 215, 180)), (80.0, (255, 206, 84)), (100.0, (255, 150, 70)))


def score_colour(score: float) -> tuple[int, int, int]:
    """Cool slate for no smile, mint at the smile line, gold for a broad smile."""
    s = min(max(score, 0.0), 100.0)
    for (a, ca), (b, cb) in zip(_STOPS, _STOPS[1:]):
        if s <= b:
            f = (s - a) / (b - a)
            return tuple(round(x + (y - x) * f) for x, y in zip(ca, cb))  # type: ignore[return-value]
    return _STOPS[-1][1]


def cover_rect(src: tuple[int, int], dst: tuple[int, int]) -> tuple[pygame.Rect, tuple[int, int]]:
    """The part of a `src`-sized image that, scaled, fills `dst` without distortion (centre crop),
    and the size it must be scaled to."""
    sw, sh = src
    dw, dh = dst
    scale = max(dw / sw, dh / sh)
    cw, ch = min(sw, round(dw / scale)), min(sh, round(dh / scale))
    return pygame.Rect((sw - cw) // 2, (sh - ch) // 2, cw, ch), (dw, dh)


class Renderer:
    """Draws Views on a canvas of a fixed size; owns every cache."""

    def __init__(self, size: tuple[int, int], branding: "Branding | None" = None) -> None:
        if not pygame.font.get_init():
            pygame.font.init()
        self.size = size
        self.w, self.h = size
        self.u = min(self.w, self.h) / 100.0  # one layout unit
        self._fonts: dict[int, pygame.font.Font] = {}
        self._text: OrderedDict[tuple, pygame.Surface] = OrderedDict()
        self._gauge_key: tuple | None = None
        self._gauge: pygame.Surface | None = None
        self._band = self._vertical_fade(round(self.h * 0.36))
        self._dim = pygame.Surface(size, pygame.SRCALPHA)
        self._dim.fill((*SHADE, 150))
        self._crop_key: tuple | None = None
        self._crop: tuple[pygame.Rect, tuple[int, int]] | None = None
        self._framing: Framing | None = None  # the crop that follows the face (core.framing)
        self._framed_ms: float | None = None
        self._photo_key: np.ndarray | None = None
        self._photo_surf: pygame.Surface | None = None
        self._white = pygame.Surface(size)
        self._white.fill((255, 255, 255))
        self._group = None  # group mode's painter, made on first use (issue 9)
        self.kind_colours = dict(KIND_COLOURS)
        self._logo: pygame.Surface | None = None
        if branding is not None:
            self.kind_colours[SmileKind.GENUINE] = branding.accent
            if branding.logo is not None:
                self._logo = _fit(branding.logo, (round(self.w * 0.4), round(self.h * 0.12)))

    # -- public -----------------------------------------------------------------------------
    def draw(self, view: View, canvas: pygame.Surface) -> None:
        booth = view.booth
        if view.screen is Screen.REVIEW and booth is not None and booth.photo is not None:
            self._photo(booth.photo, canvas)
            self._review_caption(booth.caption, canvas)
        elif view.screen in (Screen.UNAVAILABLE, Screen.FAILSAFE) or view.frame is None:
            self._notice(view, canvas)
        elif view.screen is Screen.ATTRACT and booth is not None and booth.photo is not None:
            self._photo(booth.photo, canvas)  # slideshow of the latest photos
            self._attract(view, canvas, t("booth_attract_title"), t("booth_attract_detail"))
        else:
            self._camera(view.frame, view.mirror, canvas, _face_to_follow(view), view.t_ms)
            # -- group mode (issue 9): kiosk/render_group.py draws faces, meter, sparks --
            if view.screen is Screen.MIRROR and view.group is not None and view.group.faces:
                if self._group is None:
                    from kiosk.render_group import GroupPainter
                    self._group = GroupPainter(self)
                self._group.draw(view, view.group, canvas)
            # -- end group mode --
            elif view.screen is Screen.MIRROR and view.reading is not None:
                self._face_marks(view.reading, view.mirror, canvas)
                self._score_panel(view.reading, canvas)
            else:
                self._attract(view, canvas)
        if booth is not None:
            self._booth_overlay(booth, view, canvas)
        if view.diagnostics:
            self._diagnostics(view.diagnostics, canvas)

    # -- pieces -----------------------------------------------------------------------------
    def _camera(self, rgb: np.ndarray, mirror: bool, canvas: pygame.Surface,
                face: tuple[float, float, float, float] | None = None, t_ms: float = 0.0) -> None:
        h, w = rgb.shape[:2]
        dt = 0.0 if self._framed_ms is None else t_ms - self._framed_ms
        self._framed_ms = t_ms
        self._framing = follow_face((w, h), self.w / self.h, face, self._framing, dt)
        crop = pygame.Rect(self._framing.rect()).clamp(pygame.Rect(0, 0, w, h)).clip(pygame.Rect(0, 0, w, h))
        self._crop_key, self._crop = (w, h), (crop, self.size)
        target = self.size
        surf = pygame.image.frombuffer(np.ascontiguousarray(rgb), (w, h), "RGB").subsurface(crop)
        if mirror:
            surf = pygame.transform.flip(surf, True, False)
        if surf.get_size() != target:
            surf = pygame.transform.scale(surf, target)
        canvas.blit(surf, (0, 0))

    def box_on_screen(self, box: tuple[float, float, float, float], mirror: bool) -> tuple[float, float, float, float]:
        """A normalised camera box as (left, top, right, bottom) canvas pixels of the (mirrored,
        cropped, scaled) picture last drawn by `_camera`."""
        crop, _ = self._crop  # type: ignore[misc]
        fw, fh = self._crop_key  # type: ignore[misc]
        x0, y0, x1, y1 = box
        if mirror:
            x0, x1 = 1.0 - x1, 1.0 - x0
            cx0 = fw - crop.right
        else:
            cx0 = crop.left
        sx, sy = self.w / crop.width, self.h / crop.height
        return (x0 * fw - cx0) * sx, (y0 * fh - crop.top) * sy, (x1 * fw - cx0) * sx, (y1 * fh - crop.top) * sy

    def _face_marks(self, r: SmileReading, mirror: bool, canvas: pygame.Surface) -> None:
        """Corner brackets around the face, in the mirrored picture's coordinates."""
        left, top, right, bottom = self.box_on_screen(r.box, mirror)
        pad = 0.08 * (right - left)
        left, right, top, bottom = left - pad, right + pad, top - pad * 1.6, bottom + pad
        colour = score_colour(r.score)
        arm = max(4.0, 0.22 * (right - left))
        width = max(2, round(0.6 * self.u))
        for (x, y, dx, dy) in ((left, top, 1, 1), (right, top, -1, 1), (left, bottom, 1, -1), (right, bottom, -1, -1)):
            pygame.draw.line(canvas, colour, (x, y), (x + dx * arm, y), width)
            pygame.draw.line(canvas, colour, (x, y), (x, y + dy * arm), width)

    def _score_panel(self, r: SmileReading, canvas: pygame.Surface) -> None:
        u, h = self.u, self.h
        canvas.blit(self._band, (0, h - self._band.get_height()))
        gauge = self._gauge_surface(shown_score(r.score))
        gx = round(4 * u)
        gy = h - gauge.get_height() - round(4 * u)
        canvas.blit(gauge, (gx, gy))
        tx = gx + gauge.get_width() + round(4 * u)
        kind_colour = self.kind_colours[r.kind]
        caption = self._label(t("score_caption"), round(4.2 * u), MUTED, shadow=True)
        kind = self._label(kind_label(r.kind), round(9 * u), kind_colour, shadow=True)
        eye_label = self._label(t("eye_engagement", value=shown_eye(r.eye_engagement)), round(4.6 * u), INK, shadow=True)
        bar_w, bar_h = min(self.w - tx - round(5 * u), round(60 * u)), max(4, round(2.2 * u))
        y = gy + round(1 * u)
        canvas.blit(caption, (tx, y))
        y += caption.get_height() + round(0.8 * u)
        canvas.blit(kind, (tx, y))
        y += kind.get_height() + round(1.6 * u)
        canvas.blit(eye_label, (tx, y))
        y += eye_label.get_height() + round(1.2 * u)
        self._bar(canvas, pygame.Rect(tx, y, bar_w, bar_h), r.eye_engagement / 100.0, self.kind_colours[SmileKind.GENUINE])

    def _attract(self, view: View, canvas: pygame.Surface, title: str = "", detail: str = "") -> None:
        canvas.blit(self._dim, (0, 0))
        u = self.u
        phase = 0.5 + 0.5 * math.sin(view.t_ms / 1000.0 * 1.6)
        radius = round((22 + 3 * phase) * u)
        centre = (self.w // 2, round(self.h * 0.42))
        ring = (*score_colour(50 + 30 * phase), 255)
        for k in range(max(2, round(0.8 * u))):
            pygame.gfxdraw.aacircle(canvas, centre[0], centre[1], radius - k, ring)
        title = self._label(title or view.message or t("attract_title"), round(10 * u), INK, shadow=True)
        sub = self._label(detail or view.detail or t("attract_detail"), round(5.5 * u), MUTED, shadow=True)
        canvas.blit(title, title.get_rect(center=(self.w // 2, round(self.h * 0.78))))
        canvas.blit(sub, sub.get_rect(center=(self.w // 2, round(self.h * 0.78 + 9 * u))))
        if self._logo is not None:
            canvas.blit(self._logo, self._logo.get_rect(midtop=(self.w // 2, round(4 * u))))

    def _photo(self, rgb: np.ndarray, canvas: pygame.Surface) -> None:
        """A photo (review or slideshow): all of it, scaled once to fit, centred on the calm
        background, not mirrored (it is what others will see)."""
        if self._photo_key is not rgb:
            h, w = rgb.shape[:2]
            scale = min(self.w / w, self.h / h)
            size = (max(1, round(w * scale)), max(1, round(h * scale)))
            surf = pygame.image.frombuffer(np.ascontiguousarray(rgb), (w, h), "RGB")
            self._photo_key, self._photo_surf = rgb, pygame.transform.smoothscale(surf, size)
        canvas.fill(SHADE)
        canvas.blit(self._photo_surf, self._photo_surf.get_rect(center=(self.w // 2, self.h // 2)))

    def _review_caption(self, caption: str, canvas: pygame.Surface) -> None:
        canvas.blit(self._band, (0, self.h - self._band.get_height()))
        if caption:
            text = self._label(caption, round(8 * self.u), INK, shadow=True)
            canvas.blit(text, text.get_rect(midbottom=(self.w // 2, self.h - round(6 * self.u))))

    def _booth_overlay(self, booth: "BoothView", view: View, canvas: pygame.Surface) -> None:
        """Build-up bar, countdown, flash and notices of the photo booth."""
        u = self.u
        phase = booth.phase.value
        if phase == "building" and view.screen is Screen.MIRROR:
            hint = self._label(t("booth_hold"), round(5.5 * u), INK, shadow=True)
            bar = pygame.Rect(0, 0, round(50 * u), max(6, round(2.6 * u)))
            bar.midtop = (self.w // 2, round(4 * u) + hint.get_height() + round(1.5 * u))
            canvas.blit(hint, hint.get_rect(midtop=(self.w // 2, round(4 * u))))
            self._bar(canvas, bar, booth.progress, self.kind_colours[SmileKind.GENUINE])
        elif phase == "countdown" and booth.countdown:
            number = self._label(str(booth.countdown), round(45 * u), INK, shadow=True)
            canvas.blit(number, number.get_rect(center=(self.w // 2, self.h // 2)))
        elif phase == "armed" and view.screen is Screen.MIRROR:
            hint = self._label(t("booth_armed"), round(4.5 * u), MUTED, shadow=True)
            canvas.blit(hint, hint.get_rect(midtop=(self.w // 2, round(3 * u))))
        if booth.notice:
            text = self._label(booth.notice, round(4.5 * u), INK)
            pill = text.get_rect(midtop=(self.w // 2, round(3 * u))).inflate(round(5 * u), round(2 * u))
            pygame.draw.rect(canvas, SHADE, pill, border_radius=pill.height // 2)
            canvas.blit(text, text.get_rect(center=pill.center))
        if booth.flash > 0:
            self._white.set_alpha(round(255 * booth.flash))
            canvas.blit(self._white, (0, 0))

    def _notice(self, view: View, canvas: pygame.Surface) -> None:
        canvas.fill(SHADE)
        u = self.u
        title = self._label(view.message or t("notice_default"), round(8 * u), INK)
        sub = self._label(view.detail or "", round(4.5 * u), MUTED) if view.detail else None
        canvas.blit(title, title.get_rect(center=(self.w // 2, round(self.h * 0.45))))
        if sub is not None:
            canvas.blit(sub, sub.get_rect(center=(self.w // 2, round(self.h * 0.45 + 9 * u))))

    def _diagnostics(self, items: dict, canvas: pygame.Surface) -> None:
        """Operator figures on a dark translucent panel, so they read on any picture."""
        size = max(14, round(4.2 * self.u))
        lines = [self._label(f"{key}: {value}", size, INK) for key, value in items.items()]
        if not lines:
            return
        pad = max(4, round(1.2 * self.u))
        x = y = round(2 * self.u)
        panel = pygame.Surface((max(s.get_width() for s in lines) + 2 * pad,
                                sum(s.get_height() for s in lines) + 2 * pad), pygame.SRCALPHA)
        panel.fill((*SHADE, 190))
        canvas.blit(panel, (x - pad, y - pad))
        for line in lines:
            canvas.blit(line, (x, y))
            y += line.get_height()

    # -- cached drawing ---------------------------------------------------------------------
    def _font(self, px: int) -> pygame.font.Font:
        font = self._fonts.get(px)
        if font is None:
            font = self._fonts[px] = pygame.font.Font(None, px)
        return font

    def _label(self, text: str, px: int, colour: tuple, *, shadow: bool = False) -> pygame.Surface:
        key = (text, px, colour, shadow)
        surf = self._text.get(key)
        if surf is not None:
            self._text.move_to_end(key)
            return surf
        font = self._font(px)
        fg = font.render(text, True, colour)
        if shadow:
            surf = pygame.Surface((fg.get_width() + 2, fg.get_height() + 2), pygame.SRCALPHA)
            surf.blit(font.render(text, True, SHADE), (2, 2))
            surf.blit(fg, (0, 0))
        else:
            surf = fg
        self._text[key] = surf
        if len(self._text) > 256:
            self._text.popitem(last=False)
        return surf

    def _gauge_surface(self, score: int) -> pygame.Surface:
        key = (score,)
        if self._gauge_key == key and self._gauge is not None:
            return self._gauge
        u = self.u
        r_out = round(15 * u)
        r_in = r_out - max(3, round(2.6 * u))
        size = 2 * r_out + 4
        surf = pygame.Surface((size, size), pygame.SRCALPHA)
        c = size / 2
        start, sweep = math.radians(135), math.radians(270)  # open at the bottom
        _thick_arc(surf, c, r_in, r_out, start, sweep, (255, 255, 255, 60))
        if score > 0:
            _thick_arc(surf, c, r_in, r_out, start, sweep * score / 100.0, (*score_colour(score), 255))
        number = self._font(round(15 * u)).render(str(score), True, INK)
        surf.blit(number, number.get_rect(center=(c, c)))
        self._gauge_key, self._gauge = key, surf
        return surf

    def _bar(self, canvas: pygame.Surface, rect: pygame.Rect, fraction: float, colour: tuple) -> None:
        radius = rect.height // 2
        pygame.draw.rect(canvas, (255, 255, 255), rect, width=1, border_radius=radius)
        fill = rect.copy()
        fill.width = max(rect.height, round(rect.width * min(max(fraction, 0.0), 1.0)))
        pygame.draw.rect(canvas, colour, fill, border_radius=radius)

    def _vertical_fade(self, height: int) -> pygame.Surface:
        """A dark band fading in from transparent, under the score panel."""
        band = pygame.Surface((self.w, height), pygame.SRCALPHA)
        for y in range(height):
            alpha = round(215 * min(1.0, y / (0.5 * height)) ** 1.3)
            pygame.draw.line(band, (*SHADE, alpha), (0, y), (self.w, y))
        return band


def _face_to_follow(view: View) -> tuple[float, float, float, float] | None:
    """What the crop keeps in view: the face (in group mode, everybody's faces together)."""
    if view.screen is not Screen.MIRROR:
        return None
    if view.group is not None and view.group.faces:
        boxes = [f.box for f in view.group.faces if f.reading is not None]
        if boxes:
            return (min(b[0] for b in boxes), min(b[1] for b in boxes), max(b[2] for b in boxes),
                    max(b[3] for b in boxes))
    return view.reading.box if view.reading is not None else None


def _fit(rgba: np.ndarray, box: tuple[int, int]) -> pygame.Surface:
    """An RGBA image as a surface scaled (once) to fit inside `box`, keeping its shape."""
    h, w = rgba.shape[:2]
    scale = min(box[0] / w, box[1] / h)
    surf = pygame.image.frombuffer(np.ascontiguousarray(rgba), (w, h), "RGBA")
    return pygame.transform.smoothscale(surf, (max(1, round(w * scale)), max(1, round(h * scale))))


def _arc_points(c: float, r: float, start: float, sweep: float, steps: int) -> Iterable[tuple[float, float]]:
    for i in range(steps + 1):
        a = start + sweep * i / steps
        yield c + r * math.cos(a), c + r * math.sin(a)


def _thick_arc(surf: pygame.Surface, c: float, r_in: float, r_out: float, start: float, sweep: float,
               colour: tuple) -> None:
    steps = max(4, int(abs(sweep) * r_out / 3))
    outer = list(_arc_points(c, r_out, start, sweep, steps))
    inner = list(_arc_points(c, r_in, start, sweep, steps))[::-1]
    poly = outer + inner
    pygame.gfxdraw.aapolygon(surf, poly, colour)
    pygame.gfxdraw.filled_polygon(surf, poly, colour)
