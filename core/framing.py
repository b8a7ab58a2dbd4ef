"""Which part of the camera frame the screen shows: a crop that follows the visitor's face.

A 4:3 camera on a 9:16 (portrait) screen shows a strip only a third of the frame wide; a
fixed centre crop cuts off a visitor standing a little to one side. So the crop (the screen's
shape, as large as the frame allows) follows the face, pure and on the caller's clock:

- it moves only when the face leaves a calm zone around where the crop is aiming, so a still
  face (landmark noise is well under that zone) gives a crop that does not move at all;
- it glides there on a critically damped spring (fast, no overshoot, exact for any step, so a
  slow frame cannot make it jump or oscillate);
- the face with a margin is always kept inside, even when the spring is still on its way;
- the crop never leaves the frame; after `centre_after_ms` without a face it glides back to
  the centre of the frame;
- with `widen` (group mode), the box is everyone's, and a group wider than the screen's shape
  allows (in portrait, a strip a third of the frame wide) widens the crop up to the whole frame:
  everybody stays in the picture, which is then shown with bars above and below. It widens at
  once as far as the group needs and eases the margin in, and narrows again on the spring.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

Box = tuple[float, float, float, float]  # normalised (x0, y0, x1, y1), as FaceObservation.box


@dataclass(frozen=True, slots=True)
class FramingTuning:
    omega: float = 6.0             # spring stiffness (1/s): settles in about 0.8 s
    calm: float = 0.12             # calm zone, as a share of the crop size (each side of the aim)
    margin: float = 0.35           # kept around the face, as a share of the face size
    centre_after_ms: float = 3000  # no face this long: back to the centre


@dataclass(frozen=True, slots=True)
class Framing:
    """The crop (`x`, `y`, `w`, `h`, frame pixels, floats) and the state that makes it move
    smoothly: where it aims, its speed (pixels/s), and how long no face has been seen."""

    x: float
    y: float
    w: float
    h: float
    aim: tuple[float, float]
    velocity: tuple[float, float] = (0.0, 0.0)
    no_face_ms: float = 0.0
    widening: float = 0.0  # how fast the width changes (pixels/s), with `widen`

    @property
    def centre(self) -> tuple[float, float]:
        return self.x + self.w / 2, self.y + self.h / 2

    def rect(self) -> tuple[int, int, int, int]:
        """The crop in whole pixels (x, y, w, h), inside the frame."""
        return round(self.x), round(self.y), round(self.w), round(self.h)


def crop_size(frame: tuple[int, int], aspect: float) -> tuple[float, float]:
    """The largest rectangle of shape `aspect` (width / height) inside the frame."""
    fw, fh = frame
    return (float(fw), fw / aspect) if fw / fh <= aspect else (fh * aspect, float(fh))


def _spring(x: float, v: float, target: float, omega: float, dt: float) -> tuple[float, float]:
    """Exact step of a critically damped spring towards `target`."""
    e = x - target
    k = v + omega * e
    decay = math.exp(-omega * dt)
    return target + (e + k * dt) * decay, (v - omega * k * dt) * decay


def _clamp(value: float, lo: float, hi: float) -> float:
    return lo if hi < lo else min(max(value, lo), hi)


def follow_face(frame: tuple[int, int], aspect: float, face: Box | None, previous: Framing | None, dt_ms: float,
                tuning: FramingTuning = FramingTuning(), *, widen: bool = False) -> Framing:
    """The crop for this moment, from the last one `dt_ms` ago (None at the start: centred).

    `frame` is the camera frame (w, h); `aspect` the screen's width / height; `face` the
    face box (normalised, camera coordinates, not mirrored) or None when there is none; with
    `widen`, the crop may grow wider than `aspect` to hold all of `face` (everyone's box).
    """
    fw, fh = frame
    w, h = crop_size(frame, aspect)
    dt = max(0.0, dt_ms) / 1000.0
    if previous is None or previous.h != h or not w - 0.5 <= previous.w <= (fw if widen else w) + 0.5:
        # first frame, a new frame size or shape, or widening switched off: start centred
        previous = Framing(fw / 2 - w / 2, fh / 2 - h / 2, w, h, aim=(fw / 2, fh / 2))
    widening = 0.0
    if widen:
        w, widening = _width_for(face, previous, w, fw, tuning, dt)
    half_w, half_h = w / 2, h / 2
    centre = (fw / 2, fh / 2)
    aim = previous.aim
    no_face_ms = 0.0 if face is not None else previous.no_face_ms + max(0.0, dt_ms)
    if face is not None:
        fx, fy = (face[0] + face[2]) / 2 * fw, (face[1] + face[3]) / 2 * fh
        # each way separately: the visitor has moved that way, aim at them; else hold still
        aim = (fx if abs(fx - aim[0]) > tuning.calm * w else aim[0],
               fy if abs(fy - aim[1]) > tuning.calm * h else aim[1])
    elif no_face_ms >= tuning.centre_after_ms:
        aim = centre
    # the spring goes where the crop fits in the frame (the aim itself is kept as the face was,
    # so a face near an edge is compared with where it was, not with the edge)
    target = (_clamp(aim[0], half_w, fw - half_w), _clamp(aim[1], half_h, fh - half_h))
    (cx, vx), (cy, vy) = (_spring(c, v, a, tuning.omega, dt)
                          for c, v, a in zip(previous.centre, previous.velocity, target))
    if face is not None:  # the face and its margin stay in view, whatever the spring is doing
        mx, my = tuning.margin * (face[2] - face[0]) * fw, tuning.margin * (face[3] - face[1]) * fh
        left, right = face[0] * fw - mx, face[2] * fw + mx
        top, bottom = face[1] * fh - my, face[3] * fh + my
        cx, vx = _keep(cx, vx, (left, right), (face[0] * fw, face[2] * fw), half=half_w)
        cy, vy = _keep(cy, vy, (top, bottom), (face[1] * fh, face[3] * fh), half=half_h)
    cx, cy = _clamp(cx, half_w, fw - half_w), _clamp(cy, half_h, fh - half_h)
    return Framing(cx - half_w, cy - half_h, w, h, aim=aim, velocity=(vx, vy), no_face_ms=no_face_ms,
                   widening=widening)


def _width_for(group: Box | None, previous: Framing, narrowest: float, widest: float, tuning: FramingTuning,
               dt: float) -> tuple[float, float]:
    """The crop's width (and its speed) for a group: on the spring towards the group's width with
    its margin (never under the screen's shape, never over the frame), but at once at least as
    wide as the group itself, so nobody is ever outside the picture."""
    if group is None:
        target = needed = narrowest
    else:
        span = (group[2] - group[0]) * widest
        target = _clamp(span * (1 + 2 * tuning.margin), narrowest, widest)
        needed = _clamp(span, narrowest, widest)
    w, v = _spring(previous.w, previous.widening, target, tuning.omega, dt)
    if w < needed:
        return needed, 0.0
    return _clamp(w, narrowest, widest), v


def _keep(c: float, v: float, *spans: tuple[float, float], half: float) -> tuple[float, float]:
    """Shift a crop centre so the first span that fits in a crop (the face with its margin,
    else the face alone) lies inside [c - half, c + half]; the speed is dropped when the crop
    had to be pushed. A face wider than the crop is left to the spring (which aims at it)."""
    for lo, hi in spans:
        if hi - lo > 2 * half:
            continue
        if lo < c - half:
            return lo + half, 0.0
        if hi > c + half:
            return hi - half, 0.0
        return c, v
    return c, v
