"""Lobby mode, the default: one visitor, their Smile Score, smile kind and eye engagement.

Also the look the other one-visitor modes build on: `paint_mirror` (the mirrored camera,
brackets round the face, the score panel) and `paint_attract` (the invitation while nobody
is there) are public so the photo booth and the coach draw the same mirror.
"""

from __future__ import annotations

import math
from typing import TYPE_CHECKING, ClassVar

import pygame

from core.types import SmileKind, SmileReading
from kiosk.modes.base import SingleFaceMode
from kiosk.paint import INK, KIND_COLOURS, MUTED, Painter, score_colour
from kiosk.view import Screen

if TYPE_CHECKING:
    from core.config import Config
    from kiosk.view import View


class LobbyMode(SingleFaceMode):
    name: ClassVar[str] = "lobby"

    @classmethod
    def from_config(cls, config: "Config") -> "LobbyMode":
        return cls()

    def paint(self, view: "View", painter: Painter) -> None:
        if view.frame is None:
            return
        if view.screen is Screen.MIRROR and view.reading is not None:
            paint_mirror(view, painter)
        else:
            paint_attract(view, painter)


def paint_mirror(view: "View", p: Painter) -> None:
    """The mirrored camera with the visitor's face marked and their score panel."""
    assert view.frame is not None and view.reading is not None
    p.camera(view.frame, mirror=view.mirror)
    p.face_marks(view.reading.box, score_colour(view.reading.score))
    paint_score_panel(view.reading, p)


def paint_score_panel(r: SmileReading, p: Painter) -> None:
    """Score dial, smile kind and the eye-engagement bar on a dark band at the bottom."""
    u, h = p.u, p.h
    band = round(h * 0.36)
    p.fade(h - band, band)
    radius = 15 * u
    gx, gy = round(4 * u), round(h - 2 * radius - 4 - 4 * u)
    p.gauge(r.score, (gx + radius + 2, gy + radius + 2), radius, number_px=round(15 * u))
    tx = gx + round(2 * radius) + 4 + round(4 * u)
    y = gy + round(1 * u)
    y = p.text("SMILE SCORE", round(4.2 * u), MUTED, topleft=(tx, y)).bottom + round(0.8 * u)
    y = p.text(r.kind.label, round(9 * u), KIND_COLOURS[r.kind], topleft=(tx, y)).bottom + round(1.6 * u)
    y = p.text(f"Eye engagement  {round(r.eye_engagement)}", round(4.6 * u), INK, topleft=(tx, y)).bottom
    bar = pygame.Rect(tx, y + round(1.2 * u), min(p.w - tx - round(5 * u), round(60 * u)), max(4, round(2.2 * u)))
    p.bar(bar, r.eye_engagement / 100.0, KIND_COLOURS[SmileKind.GENUINE])


def paint_attract(view: "View", p: Painter, title: str = "", detail: str = "") -> None:
    """The dimmed camera, a slowly breathing ring, and the invitation."""
    if view.frame is not None:
        p.camera(view.frame, mirror=view.mirror)
    p.dim(150)
    u = p.u
    phase = 0.5 + 0.5 * math.sin(view.t_ms / 1000.0 * 1.6)
    p.dot((p.w / 2, p.h * 0.42), (22 + 3 * phase) * u, score_colour(50 + 30 * phase), filled=False,
          width=max(2, round(0.8 * u)))
    p.text(title or view.message or "Step closer", round(10 * u), INK, center=(p.w // 2, round(p.h * 0.78)))
    p.text(detail or view.detail or "and look at the screen", round(5.5 * u), MUTED,
           center=(p.w // 2, round(p.h * 0.78 + 9 * u)))
