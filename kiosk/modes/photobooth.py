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
from kiosk.modes.lobby import paint_attract, paint_mirror
from kiosk.paint import GOLD, INK, MUTED, SHADE, Painter
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
        if view.screen is Screen.REVIEW and booth.photo is not None:
            p.canvas.begin(SHADE)
            p.photo(booth.photo)
            p.fade(round(p.h * 0.64), p.h - round(p.h * 0.64))
            p.text(booth.caption, round(8 * p.u), INK, midbottom=(p.w // 2, p.h - round(6 * p.u)))
            paint_takeaway(booth, p)
        elif view.screen is Screen.ATTRACT and booth.photo is not None:
            p.canvas.begin(SHADE)
            p.photo(booth.photo)  # slideshow of the latest photos
            paint_attract(replace(view, frame=None), p, "Smile to take a photo",
                          "the mirror takes it when you really smile")
        elif view.screen is Screen.MIRROR and view.reading is not None and view.frame is not None:
            paint_mirror(view, p)
        elif view.frame is not None:
            paint_attract(view, p)
        _overlay(booth, view, p)


def _overlay(booth: BoothView, view: "View", p: Painter) -> None:
    """Build-up bar, countdown, flash and notices."""
    u = p.u
    if booth.phase is Phase.BUILDING and view.screen is Screen.MIRROR:
        hint = p.text("Hold that smile", round(5.5 * u), INK, midtop=(p.w // 2, round(4 * u)))
        bar = pygame.Rect(0, 0, round(50 * u), max(6, round(2.6 * u)))
        bar.midtop = (p.w // 2, hint.bottom + round(1.5 * u))
        p.bar(bar, booth.progress, GOLD)
    elif booth.phase is Phase.COUNTDOWN and booth.countdown:
        p.text(str(booth.countdown), round(45 * u), INK, center=(p.w // 2, p.h // 2))
    elif booth.phase is Phase.ARMED and view.screen is Screen.MIRROR:
        p.text("Smile to take a photo", round(4.5 * u), MUTED, midtop=(p.w // 2, round(3 * u)))
    if booth.notice:
        px = round(4.5 * u)
        w, h = p.font(px).size(booth.notice)
        pill = pygame.Rect(0, 0, w + round(5 * u), h + round(2 * u))
        pill.midtop = (p.w // 2, round(3 * u) - round(1 * u))
        p.panel(pill, alpha=255, radius=pill.height // 2)
        p.text(booth.notice, px, INK, shadow=False, center=pill.center)
    p.flash(booth.flash)



def paint_takeaway(booth: BoothView, p: Painter) -> None:
    """The review screen's QR code (bottom right, on a white card so phones read it) and the
    Print offer. The QR is made once per link and kept as a sprite."""
    u = p.u
    if booth.share_url:
        from kiosk.share import qr_surface

        side = round(min(p.w, p.h) * 0.30)
        tex = p.canvas.sprite(("qr", booth.share_url, side), lambda: qr_surface(booth.share_url, side))
        box = pygame.Rect(0, 0, tex.width, tex.height)
        if p.h > p.w:  # portrait: centred above the caption
            box.midbottom = (p.w // 2, p.h - round(18 * u))
        else:
            box.bottomright = (p.w - round(3 * u), p.h - round(3 * u))
        p.canvas.draw(tex, box)
        p.text("Scan for your photo", round(3.6 * u), INK, midbottom=(box.centerx, box.top - round(1 * u)))
    if booth.print_offer:
        px = round(5 * u)
        w, h = p.font(px).size("Print")
        pill = pygame.Rect(0, 0, w + round(8 * u), h + round(3 * u))
        # beside the QR code, clear of the caption (which portrait screens have below it)
        pill.bottomleft = (round(3 * u), p.h - round((18 if p.h > p.w else 3) * u))
        p.panel(pill, colour=GOLD, alpha=255, radius=pill.height // 2)
        p.text("Print", px, SHADE, shadow=False, center=pill.center)
