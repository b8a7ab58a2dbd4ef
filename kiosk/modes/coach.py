"""Coach mode: "smile with your eyes", a guided half-minute that teaches the Duchenne smile.

The session is kiosk.coach's `CoachSession` (pure, on the clock); this module feeds it the
tracked reading and the newest frame, and paints its steps: relax, smile, now with your eyes
(a live eye-engagement gauge with the target marked, the moment it is reached celebrated),
and the result (before and after, side by side, from pictures kept in memory only).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, ClassVar

import pygame

from kiosk.coach import CoachSession, CoachView, Moment, Phase
from kiosk.modes.base import SingleFaceMode, Tick
from kiosk.modes.lobby import card_rect, paint_attract, paint_reward
from kiosk.paint import GOLD, INK, MUTED, SKY, Painter, score_colour
from kiosk.text import N_, t
from kiosk.view import Screen

if TYPE_CHECKING:
    from core.config import Config
    from kiosk.view import View

CUES = (N_("coach_cue_glad"), N_("coach_cue_cheeks"), N_("coach_cue_narrow"), N_("coach_cue_friend"))  # catalogue keys


class CoachMode(SingleFaceMode):
    name: ClassVar[str] = "coach"

    def __init__(self, session: CoachSession | None = None) -> None:
        super().__init__()
        self.session = session or CoachSession()
        self._view = CoachView(Phase.IDLE)

    @classmethod
    def from_config(cls, config: "Config") -> "CoachMode":
        return cls()

    def step(self, tick: Tick) -> Screen:
        reading = tick.reading if tick.screen is Screen.MIRROR else None
        # the picture is kept only as long as the session holds the moment (memory, never disk)
        face = face_crop(tick.frame.rgb, reading.box) if tick.frame is not None and reading is not None else None
        self._view = self.session.step(tick.now_ms, reading, face)
        if tick.screen not in (Screen.MIRROR, Screen.ATTRACT):
            return tick.screen
        if self._view.phase is Phase.RESULT:
            return Screen.MIRROR  # the result stays up for its time, face or not
        if self._view.phase in (Phase.IDLE, Phase.DONE):
            return Screen.ATTRACT
        return tick.screen

    def view(self) -> CoachView:
        return self._view

    def animating(self) -> bool:
        return self._view.celebrate > 0 or self._view.phase is Phase.RESULT

    def score_every_frame(self) -> bool:
        return self._view.phase is Phase.EYES  # the gauge answers every change

    def record(self) -> dict:
        return {"coach": self._view.phase.value}

    def paint(self, view: "View", p: Painter) -> None:
        paint_coach(view, view.mode if isinstance(view.mode, CoachView) else CoachView(Phase.IDLE), p)


def face_crop(rgb, box: tuple[float, float, float, float]):
    """The part of the frame round the face (a view into it, no copy), for the result's pictures."""
    h, w = rgb.shape[:2]
    x0, y0, x1, y1 = box
    m = 0.45 * (x1 - x0)
    l, r = max(0, int((x0 - m) * w)), min(w, int((x1 + m) * w))
    t, b = max(0, int((y0 - m) * h)), min(h, int((y1 + 0.6 * m) * h))
    return rgb[t:b, l:r] if r - l > 8 and b - t > 8 else rgb


def paint_coach(view: "View", c: CoachView, p: Painter) -> None:
    """The coach's screens: a plain function of the View so the lead may move it."""
    if c.phase is Phase.RESULT and c.before is not None and c.after is not None:
        paint_result(c, p)
    elif c.phase in (Phase.RELAX, Phase.SMILE, Phase.EYES) and view.frame is not None:
        paint_step(view, c, p)
    else:
        paint_attract(view, p, t("coach_attract_title"), t("coach_attract_detail"))


def paint_step(view: "View", c: CoachView, p: Painter) -> None:
    assert view.frame is not None
    p.camera(view.frame, mirror=view.mirror)
    face = (p.w * 0.35, p.h * 0.2, p.w * 0.65, p.h * 0.6)
    if view.reading is not None:
        face = p.face_marks(view.reading.box, score_colour(view.reading.score))
    card = card_rect(p, face)
    if p.portrait:  # the coach says more than the score card: a taller card, same side of the face
        grow = round(p.h * 0.54) - card.height
        card = pygame.Rect(card.left, card.top - grow if card.bottom > p.h / 2 else card.top, card.width,
                           card.height + grow)
    p.panel(card, alpha=165, radius=round(2 * p.u))
    pad = round(2.5 * p.u)
    inner = card.inflate(-2 * pad, -2 * pad)
    n = {Phase.RELAX: 1, Phase.SMILE: 2, Phase.EYES: 3}[c.phase]
    step = p.text(t("coach_step", n=n), "line", MUTED, topleft=inner.topleft)
    title_key = {Phase.RELAX: N_("coach_relax_title"), Phase.SMILE: N_("coach_smile_title"),
                 Phase.EYES: N_("coach_eyes_title")}[c.phase]
    if c.celebrate > 0:
        title_key = N_("coach_shortcut") if c.shortcut else N_("coach_reached")
    number_w = p.font(p.px("score")).size("100")[0] if c.phase is Phase.EYES else 0
    title_w = inner.width - number_w - pad if number_w else inner.width
    title = p.paragraph(t(title_key), "verdict", GOLD if c.celebrate > 0 else INK, title_w,
                        x=inner.left, y=step.bottom + pad // 2)
    y = title.bottom + pad
    if c.phase is Phase.EYES:  # the live number beside the words, the gauge under both
        colour = GOLD if c.eye >= c.target else INK
        eyes = p.text(str(round(c.eye)), "score", colour, topright=(inner.right, inner.top))
        label = p.text(t("coach_eyes_label"), "line", MUTED, topright=(inner.right, eyes.bottom))
        y = max(y, label.bottom + pad // 2)
        bar = pygame.Rect(inner.left, y, inner.width, max(8, round(4 * p.u)))
        p.bar(bar, c.eye / 100.0, GOLD if c.eye >= c.target else SKY, mark=c.target / 100.0, mark_colour=GOLD)
        y = bar.bottom + pad + round(1 * p.u)
        if c.celebrate == 0:
            p.paragraph(t(CUES[c.cue % len(CUES)]), "line", INK, inner.width, x=inner.left, y=y)
        else:
            paint_reward(p, card, min(1.0, c.celebrate))
    else:
        detail = t("coach_relax_detail") if c.phase is Phase.RELAX else t("coach_smile_detail")
        line = p.paragraph(detail, "line", MUTED, inner.width, x=inner.left, y=y)
        bar = pygame.Rect(inner.left, line.bottom + pad, inner.width, max(6, round(2 * p.u)))
        p.bar(bar, c.progress, score_colour(c.score))


def paint_result(c: CoachView, p: Painter) -> None:
    """Before and after side by side (the pictures mirrored, as the visitor saw themselves),
    their eye readings, the change, and one sentence on why it matters."""
    assert c.before is not None and c.after is not None
    u = p.u
    title = p.paragraph(t("coach_result_title"), "headline", INK, p.w * 0.9, x=p.w / 2, y=3 * u, align="center")
    top = title.bottom + 2 * u
    change = round(c.after.eye - c.before.eye)
    up = change > 0 or c.after.genuine
    verdict_text = t("coach_change_up") if up else t("coach_change_flat")

    def block(text: str, role: str) -> int:  # the height of a wrapped paragraph
        return len(p.wrap(text, role, p.w * 0.9)) * round(p.font(p.px(role)).get_linesize() * 0.92)
    why = not p.portrait  # on a portrait screen the pictures need the room more than the reason
    foot = (p.font(p.px("score")).get_linesize() + block(verdict_text, "verdict")
            + (block(t("coach_why"), "line") if why else 0) + round(9 * u))
    slot_w = round((p.w - 12 * u) / 2)  # side by side, on a portrait screen too (it has the height)
    h = p.h - top - foot
    slots = [pygame.Rect(round(4 * u), top, slot_w, h), pygame.Rect(round(8 * u) + slot_w, top, slot_w, h)]
    bottoms = [_moment(p, slot, moment, key) for slot, moment, key in
               ((slots[0], c.before, N_("coach_before")), (slots[1], c.after, N_("coach_after")))]
    y = max(bottoms) + round(3 * u)
    if change > 0:  # the gain in eye engagement; a loss is never shown as a number
        y = p.text(f"+{change}", "score", GOLD, midtop=(p.w // 2, y)).bottom + u
    verdict = p.paragraph(verdict_text, "verdict", GOLD if up else INK, p.w * 0.9, x=p.w / 2, y=y, align="center")
    if why:
        p.paragraph(t("coach_why"), "line", MUTED, p.w * 0.9, x=p.w / 2, y=verdict.bottom + u, align="center")


def _moment(p: Painter, slot: pygame.Rect, m: Moment, word: str) -> int:
    """One moment's picture fitted in the top of `slot`, its words under it, inside `slot`."""
    u = p.u
    eyes = t("coach_eye_value", value=round(m.eye))
    text = f"{t(word)} · {eyes}"
    text_h = len(p.wrap(text, "line", slot.width)) * round(p.font(p.px("line")).get_linesize() * 0.92) + round(u)
    bottom = slot.top
    if m.frame is not None:
        h, w = m.frame.shape[:2]
        scale = min(slot.width / w, max(1, slot.height - text_h) / h)
        dst = pygame.Rect(0, 0, round(w * scale), round(h * scale))
        dst.midtop = slot.midtop
        p.canvas.image(word, m.frame, (0, 0, w, h), dst, flip=True)
        bottom = dst.bottom
    return p.paragraph(text, "line", GOLD if m.genuine else INK, slot.width, x=slot.centerx, y=bottom + round(u),
                       align="center").bottom


__all__ = ["CoachMode", "paint_coach", "CUES"]
