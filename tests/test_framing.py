"""The crop follows the face: still for a still face, smooth when the visitor moves, the face
always in view with a margin, inside the frame, back to the centre when nobody is there.
All on a fake clock (the caller's dt)."""

from __future__ import annotations

import numpy as np
import pytest

from core.framing import Framing, FramingTuning, crop_size, follow_face

FRAME = (640, 480)      # a 4:3 camera
PORTRAIT = 9 / 16       # a portrait screen
DT = 1000.0 / 15


def face_at(cx: float, cy: float = 0.45, size: float = 0.18) -> tuple[float, float, float, float]:
    return cx - size / 2, cy - size * 0.65, cx + size / 2, cy + size * 0.65


def run(faces, frame=FRAME, aspect=PORTRAIT, dt=DT, start: Framing | None = None) -> list[Framing]:
    out, state = [], start
    for face in faces:
        state = follow_face(frame, aspect, face, state, dt)
        out.append(state)
    return out


def inside(f: Framing, box, frame=FRAME, margin: float = 0.0) -> bool:
    fw, fh = frame
    mx, my = margin * (box[2] - box[0]) * fw, margin * (box[3] - box[1]) * fh
    left, right = max(0.0, box[0] * fw - mx), min(fw, box[2] * fw + mx)  # the margin, where the frame has it
    top, bottom = max(0.0, box[1] * fh - my), min(fh, box[3] * fh + my)
    return (f.x - 1e-6 <= left and right <= f.x + f.w + 1e-6 and f.y - 1e-6 <= top and bottom <= f.y + f.h + 1e-6)


def test_crop_size_is_the_screen_shape_as_large_as_the_frame_allows() -> None:
    assert crop_size(FRAME, 9 / 16) == (270.0, 480.0)
    assert crop_size(FRAME, 16 / 9) == (640.0, 360.0)
    assert crop_size(FRAME, 4 / 3) == (640.0, 480.0)


def test_starts_centred_without_a_face() -> None:
    f = follow_face(FRAME, PORTRAIT, None, None, DT)
    assert f.rect() == (185, 0, 270, 480)


def test_an_off_centre_visitor_stays_in_view_from_the_first_frame() -> None:
    box = face_at(0.85)
    for f in run([box] * 45):
        assert inside(f, box, margin=FramingTuning().margin)
        assert 0 <= f.x and f.x + f.w <= FRAME[0] + 1e-6


def test_a_still_face_gives_a_crop_that_does_not_move() -> None:
    rng = np.random.default_rng(3)
    faces = [face_at(0.3 + rng.normal(0, 0.003), 0.45 + rng.normal(0, 0.003)) for _ in range(15 * 12)]
    crops = run(faces)
    settled = [c.rect() for c in crops[30:]]  # after two seconds
    assert len(set(settled)) == 1, f"the crop jitters: {sorted(set(settled))[:5]}"


def test_following_is_smooth_without_overshoot() -> None:
    crops = run([face_at(0.3)] * 45 + [face_at(0.7)] * 45)
    xs = np.array([c.x for c in crops[45:]])
    steps = np.diff(xs)
    assert (steps >= -1e-9).all(), "the crop went back: an overshoot or a wobble"
    assert steps.max() < 0.3 * crops[0].w, "the crop jumped"
    final = crops[-1].centre[0]
    assert abs(final - 0.7 * FRAME[0]) < 2.0
    settle = next(i for i, x in enumerate(xs) if abs(x + crops[0].w / 2 - final) < 3.0)
    assert settle * DT <= 1500.0


def test_a_long_pause_between_frames_does_not_make_it_jump_past() -> None:
    start = run([face_at(0.3)] * 45)[-1]
    f = follow_face(FRAME, PORTRAIT, face_at(0.7), start, 2000.0)
    assert start.x < f.x <= 0.7 * FRAME[0] - f.w / 2 + 1e-6


def test_the_crop_never_leaves_the_frame() -> None:
    for cx in (0.0, 0.02, 0.98, 1.0):
        for f in run([face_at(cx)] * 30):
            x, y, w, h = f.rect()
            assert 0 <= x and x + w <= FRAME[0] and 0 <= y and y + h <= FRAME[1]


def test_back_to_the_centre_when_nobody_is_there_for_a_while() -> None:
    crops = run([face_at(0.85)] * 30 + [None] * 90)
    off = crops[29].centre[0]
    assert abs(off - 320) > 50
    t_gone = [(i + 1) * DT for i in range(90)]
    before = [c.centre[0] for c, t in zip(crops[30:], t_gone) if t < FramingTuning().centre_after_ms]
    assert max(before) - min(before) < 1e-6  # a face lost for a moment: the crop waits
    assert abs(crops[-1].centre[0] - 320) < 2.0


def test_a_landscape_screen_follows_up_and_down_only() -> None:
    crops = run([face_at(0.8, cy=0.2)] * 60, aspect=16 / 9)
    assert all(c.x == 0 and c.w == 640 for c in crops)
    assert crops[-1].y < 60


def test_a_face_larger_than_the_crop_is_aimed_at() -> None:
    big = (0.3, 0.0, 0.9, 1.0)
    f = run([big] * 45)[-1]
    assert abs(f.centre[0] - 0.6 * 640) < 1.0


@pytest.mark.model
def test_a_real_face_held_still_does_not_move_the_crop(held_face_series) -> None:
    """Real landmarker noise on a held face (the tests' recorded series)."""
    faces = [o.box for o in held_face_series if o is not None]
    crops = run(faces)
    assert len({c.rect() for c in crops[30:]}) == 1
    fw = FRAME[0]
    for c, box in zip(crops, faces):  # the face, or as much of it as a crop can hold, in view
        width = min((box[2] - box[0]) * fw, c.w)
        assert c.x - 1e-6 <= max(box[0] * fw, c.x) and min(box[2] * fw, c.x + c.w) - max(box[0] * fw, c.x) >= width - 1


def test_the_paint_kit_keeps_an_off_centre_visitor_on_a_portrait_screen() -> None:
    """A 4:3 camera on a 1080x1920 screen: a visitor at the right of the frame is on screen."""
    from kiosk.display import RecordingDisplay
    from kiosk.paint import Painter

    display = RecordingDisplay(screen=(1080, 1920))
    p = Painter(display.canvas)
    box = face_at(0.82)
    frame = np.zeros((480, 640, 3), np.uint8)
    for i in range(30):
        display.canvas.begin()
        screen = p.camera(frame, mirror=True, follow=box, t_ms=i * DT)
        display.canvas.finish()
        left, top, right, bottom = screen.box(box)
        assert 0 <= left and right <= 1080 and 0 <= top and bottom <= 1920, (i, left, right)
    fixed = p.camera(frame, mirror=True)  # the old centre crop would cut this visitor off
    assert fixed.box(box)[0] < 0


def test_a_group_wider_than_the_strip_widens_the_crop_and_everybody_stays_in() -> None:
    """In portrait the strip is 270 of 640 pixels; two people at 0.2 and 0.8 of the frame span
    far more. With `widen` the crop holds both at once and eases the margin in; without it (one
    visitor's crop) the width never changes; when the group goes, it narrows back smoothly."""
    group = (0.12, 0.3, 0.88, 0.6)  # everyone's box
    state = None
    widths = []
    for _ in range(30):
        state = follow_face(FRAME, PORTRAIT, group, state, DT, widen=True)
        assert inside(state, group) and 0 <= state.x and state.x + state.w <= FRAME[0] + 1e-6
        widths.append(state.w)
    assert widths[0] >= 0.76 * FRAME[0] - 1e-6, "the whole group from the first frame on"
    assert widths == sorted(widths) and widths[-1] == pytest.approx(FRAME[0], abs=2), "then the margin, up to the frame"
    assert state.h == 480.0
    plain = run([group] * 30)
    assert all(f.w == 270.0 for f in plain)
    narrowing = []
    for _ in range(30):
        state = follow_face(FRAME, PORTRAIT, None, state, DT, widen=True)
        narrowing.append(state.w)
    assert narrowing == sorted(narrowing, reverse=True) and narrowing[-1] == pytest.approx(270.0, abs=2)
    assert max(a - b for a, b in zip([widths[-1]] + narrowing, narrowing)) < 0.2 * FRAME[0], "no jump back"


def test_a_group_that_fits_the_strip_keeps_the_screens_shape() -> None:
    group = face_at(0.5, size=0.2)
    state = None
    for _ in range(30):
        state = follow_face(FRAME, PORTRAIT, group, state, DT, widen=True)
    assert state.w == pytest.approx(270.0) and inside(state, group, margin=FramingTuning().margin)
