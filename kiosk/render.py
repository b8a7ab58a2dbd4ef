"""Draws one View: the mode paints the screens it owns; the calm notices (camera lost, our own
error) and the diagnostics overlay are the same for every mode and painted here.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import pygame

from kiosk.paint import INK, MUTED, SHADE, Canvas, Painter
from kiosk.view import Screen, View

if TYPE_CHECKING:
    from kiosk.modes.base import Mode

class Renderer:
    """Paints Views on one canvas at its native resolution."""

    def __init__(self, canvas: Canvas, *, accent: tuple[int, int, int] | None = None) -> None:
        self.canvas = canvas
        self.painter = Painter(canvas, accent=accent)

    def draw(self, view: View, mode: "Mode") -> None:
        p = self.painter
        p.canvas.begin(SHADE)
        p.map = None
        p.drawn.clear()
        if view.screen in (Screen.UNAVAILABLE, Screen.FAILSAFE) or (view.frame is None and view.mode is None):
            paint_notice(view, p)
        else:
            mode.paint(view, p)
        if view.diagnostics:
            paint_diagnostics(view.diagnostics, p)
        p.canvas.finish()


def paint_notice(view: View, p: Painter) -> None:
    """A calm, dark screen with one sentence: never a traceback."""
    title = p.paragraph(view.message or "One moment", "headline", INK, p.w * 0.86, x=p.w / 2, y=p.h * 0.3,
                        align="center", shadow=False)
    if view.detail:
        p.paragraph(view.detail, "line", MUTED, p.w * 0.84, x=p.w / 2, y=title.bottom + 3 * p.u, align="center",
                    shadow=False)


def paint_diagnostics(items: dict, p: Painter) -> None:
    """fps, inference time and skipped frames on a dark panel, readable on any background."""
    px = p.px("operator")
    lines = [f"{key}: {value}" for key, value in items.items()]
    line_h = p.font(px).get_linesize()
    width = max(p.font(px).size(line)[0] for line in lines)
    pad = round(1.2 * p.u)
    p.panel(pygame.Rect(pad, pad, width + 2 * pad, line_h * len(lines) + 2 * pad), alpha=200, radius=pad)
    y = 2 * pad
    for line in lines:
        p.text(line, "operator", INK, shadow=False, topleft=(2 * pad, y))
        y += line_h
