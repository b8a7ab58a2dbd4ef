"""Photo booth mode: the mirror takes the photo when the guest really smiles.

The trigger and the photo store are kiosk.booth's pure state machine and writer; this module
plugs them into the loop (a still is asked of the capture thread, the booth's review screen
replaces the mirror) and paints the build-up bar, countdown, flash, review and slideshow.
"""

from __future__ import annotations

import logging
from dataclasses import replace
from typing import TYPE_CHECKING, ClassVar

import pygame

from kiosk.booth import BoothTrigger, BoothView, Phase, PhotoBooth
from kiosk.modes.base import SingleFaceMode, Tick
from kiosk.modes.lobby import card_rect, paint_attract, paint_mirror
from kiosk.paint import GOLD, INK, MUTED, SHADE, Painter
from kiosk.text import t
from kiosk.takeaway import Takeaway
from kiosk.view import Screen

if TYPE_CHECKING:
    from core.config import Config
    from kiosk.view import View

log = logging.getLogger(__name__)



class BoothMode(SingleFaceMode):
    name: ClassVar[str] = "photobooth"

    def __init__(self, booth: PhotoBooth, takeaway: "Takeaway | None" = None) -> None:
        super().__init__()
        self.booth = booth
        self.takeaway = takeaway  # QR code and prints, when configured
        self._view: BoothView | None = None

    @classmethod
    def from_config(cls, config: "Config") -> "BoothMode":
        """Photo booth mode's parts, from the [booth] config; only this mode ever writes an image."""
        from core.config import state_dir
        from kiosk.photos import PhotoStore

        b = config.booth
        folder = state_dir(config)
        log.info("photo booth: photos go to %s", folder / "photos")
        trigger = BoothTrigger(sensitivity=b.sensitivity, require_genuine=b.genuine_only, hold_ms=b.hold_ms,
                               countdown_s=b.countdown, review_ms=b.review_s * 1000, cooldown_ms=b.cooldown_s * 1000)
        booth = PhotoBooth(trigger, PhotoStore(folder, quota_mb=b.quota_mb, min_free_mb=b.min_free_mb),
                           slideshow=b.slideshow)
        return cls(booth, Takeaway.from_config(config, folder))

    def step(self, tick: Tick) -> Screen:
        """The booth's own screens win over the mirror's."""
        screen = tick.screen
        live = screen in (Screen.MIRROR, Screen.ATTRACT)
        preview = tick.frame.rgb if tick.frame is not None else None
        if self.takeaway is not None:
            self.takeaway.before_step(self.booth, tick.now_ms)
        view = self.booth.step(tick.now_ms, tick.reading if live else None, preview, tick.camera)
        if self.takeaway is not None:
            view = self.takeaway.step(self.booth, view, tick.now_ms)
        if view.photo is not None:
            screen = Screen.REVIEW
        elif screen is Screen.ATTRACT and (slide := self.booth.slide(tick.now_ms)) is not None:
            view = replace(view, photo=slide)
        self._view = view
        return screen

    def view(self) -> BoothView | None:
        return self._view

    def facts(self) -> dict[str, int]:
        """Cumulative anonymous counts for telemetry (kiosk.telemetry.COUNTERS)."""
        return {"photos": len(self.booth.saved)}

    def animating(self) -> bool:
        """Build-up, countdown, flash and review animate even between camera frames."""
        v = self._view
        return v is not None and (v.flash > 0 or v.phase in (Phase.BUILDING, Phase.COUNTDOWN, Phase.REVIEW))

    def pressed(self) -> None:
        """A tap, click or key on the review screen: Print, when offered."""
        if self.takeaway is not None:
            self.takeaway.pressed()

    def close(self) -> None:
        self.booth.close()  # a photo already shot is saved before we go
        if self.takeaway is not None:
            self.takeaway.close()

    def paint(self, view: "View", p: Painter) -> None:
        booth: BoothView | None = view.mode
        if booth is None:
            return
        genuine = self.booth.trigger.require_genuine
        title, detail = t("booth_attract_title"), t("booth_attract_detail_genuine") if genuine else t("booth_attract_detail")
        if view.screen is Screen.REVIEW and booth.photo is not None:
            p.canvas.begin(SHADE)
            p.photo(booth.photo)
            p.fade(round(p.h * 0.64), p.h - round(p.h * 0.64))
            step = round(p.font(p.px("line")).get_linesize() * 0.92)
            width = caption_width(booth, p)
            lines = len(p.wrap(booth.caption, "line", width))
            top = p.h - round(6 * p.u) - lines * step
            p.paragraph(booth.caption, "line", INK, width, x=p.w / 2, y=top, align="center")
            paint_takeaway(booth, p, caption_top=top)
        elif view.screen is Screen.ATTRACT and booth.photo is not None:
            p.canvas.begin(SHADE)
            p.photo(booth.photo)  # slideshow of the latest photos
            paint_attract(replace(view, frame=None), p, title, detail)
        elif view.screen is Screen.MIRROR and view.reading is not None and view.frame is not None:
            paint_mirror(view, p)
        elif view.frame is not None:
            paint_attract(view, p, title, detail)
        _overlay(booth, view, p, genuine)


def hint_line(booth: BoothView, screen: Screen, genuine: bool) -> str:
    """The one line at the top of the live mirror: what the guest can do now. While the last
    photo's smile lasts nothing can happen, so it says so instead of inviting a smile."""
    if screen is not Screen.MIRROR:
        return ""
    if booth.phase is Phase.BUILDING:
        return t("booth_hold")
    if booth.phase in (Phase.ARMED, Phase.COOLDOWN) and booth.rearm:
        return t("booth_rearm")
    if booth.phase is Phase.COOLDOWN:
        return t("booth_wait")
    if booth.phase is Phase.ARMED:
        return t("booth_armed_genuine") if genuine else t("booth_armed")
    return ""


def countdown_spot(face: tuple[float, float, float, float] | None, screen: tuple[int, int],
                   glyph: tuple[float, float], bottom: float, min_width: float = 0.0
                   ) -> tuple[tuple[float, float], float]:
    """Where the countdown digit goes and how much to scale it (at most 1): the largest free
    strip beside, above or below the face (screen pixels, left/top/right/bottom), never over
    it, so the guest's mouth stays in view. `bottom` is where the score panel begins; a strip
    narrower than `min_width` (the word under the digit, which does not shrink) is not used."""
    w, h = screen
    gw, gh = glyph
    if face is None:
        return (w / 2, min(h / 2, bottom / 2)), 1.0
    left, top, right, bottom_face = face
    strips = [  # (x0, y0, x1, y1) of the free space around the face
        (0.0, 0.0, max(0.0, left), bottom),
        (min(w, right), 0.0, float(w), bottom),
        (0.0, 0.0, float(w), max(0.0, top)),
        (0.0, min(bottom, bottom_face), float(w), bottom),
    ]

    def fit(s: tuple[float, float, float, float]) -> float:
        if s[2] - s[0] < min_width:
            return 0.0
        return min((s[2] - s[0]) / gw, (s[3] - s[1]) / gh, 1.0)

    centre_x = (left + right) / 2
    best = max(strips, key=lambda s: (round(fit(s), 2), abs((s[0] + s[2]) / 2 - centre_x)))
    return ((best[0] + best[2]) / 2, (best[1] + best[3]) / 2), max(0.0, fit(best))


def _overlay(booth: BoothView, view: "View", p: Painter, genuine: bool) -> None:
    """Notice, the line saying what happens next (with the build-up bar), countdown and flash.
    Words sit on dark pills so they read over any camera picture, clear of the score card."""
    u = p.u
    x0, x1, y = 0, p.w, round(2 * u)
    card = _face_and_card(view, p)[1] if view.screen is Screen.MIRROR else None
    if card is not None and not p.portrait:  # beside the card, over the guest's side
        x0, x1 = (card.right, p.w) if card.centerx < p.w / 2 else (0, card.left)
    elif card is not None and card.centery < p.h / 2:  # below a card at the top
        y = card.bottom + round(2 * u)
    if booth.notice:
        y = _pill(booth.notice, p, y, INK, (x0, x1)).bottom + round(1.2 * u)
    line = hint_line(booth, view.screen, genuine)
    if line:
        building = booth.phase is Phase.BUILDING
        pill = _pill(line, p, y, INK if building or booth.phase is Phase.ARMED and not booth.rearm else MUTED,
                     (x0, x1))
        if building:
            bar = pygame.Rect(0, 0, min(round(50 * u), round(0.9 * (x1 - x0))), max(6, round(2.6 * u)))
            bar.midtop = (pill.centerx, pill.bottom + round(1.5 * u))
            p.bar(bar, booth.progress, GOLD)
    if booth.phase is Phase.COUNTDOWN and booth.countdown:
        _countdown(booth.countdown, view, p)
    p.flash(booth.flash)


def _pill(text: str, p: Painter, top: int, colour: tuple[int, int, int], span: tuple[int, int]) -> pygame.Rect:
    """The words (a "line", wrapped where the room is narrow) on a rounded dark pill, centred
    in the screen's horizontal `span`."""
    u = p.u
    room = span[1] - span[0]
    lines = p.wrap(text, "line", room * 0.9 - 5 * u)
    font = p.font(p.px("line"))
    step = round(font.get_linesize() * 0.92)
    w = max(font.size(line)[0] for line in lines)
    h = step * (len(lines) - 1) + font.get_height()
    pill = pygame.Rect(0, 0, min(room, w + round(5 * u)), h + round(2 * u))
    pill.midtop = ((span[0] + span[1]) // 2, top)
    p.panel(pill, alpha=200, radius=min(pill.height // 2, round(4 * u)))
    for i, line in enumerate(lines):
        p.text(line, "line", colour, shadow=False, midtop=(pill.centerx, pill.top + round(u) + i * step))
    return pill


def _face_and_card(view: "View", p: Painter) -> tuple[tuple[float, float, float, float] | None, pygame.Rect | None]:
    """The guest's face on screen (with the brackets' margin) and the score card beside it, as
    the live mirror placed them; None where no face is shown."""
    if p.map is None or view.reading is None:
        return None, None
    left, top, right, bottom = p.map.box(view.reading.box)
    pad = 0.1 * (right - left)  # the brackets' margin
    face = (left - pad, top - 1.6 * pad, right + pad, bottom + pad)
    return face, card_rect(p, face)


def _countdown(n: int, view: "View", p: Painter) -> pygame.Rect:
    """The 3-2-1 digit, large, in the free space beside the face, with "Smile!" under it."""
    u = p.u
    px = round(45 * u)
    word_px = p.px("line")
    gw, gh = p.font(px).size(str(n))
    word_w, word_h = p.font(word_px).size(t("booth_countdown"))
    face, card = _face_and_card(view, p)
    limit = p.h * 0.64 if view.reading is not None else p.h
    if face is not None and card is not None:  # the score card beside (or above or below) the face is kept clear too
        if not p.portrait:
            face = (min(face[0], card.left), card.top, max(face[2], card.right), card.bottom)
        elif card.top > face[1]:
            limit = min(limit, card.top)
        else:
            face = (card.left, card.top, card.right, face[3])
    margin = 2 * u
    (cx, cy), scale = countdown_spot(face, (p.w, p.h), (max(gw, word_w) + 2 * margin, gh + word_h + 2 * margin),
                                     limit, min_width=word_w + 2 * margin)
    px = max(round(12 * u), round(px * scale))
    gh = p.font(px).size(str(n))[1]
    cy = max(cy, gh / 2 + word_h / 2 + u)  # whole on the screen, even where the strip is short
    digit = p.text(str(n), px, INK, center=(round(cx), round(cy - word_h / 2)))
    word_x = min(max(cx, word_w / 2 + u), p.w - word_w / 2 - u)  # whole on a narrow screen
    p.text(t("booth_countdown"), "line", GOLD, midtop=(round(word_x), digit.bottom - round(gh * 0.12)))
    return digit


def qr_side(p: Painter) -> int:
    return round(min(p.w, p.h) * 0.30)


def caption_width(booth: BoothView, p: Painter) -> float:
    """The review caption's width: on a landscape screen it stays between the Print pill (left)
    and the QR code (right), which share its bottom band; portrait screens stack them instead."""
    if p.h > p.w or not (booth.share_url or booth.print_offer):
        return p.w * 0.9
    return p.w - 2 * (qr_side(p) + round(6 * p.u))


def paint_takeaway(booth: BoothView, p: Painter, caption_top: int | None = None) -> None:
    """The review screen's QR code (on a white card so phones read it) with its line above, and
    the Print offer: bottom right and bottom left on a landscape screen; on a portrait one stacked
    above the caption (`caption_top`): the Print pill, then the QR code. The QR is made once per
    link and kept as a sprite."""
    u = p.u
    portrait = p.h > p.w
    bottom = (caption_top - round(2 * u)) if portrait and caption_top is not None else p.h - round(3 * u)
    if booth.print_offer:
        px = p.px("line")  # a visitor's word: the same size as every line meant for them
        label = t("booth_print")
        w, h = p.font(px).size(label)
        pill = pygame.Rect(0, 0, w + round(8 * u), h + round(3 * u))
        if portrait:
            pill.midbottom = (p.w // 2, bottom)
            bottom = pill.top - round(2 * u)
        else:
            pill.bottomleft = (round(3 * u), bottom)  # clear of the caption, which is narrower
        p.panel(pill, colour=GOLD, alpha=255, radius=pill.height // 2)
        p.text(label, px, SHADE, shadow=False, center=pill.center)
    if booth.share_url:
        from kiosk.share import qr_surface

        side = qr_side(p)
        tex = p.canvas.sprite(("qr", booth.share_url, side), lambda: qr_surface(booth.share_url, side))
        box = pygame.Rect(0, 0, tex.width, tex.height)
        if portrait:
            box.midbottom = (p.w // 2, bottom)
        else:
            box.bottomright = (p.w - round(3 * u), bottom)
        p.canvas.draw(tex, box)
        label = t("booth_share_scan")
        margin = round(3 * u)
        width = p.w - 2 * margin if portrait else min(p.w - 2 * margin, side * 1.6)
        lines = p.wrap(label, "line", width)
        widest = max(p.font(p.px("line")).size(line)[0] for line in lines)
        step = round(p.font(p.px("line")).get_linesize() * 0.92)
        cx = min(max(box.centerx, margin + widest / 2), p.w - margin - widest / 2)  # whole on the screen
        p.paragraph(label, "line", INK, width, x=cx, y=box.top - round(1 * u) - len(lines) * step, align="center")
