"""The photo booth's screens as a guest sees them, at 1920x1080 and 1080x1920: the countdown
stands beside the face (never over the mouth), the words say what happens next."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from core.types import SmileKind, SmileReading
from kiosk.booth import BoothTrigger, BoothView, Phase, PhotoBooth
from kiosk.display import RecordingDisplay
from kiosk.modes.photobooth import BoothMode, countdown_spot, hint_line
from kiosk.photos import PhotoStore
from kiosk.render import Renderer
from kiosk.text import t
from kiosk.view import Screen, View

SIZES = ((1920, 1080), (1080, 1920))


def reading(box: tuple, score: float = 85.0) -> SmileReading:
    return SmileReading(t_ms=0, score=score, kind=SmileKind.POSED, eye_engagement=45, box=box, raw_score=score)


def draw(view: View, mode: BoothMode, size: tuple[int, int]) -> tuple[np.ndarray, object]:
    display = RecordingDisplay(screen=size)
    renderer = Renderer(display.canvas)
    renderer.draw(view, mode)
    return display.snapshot(), renderer.painter.map


@pytest.fixture()
def mode(tmp_path: Path) -> BoothMode:
    return BoothMode(PhotoBooth(BoothTrigger(), PhotoStore(tmp_path), slideshow=False))


@pytest.mark.parametrize("size", SIZES)
@pytest.mark.parametrize("cx", [0.3, 0.5, 0.68])
def test_the_countdown_digit_is_never_over_the_face(astronaut: np.ndarray, mode: BoothMode, size, cx: float,
                                                    tmp_path: Path) -> None:
    import cv2

    frame = cv2.resize(astronaut, (640, 480))
    box = (cx - 0.11, 0.2, cx + 0.11, 0.62)  # a near guest: the face a fifth of the frame wide
    counting, screen_map = draw(View(Screen.MIRROR, frame, reading(box), mode=BoothView(Phase.COUNTDOWN, countdown=2)),
                                mode, size)
    # the same screen without the countdown (no line is shown at the top during a capture either)
    plain, _ = draw(View(Screen.MIRROR, frame, reading(box), mode=BoothView(Phase.CAPTURE)), mode, size)
    changed = np.abs(counting.astype(int) - plain.astype(int)).max(axis=2) > 0
    assert changed.sum() > 0.01 * size[0] * size[1], "the digit is big enough to read from 3 m"
    left, top, right, bottom = (round(v) for v in screen_map.box(box))
    face = changed[max(0, top):bottom, max(0, left):right]
    assert face.sum() == 0, "nothing of the countdown covers the face"
    ys = np.nonzero(changed.any(axis=1))[0]
    assert ys.max() - ys.min() >= 0.12 * size[1], "digit and word together: a large mark"
    cv2.imwrite(str(tmp_path / f"countdown-{size[0]}x{size[1]}-{cx}.png"), cv2.cvtColor(counting, cv2.COLOR_RGB2BGR))


def test_countdown_spot_picks_the_free_side() -> None:
    glyph = (300.0, 400.0)
    (x, y), scale = countdown_spot((1200, 100, 1600, 600), (1920, 1080), glyph, 700)
    assert x < 1200 and scale == 1.0, "face on the right: the digit on the left"
    (x, y), scale = countdown_spot((300, 100, 700, 600), (1920, 1080), glyph, 700)
    assert x > 700 and scale == 1.0
    (x, y), scale = countdown_spot((200, 700, 880, 1300), (1080, 1920), glyph, 1230)
    assert y + 400 * scale / 2 <= 700, "a face filling a portrait screen's width: the digit above it"
    (x, y), scale = countdown_spot(None, (1920, 1080), glyph, 700)
    assert (x, scale) == (960, 1.0)


@pytest.mark.parametrize("genuine", [False, True])
def test_the_invitation_tells_the_truth_about_genuine_only(tmp_path: Path, genuine: bool) -> None:
    mode = BoothMode(PhotoBooth(BoothTrigger(require_genuine=genuine), PhotoStore(tmp_path), slideshow=False))
    seen: list[str] = []

    from kiosk.paint import Painter

    original = Painter.text

    def spy(self, text, *a, **kw):
        seen.append(text)
        return original(self, text, *a, **kw)

    Painter.text = spy  # type: ignore[method-assign]
    try:
        draw(View(Screen.ATTRACT, np.full((480, 640, 3), 90, np.uint8), None, mode=BoothView(Phase.ARMED)), mode,
             (1280, 720))
    finally:
        Painter.text = original  # type: ignore[method-assign]
    assert (t("booth_attract_detail_genuine") in seen) is genuine and (t("booth_attract_detail") in seen) is not genuine
    assert "with your eyes" in t("booth_attract_detail_genuine") and "really" not in t("booth_attract_detail")


def test_the_line_at_the_top_says_what_can_happen_now() -> None:
    assert hint_line(BoothView(Phase.ARMED), Screen.MIRROR, False) == t("booth_armed")
    assert hint_line(BoothView(Phase.ARMED, rearm=True), Screen.MIRROR, False) == t("booth_rearm")
    assert hint_line(BoothView(Phase.COOLDOWN, rearm=True), Screen.MIRROR, False) == t("booth_rearm")
    assert hint_line(BoothView(Phase.COOLDOWN), Screen.MIRROR, False) == t("booth_wait")
    assert hint_line(BoothView(Phase.BUILDING, progress=0.5), Screen.MIRROR, False) == t("booth_hold")
    assert hint_line(BoothView(Phase.COUNTDOWN, countdown=3), Screen.MIRROR, False) == ""
    assert hint_line(BoothView(Phase.ARMED), Screen.ATTRACT, False) == ""


SCREEN_SIZES = ((1920, 1080), (1280, 720), (1080, 1920))


def booth_screens(frame: np.ndarray) -> dict[str, View]:
    box = (0.4, 0.15, 0.6, 0.5)
    photo = frame.copy()
    return {
        "hold": View(Screen.MIRROR, frame, reading(box), mode=BoothView(Phase.BUILDING, progress=0.6)),
        "countdown": View(Screen.MIRROR, frame, reading(box), mode=BoothView(Phase.COUNTDOWN, countdown=3)),
        "flash": View(Screen.MIRROR, frame, reading(box), mode=BoothView(Phase.CAPTURE, flash=0.6)),
        "review": View(Screen.REVIEW, frame, None, mode=BoothView(Phase.REVIEW, photo=photo,
                                                                 caption=t("booth_caption", score=85, kind="Posed smile"),
                                                                 notice=t("photo_saved"))),
        "rearm": View(Screen.MIRROR, frame, reading(box), mode=BoothView(Phase.ARMED, rearm=True)),
        "wait": View(Screen.MIRROR, frame, reading(box), mode=BoothView(Phase.COOLDOWN)),
    }


@pytest.mark.parametrize("size", SCREEN_SIZES, ids=lambda s: f"{s[0]}x{s[1]}")
def test_every_booth_screen_reads_from_three_metres(astronaut: np.ndarray, mode: BoothMode, size,
                                                    tmp_path: Path) -> None:
    """Measured as the lobby screens are (tests/test_screens.py): glyph heights against the
    screen height, and every line whole on the screen."""
    import os

    import cv2

    from tests.test_screens import assert_readable

    out = Path(os.environ.get("SMILE_MIRROR_SHOTS") or tmp_path)
    out.mkdir(parents=True, exist_ok=True)
    frame = cv2.resize(astronaut, (640, 480))
    display = RecordingDisplay(screen=size)
    renderer = Renderer(display.canvas)
    for name, view in booth_screens(frame).items():
        renderer.draw(view, mode)
        display.save(out / f"booth-{name}-{size[0]}x{size[1]}.png")
        drawn = [d for d in renderer.painter.drawn if d.role != "operator"]
        if name != "flash":
            assert drawn, f"{name}: no visitor text"
        assert_readable(name, drawn, renderer.painter, size)
        words = " ".join(d.text for d in drawn)
        if name == "hold":
            assert t("booth_hold") in words
        if name == "countdown":
            assert "3" in words and t("booth_countdown") in words
        if name == "review":
            assert "85" in words


@pytest.mark.parametrize("size", SIZES, ids=lambda s: f"{s[0]}x{s[1]}")
@pytest.mark.parametrize("cx", [0.3, 0.5, 0.7])
def test_the_line_at_the_top_stays_off_the_score_card(astronaut: np.ndarray, mode: BoothMode, size, cx: float) -> None:
    """The hint (and a notice above it) sits beside or below the score card, wherever the
    guest stands: never over "SMILE SCORE" or the number."""
    import cv2

    frame = cv2.resize(astronaut, (640, 480))
    box = (cx - 0.1, 0.15, cx + 0.1, 0.5)
    display = RecordingDisplay(screen=size)
    renderer = Renderer(display.canvas)
    for booth in (BoothView(Phase.BUILDING, progress=0.5), BoothView(Phase.ARMED, rearm=True, notice=t("photo_saved")),
                  BoothView(Phase.COOLDOWN)):
        renderer.draw(View(Screen.MIRROR, frame, reading(box), mode=booth), mode)
        top = " ".join(s for s in (booth.notice, hint_line(booth, Screen.MIRROR, False)) if s)
        drawn = list(renderer.painter.drawn)
        n = 0  # the overlay is drawn last: its lines are the trailing ones
        while n < len(drawn) and drawn[-1 - n].text in top:
            n += 1
        pills, card = drawn[len(drawn) - n:], drawn[:len(drawn) - n]
        assert pills and card
        on_card = card[0].rect.unionall([d.rect for d in card[1:]])  # the card's words, all of them
        for a in pills:
            assert not a.rect.colliderect(on_card), f"{a.text!r} over the score card at {size}, face at {cx}"
