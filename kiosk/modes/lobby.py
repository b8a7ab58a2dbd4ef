"""Lobby mode, the default: one visitor, their Smile Score, what kind of smile it is, how much
the eyes are in it, and one line on what to try next.

Also the look the other one-visitor modes build on: `paint_mirror` (the mirrored camera,
brackets round the face, the score card beside it) and `paint_attract` (the invitation while
nobody is there) are public so the photo booth draws the same mirror.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import TYPE_CHECKING, ClassVar

import pygame

from core.types import SmileKind, SmileReading
from kiosk.coaching import CoachLine, Cue
from kiosk.modes.base import SingleFaceMode, Tick
from kiosk.paint import GOLD, INK, KIND_COLOURS, MUTED, Painter, score_colour, thick_arc
from kiosk.view import Screen

if TYPE_CHECKING:
    from core.config import Config
    from kiosk.view import View

GENUINE_AT = 50.0  # eye engagement from which a smile reads as genuine (core.scoring's line)

CUES = {
    Cue.INVITE: "Give the mirror your best smile",
    Cue.EYES: "Now smile with your eyes",
    Cue.REWARD: "That's it: a real smile!",
    Cue.GENUINE: "Your eyes are smiling too",
}
WORDS = {
    "caption": "SMILE SCORE",
    "eye_label": "Eye smile {value}",
    "why": "Let your cheeks lift: real smiles reach the eyes, and they spread.",
    "why_genuine": "Smiles that reach the eyes are the ones that spread to others.",
    "headline": "How real is your smile?",
    "invite": "Step up and smile: the mirror reads your mouth and your eyes",
    "demo": "DEMO",
    "demo_detail": "no camera found: showing the built-in demo face",
}


@dataclass(frozen=True, slots=True)
class LobbyView:
    """What the coaching line says this frame."""

    cue: Cue = Cue.INVITE
    reward: float = 0.0      # 0-1 through the reward moment, else 0


class LobbyMode(SingleFaceMode):
    name: ClassVar[str] = "lobby"

    def __init__(self) -> None:
        super().__init__()
        self.coach = CoachLine()
        self._view = LobbyView()

    @classmethod
    def from_config(cls, config: "Config") -> "LobbyMode":
        return cls()

    def step(self, tick: Tick) -> Screen:
        cue, reward = self.coach.step(tick.now_ms, tick.reading if tick.screen is Screen.MIRROR else None)
        self._view = LobbyView(cue, reward)
        return tick.screen

    def view(self) -> LobbyView:
        return self._view

    def animating(self) -> bool:
        return self._view.reward > 0

    def paint(self, view: "View", painter: Painter) -> None:
        if view.screen is Screen.MIRROR and view.reading is not None and view.frame is not None:
            paint_mirror(view, painter, view.mode if isinstance(view.mode, LobbyView) else None)
        else:
            paint_attract(view, painter)


def paint_mirror(view: "View", p: Painter, coach: LobbyView | None = None) -> None:
    """The mirrored camera with the visitor's face marked and their score card beside it."""
    assert view.frame is not None and view.reading is not None
    p.camera(view.frame, mirror=view.mirror)
    face = p.face_marks(view.reading.box, score_colour(view.reading.score))
    paint_score_card(view.reading, p, face, coach)
    if view.source == "demo":
        paint_demo_tag(p)


def card_rect(p: Painter, face: tuple[float, float, float, float]) -> pygame.Rect:
    """Where the score card goes: beside the face on a landscape screen (on the side with more
    room), above or below it on a portrait one, so the visitor sees both at a glance."""
    left, top, right, bottom = face
    m = round(3 * p.u)
    if not p.portrait:
        w = round(p.w * 0.40)
        x = p.w - w - m if (left + right) / 2 < p.w / 2 else m
        return pygame.Rect(x, m, w, p.h - 2 * m)
    h = round(p.h * 0.44)
    y = p.h - h - m if (top + bottom) / 2 < p.h * 0.55 else m
    return pygame.Rect(m, y, p.w - 2 * m, h)


def paint_score_card(r: SmileReading, p: Painter, face: tuple[float, float, float, float],
                     coach: LobbyView | None = None) -> pygame.Rect:
    """Score, verdict, the eye-engagement bar with the mark where "genuine" begins, and the
    coaching line, on a translucent card that reads on any background."""
    card = card_rect(p, face)
    p.panel(card, alpha=150, radius=round(2 * p.u))
    pad = round(2.5 * p.u)
    inner = card.inflate(-2 * pad, -2 * pad)
    kind_colour = KIND_COLOURS[r.kind]
    if p.portrait:  # number and verdict side by side, the rest below
        cap = p.text(WORDS["caption"], "line", MUTED, topleft=(inner.left, inner.top))
        number = p.text(str(round(r.score)), "score", score_colour(r.score), topleft=(inner.left, cap.bottom))
        verdict = p.paragraph(r.kind.label, "verdict", kind_colour, inner.right - number.right - pad,
                              x=number.right + pad, y=cap.bottom + round(1.5 * p.u))
        y = max(number.bottom, verdict.bottom) + pad
    else:
        cap = p.text(WORDS["caption"], "line", MUTED, midtop=(inner.centerx, inner.top))
        radius = min(inner.width * 0.3, p.h * 0.17)
        dial = p.gauge(r.score, (inner.centerx, cap.bottom + pad + radius), radius, number_px=p.px("score"),
                       thickness=0.16 * radius)
        verdict = p.paragraph(r.kind.label, "verdict", kind_colour, inner.width, x=inner.centerx,
                              y=dial.bottom - round(0.6 * radius) + pad, align="center")
        y = verdict.bottom + pad
    eyes = p.text(WORDS["eye_label"].format(value=round(r.eye_engagement)), "line", INK, topleft=(inner.left, y))
    bar = pygame.Rect(inner.left, eyes.bottom + round(1.2 * p.u), inner.width, max(6, round(2.4 * p.u)))
    p.bar(bar, r.eye_engagement / 100.0, GOLD, mark=GENUINE_AT / 100.0)
    mark_x = bar.left + round(bar.width * GENUINE_AT / 100.0)
    p.dot((mark_x, bar.top - round(1.4 * p.u)), 0.9 * p.u, GOLD)  # where "genuine" begins
    y = bar.bottom + pad
    cue = coach.cue if coach is not None else (Cue.EYES if r.kind is SmileKind.POSED else
                                               Cue.GENUINE if r.kind is SmileKind.GENUINE else Cue.INVITE)
    colour = GOLD if cue in (Cue.REWARD, Cue.GENUINE) else INK
    line = p.paragraph(CUES[cue], "line", colour, inner.width, x=inner.left, y=y)
    why = WORDS["why"] if cue in (Cue.EYES, Cue.INVITE) else WORDS["why_genuine"]
    if len(p.wrap(why, "line", inner.width)) * p.font(p.px("line")).get_linesize() < inner.bottom - line.bottom - pad:
        p.paragraph(why, "line", MUTED, inner.width, x=inner.left, y=line.bottom + pad)
    if coach is not None and coach.cue is Cue.REWARD:
        paint_reward(p, card, coach.reward)
    return card


def paint_reward(p: Painter, card: pygame.Rect, progress: float) -> None:
    """A ring of gold sparks opening round the card: the moment the smile turned genuine."""
    ease = 1 - (1 - progress) ** 3
    alpha = round(255 * (1 - progress))
    cx, cy = card.center
    reach = 0.35 * max(card.width, card.height) + ease * 0.25 * min(p.w, p.h)
    for i in range(16):
        a = 2 * math.pi * i / 16 + progress
        p.dot((cx + math.cos(a) * reach, cy + math.sin(a) * reach * 0.8), (1.6 - progress) * p.u, GOLD, alpha=alpha)


def paint_demo_tag(p: Painter) -> None:
    """Nothing on screen may pass the demo off as a camera."""
    px = p.px("line")
    w, h = p.font(px).size(WORDS["demo"])
    tag = pygame.Rect(0, 0, w + round(3 * p.u), h + round(1 * p.u))
    tag.topright = (p.w - round(3 * p.u), round(3 * p.u)) if p.portrait else (p.w // 2 + tag.width // 2, round(3 * p.u))
    p.panel(tag, colour=(200, 60, 60), alpha=230, radius=tag.height // 3)
    p.text(WORDS["demo"], px, INK, shadow=False, center=tag.center)


def paint_attract(view: "View", p: Painter, title: str = "", detail: str = "") -> None:
    """The dimmed camera, a slowly breathing smile, and the invitation: what this is, from 3 m."""
    if view.frame is not None:
        p.camera(view.frame, mirror=view.mirror)
    p.dim(160)
    u = p.u
    phase = 0.5 + 0.5 * math.sin(view.t_ms / 1000.0 * 1.6)
    paint_smile_mark(p, (p.w / 2, p.h * (0.2 if p.portrait else 0.32)), (16 + 2 * phase) * u, phase)
    head = p.paragraph(title or view.message or WORDS["headline"], "headline", INK, p.w * 0.86, x=p.w / 2,
                       y=p.h * (0.33 if p.portrait else 0.56), align="center")
    p.paragraph(detail or view.detail or WORDS["invite"], "line", MUTED, p.w * 0.8, x=p.w / 2,
                y=head.bottom + 2 * u, align="center")
    if view.source == "demo":
        paint_demo_tag(p)


def paint_smile_mark(p: Painter, centre: tuple[float, float], radius: float, phase: float) -> None:
    """A face made of a ring, two eyes and a smile that widens and narrows, in the score's colours."""
    colour = score_colour(50 + 30 * phase)
    r = round(radius)
    width = max(3, round(0.09 * radius))
    smile = round(100 + 50 * phase)  # degrees of the smile's arc

    def make() -> pygame.Surface:
        size = 2 * r + 4
        surf = pygame.Surface((size, size), pygame.SRCALPHA)
        c = size / 2
        thick_arc(surf, c, r - width, r, 0, 2 * math.pi, (*colour, 255))
        for dx in (-0.33, 0.33):  # the eyes narrow a little as the smile grows: the Duchenne cue
            eye = pygame.Rect(0, 0, round(0.16 * r), max(2, round((0.2 - 0.08 * phase) * r)))
            eye.center = (round(c + dx * r), round(c - 0.2 * r))
            pygame.draw.ellipse(surf, (*colour, 255), eye)
        start = math.radians(90 - smile / 2)
        thick_arc(surf, c, 0.52 * r - width, 0.52 * r, start, math.radians(smile), (*colour, 255))
        return surf
    tex = p.canvas.sprite(("smile-mark", r, colour, smile), make)
    p.canvas.draw(tex, tex.get_rect(center=(round(centre[0]), round(centre[1]))))
