"""Every screen a visitor sees, rendered at the sizes kiosks use, and its text measured from
the rendered glyphs against what reads from 3 m: the score's digits >= 8% of the screen
height, the verdict >= 5%, every other line meant for the visitor >= 3%."""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np
import pygame
import pytest

from core.types import SmileKind, SmileReading, shown_score
from kiosk.coaching import CoachLine, Cue
from kiosk.display import RecordingDisplay
from kiosk.modes.lobby import LobbyMode, LobbyView
from kiosk.paint import Painter
from kiosk.render import Renderer
from kiosk.text import kind_label
from kiosk.view import Screen, View

SIZES = [(1920, 1080), (1280, 720), (1080, 1920)]
MINIMUM = {"score": 0.08, "verdict": 0.05, "headline": 0.05, "line": 0.03}
BOX = (0.38, 0.05, 0.62, 0.45)


def reading(score: float, kind: SmileKind, eye: float) -> SmileReading:
    return SmileReading(t_ms=0.0, score=score, kind=kind, eye_engagement=eye, box=BOX, raw_score=score)


def lobby_screens(frame: np.ndarray) -> dict[str, View]:
    return {
        "attract": View(Screen.ATTRACT, frame, None, t_ms=400.0),
        "attract-demo": View(Screen.ATTRACT, frame, None, source="demo"),
        "mirror-none": View(Screen.MIRROR, frame, reading(12, SmileKind.NONE, 10), mode=LobbyView(Cue.INVITE)),
        "mirror-posed": View(Screen.MIRROR, frame, reading(78, SmileKind.POSED, 41), mode=LobbyView(Cue.EYES)),
        "mirror-genuine": View(Screen.MIRROR, frame, reading(92, SmileKind.GENUINE, 71), mode=LobbyView(Cue.GENUINE)),
        "reward": View(Screen.MIRROR, frame, reading(88, SmileKind.GENUINE, 66), mode=LobbyView(Cue.REWARD, 0.4)),
        "unavailable": View(Screen.UNAVAILABLE, None, None, message="Camera unavailable",
                            detail="Reconnecting by itself. The mirror will be back in a moment."),
        "failsafe": View(Screen.FAILSAFE, None, None, message="One moment", detail="The mirror is restarting its view."),
    }


def cap_height(painter: Painter, px: int, text: str) -> int:
    """The height of the text's capitals and digits as rendered (no descenders)."""
    sample = "".join(c for c in text if c.isupper() or c.isdigit()) or "H"
    return painter.font(px).render(sample, True, (255, 255, 255)).get_bounding_rect().height


def assert_readable(name: str, drawn: list, painter: Painter, size: tuple[int, int]) -> None:
    """Every visitor line drawn on screen `name` is tall enough for its role and whole on the screen."""
    for d in drawn:
        share = cap_height(painter, d.px, d.text) / size[1]
        assert share >= MINIMUM[d.role] - 1e-9, f"{name}: {d.text!r} ({d.role}) is {share:.1%} of the height"
        assert d.rect.left >= 0 and d.rect.right <= size[0] and d.rect.top >= 0 and d.rect.bottom <= size[1], \
            f"{name}: {d.text!r} leaves the screen at {d.rect}"


@pytest.mark.parametrize("size", SIZES, ids=lambda s: f"{s[0]}x{s[1]}")
def test_every_lobby_screen_reads_from_three_metres(astronaut: np.ndarray, size, tmp_path: Path) -> None:
    frame = cv2.resize(astronaut, (640, 480))
    display = RecordingDisplay(screen=size)
    renderer = Renderer(display.canvas)
    for name, view in lobby_screens(frame).items():
        renderer.draw(view, LobbyMode())
        display.save(tmp_path / f"{name}-{size[0]}x{size[1]}.png")
        drawn = [d for d in renderer.painter.drawn if d.role != "operator"]
        assert drawn, f"{name}: no visitor text at all"
        assert_readable(name, drawn, renderer.painter, size)
        if name.startswith("mirror"):
            words = " ".join(d.text for d in drawn)
            assert kind_label(view.reading.kind).split()[0] in words and str(shown_score(view.reading.score)) in words


def test_the_screen_is_drawn_at_its_own_resolution(astronaut: np.ndarray) -> None:
    """Sharp edges: a 1-pixel step from the white digits to the dark card, not a 3-pixel blur
    as when a 640x360 canvas is scaled up."""
    display = RecordingDisplay(screen=(1920, 1080))
    renderer = Renderer(display.canvas)
    renderer.draw(lobby_screens(cv2.resize(astronaut, (640, 480)))["unavailable"], LobbyMode())
    img = display.snapshot().astype(int).max(axis=2)
    steps = np.abs(np.diff(img, axis=1))
    assert steps.max() > 150, "an edge from ink to background happens within one pixel"


def test_the_coaching_line_follows_the_smile() -> None:
    coach = CoachLine(reward_ms=2000, leave_ms=800)
    none, posed, genuine = (reading(10, SmileKind.NONE, 5), reading(70, SmileKind.POSED, 30),
                            reading(85, SmileKind.GENUINE, 70))

    def hold(start: float, end: float, r) -> tuple[Cue, float]:
        """Readings every 100 ms from start to end; the last answer."""
        t, out = start, None
        while t <= end:
            out = coach.step(t, r)
            t += 100
        return out

    assert hold(0, 300, none)[0] is Cue.INVITE
    assert hold(400, 700, posed)[0] is Cue.EYES
    cue, progress = coach.step(800, genuine)
    assert cue is Cue.REWARD and progress == 0.0
    assert hold(900, 1800, posed) == (Cue.REWARD, 0.5), "the reward plays out even if the smile dips"
    assert hold(1900, 3000, genuine)[0] is Cue.GENUINE, "the reward comes once per visitor"
    assert hold(3100, 3500, None)[0] is Cue.INVITE
    assert coach.step(3600, genuine)[0] is Cue.GENUINE, "a blink of absence is the same visitor"
    hold(3700, 4600, None)
    assert coach.step(4700, genuine)[0] is Cue.REWARD, "after leaving, a new visitor gets their own reward"
