"""Draws one View: the mode paints the screens it owns; the calm notices (camera lost, our own
error) and the diagnostics overlay are the same for every mode and painted here.
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING

import pygame

from kiosk.paint import INK, MUTED, SHADE, Canvas, Painter
from kiosk.view import Screen, View

if TYPE_CHECKING:
    from kiosk.modes.base import Mode

log = logging.getLogger(__name__)


class Renderer:
    """Paints Views on one canvas at its native resolution."""

    def __init__(self, canvas: Canvas, *, accent: tuple[int, int, int] | None = None) -> None:
        self.canvas = canvas
        self.painter = Painter(canvas, accent=accent)

    def draw(self, view: View, mode: "Mode") -> None:
        p = self.painter
        p.canvas.begin(SHADE)
        p.map = None
        if view.screen in (Screen.UNAVAILABLE, Screen.FAILSAFE) or (view.frame is None and view.mode is None):
            paint_notice(view, p)
        else:
            mode.paint(view, p)
        if view.diagnostics:
            paint_diagnostics(view.diagnostics, p)
        p.canvas.finish()


def paint_notice(view: View, p: Painter) -> None:
    """A calm, dark screen with one sentence: never a traceback."""
    u = p.u
    p.text(view.message or "One moment", round(8 * u), INK, shadow=False, center=(p.w // 2, round(p.h * 0.45)))
    if view.detail:
        p.text(view.detail, p.fit_px(view.detail, round(4.5 * u), p.w * 0.9), MUTED, shadow=False,
               center=(p.w // 2, round(p.h * 0.45 + 9 * u)))


def paint_diagnostics(items: dict, p: Painter) -> None:
    """fps, inference time and skipped frames on a dark panel, readable on any background."""
    px = max(14, round(3.2 * p.u))
    lines = [f"{key}: {value}" for key, value in items.items()]
    line_h = p.font(px).get_linesize()
    width = max(p.font(px).size(line)[0] for line in lines)
    pad = round(1.2 * p.u)
    p.panel(pygame.Rect(pad, pad, width + 2 * pad, line_h * len(lines) + 2 * pad), alpha=200, radius=pad)
    y = 2 * pad
    for line in lines:
        p.text(line, px, INK, shadow=False, topleft=(2 * pad, y))
        y += line_h
