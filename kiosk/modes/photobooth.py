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
from kiosk.view import Screen

if TYPE_CHECKING:
    from core.config import Config
    from kiosk.view import View

log = logging.getLogger(__name__)


class BoothMode(SingleFaceMode):
    name: ClassVar[str] = "photobooth"

    def __init__(self, booth: PhotoBooth) -> None:
        super().__init__()
        self.booth = booth
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
        return cls(PhotoBooth(trigger, PhotoStore(folder, quota_mb=b.quota_mb, min_free_mb=b.min_free_mb),
                              slideshow=b.slideshow))

    def step(self, tick: Tick) -> Screen:
        """The booth's own screens win over the mirror's."""
        screen = tick.screen
        live = screen in (Screen.MIRROR, Screen.ATTRACT)
        preview = tick.frame.rgb if tick.frame is not None else None
        view = self.booth.step(tick.now_ms, tick.reading if live else None, preview, tick.camera)
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

    def close(self) -> None:
        self.booth.close()  # a photo already shot is saved before we go

    def paint(self, view: "View", p: Painter) -> None:
        booth: BoothView | None = view.mode
        if booth is None:
            return
        if view.screen is Screen.REVIEW and booth.photo is not None:
            p.canvas.begin(SHADE)
            p.photo(booth.photo)
            p.fade(round(p.h * 0.64), p.h - round(p.h * 0.64))
            p.text(booth.caption, round(8 * p.u), INK, midbottom=(p.w // 2, p.h - round(6 * p.u)))
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

