"""Group mode on screen: a small gauge that follows each face, the group meter, sparks, a celebration.

Drawn on top of the mirrored camera by `Renderer` (it owns the fonts, label cache and layout
unit `u`; sizes here are in `u` too, so a 3 m viewing distance reads the same on any screen).
Per-face gauges are cached by score; the sparks and confetti are a few dozen anti-aliased
circles per frame.
"""

from __future__ import annotations

import math
from collections import OrderedDict
from typing import TYPE_CHECKING

import numpy as np
import pygame
import pygame.gfxdraw

from core.types import SmileKind, is_smiling, shown_score
from kiosk.text import kind_label, t
from kiosk.render import INK, KIND_COLOURS, MUTED, SHADE, _thick_arc, score_colour

if TYPE_CHECKING:
    from kiosk.group import GroupView, Spark
    from kiosk.render import Renderer
    from kiosk.view import View

GOLD = KIND_COLOURS[SmileKind.GENUINE]
CONFETTI = ((255, 206, 84), (255, 150, 70), (110, 215, 180), (140, 200, 255), (255, 120, 160), (245, 247, 250))


class GroupPainter:
    def __init__(self, renderer: "Renderer") -> None:
        self.r = renderer
        self._gauges: OrderedDict[int, pygame.Surface] = OrderedDict()
        rng = np.random.default_rng(9)
        n = 90
        self._confetti = np.column_stack([rng.uniform(0, 1, n), rng.uniform(-0.4, 0.0, n), rng.uniform(0.5, 1.1, n),
                                          rng.uniform(0, 2 * math.pi, n), rng.integers(0, len(CONFETTI), n)])

    # -- public -----------------------------------------------------------------------------
    def draw(self, view: "View", group: "GroupView", canvas: pygame.Surface) -> None:
        faces = [f for f in group.faces if f.reading is not None]
        for face in faces:
            self.r._face_marks(face.reading, view.mirror, canvas)
        if group.celebration > 0:  # behind the numbers, so they stay readable
            self._celebrate(group.celebration, canvas)
        for face in faces:
            self._tag(face.reading.score, face.reading.kind, face.box, view.mirror, canvas)
        for spark in group.sparks:
            self._spark(spark, view.mirror, canvas)
        self._meter(group, view.mirror, canvas)

    # -- pieces -----------------------------------------------------------------------------
    def _anchor(self, box, mirror: bool) -> tuple[float, float, bool]:
        """Where a face's tag goes: centred just above the head; when the head is too near the
        top, beside it (never below the chin, where the group meter is). The flag says whether
        the word goes over the gauge (True) or under it."""
        left, top, right, bottom = self.r.box_on_screen(box, mirror)
        u = self.r.u
        gauge = 2 * self._radius() + 4
        pad = 0.13 * (right - left)
        above = top - pad - round(1.0 * u) - gauge / 2  # just over the brackets
        if above - gauge / 2 - round(6.5 * u) > 0:  # room for the gauge and its word
            return (left + right) / 2, above, True
        side = right + pad + round(2 * u) + gauge / 2
        if side + gauge / 2 + round(4 * u) > self.r.w:
            side = left - pad - round(2 * u) - gauge / 2
        return side, max(top, gauge / 2 + round(1 * u)) + gauge / 2, False

    def _radius(self) -> int:
        return round(7.5 * self.r.u)

    def _tag(self, score: float, kind: SmileKind, box, mirror: bool, canvas: pygame.Surface) -> None:
        cx, cy, above = self._anchor(box, mirror)
        gauge = self._gauge(shown_score(score))
        canvas.blit(gauge, gauge.get_rect(center=(round(cx), round(cy))))
        u = self.r.u
        label = self.r._label(kind_label(kind) if kind is not SmileKind.NONE else t("group_smile_prompt"), round(5 * u),
                              KIND_COLOURS[kind] if kind is not SmileKind.NONE else MUTED, shadow=True)
        half = gauge.get_height() / 2
        gap = round(0.5 * u)  # the word sits on the side away from the face
        y = cy - half - gap - label.get_height() if above else cy + half + gap
        canvas.blit(label, label.get_rect(midtop=(round(cx), round(y))))

    def _gauge(self, score: int) -> pygame.Surface:
        surf = self._gauges.get(score)
        if surf is not None:
            self._gauges.move_to_end(score)
            return surf
        u = self.r.u
        r_out = self._radius()
        r_in = r_out - max(3, round(1.5 * u))
        size = 2 * r_out + 4
        surf = pygame.Surface((size, size), pygame.SRCALPHA)
        c = size / 2
        pygame.gfxdraw.filled_circle(surf, round(c), round(c), r_in, (*SHADE, 170))
        start, sweep = math.radians(135), math.radians(270)
        _thick_arc(surf, c, r_in, r_out, start, sweep, (255, 255, 255, 70))
        if score > 0:
            _thick_arc(surf, c, r_in, r_out, start, sweep * score / 100.0, (*score_colour(score), 255))
        number = self.r._font(round(8 * u)).render(str(score), True, INK)
        surf.blit(number, number.get_rect(center=(c, c + 0.03 * size)))
        self._gauges[score] = surf
        if len(self._gauges) > 110:
            self._gauges.popitem(last=False)
        return surf

    def _spark(self, spark: "Spark", mirror: bool, canvas: pygame.Surface) -> None:
        """A glowing dot flies on an arc from the first smiler's gauge to the next one's, with a
        fading trail, and lands in a ring that opens around the newcomer's gauge."""
        u = self.r.u
        ax, ay, _ = self._anchor(spark.source, mirror)
        bx, by, _ = self._anchor(spark.target, mirror)
        lift = max(12 * u, 0.35 * abs(bx - ax))
        mx, my = (ax + bx) / 2, min(ay, by) - lift
        if my < 4 * u:
            mx, my = (ax + bx) / 2, max(ay, by) + lift  # no room above: arc underneath
        fly = min(1.0, spark.progress / 0.7)
        head = 1 - (1 - fly) ** 3  # ease out

        def point(s: float) -> tuple[float, float]:
            return ((1 - s) ** 2 * ax + 2 * (1 - s) * s * mx + s * s * bx,
                    (1 - s) ** 2 * ay + 2 * (1 - s) * s * my + s * s * by)

        if fly < 1.0:
            for i in range(14, -1, -1):
                s = head - i * 0.028
                if s < 0:
                    continue
                x, y = point(s)
                fade = 1 - i / 15
                radius = max(1, round((0.35 + 1.25 * fade) * u))
                pygame.gfxdraw.filled_circle(canvas, round(x), round(y), radius, (*GOLD, round(230 * fade)))
            x, y = point(head)
            for k, alpha in ((3.2, 50), (2.3, 90), (1.5, 255)):
                pygame.gfxdraw.filled_circle(canvas, round(x), round(y), round(k * u), (255, 240, 200, alpha))
        else:
            land = (spark.progress - 0.7) / 0.3
            radius = round(self._radius() + land * 9 * u)
            alpha = round(255 * (1 - land))
            for k in range(max(2, round(0.7 * u))):
                pygame.gfxdraw.aacircle(canvas, round(bx), round(by), radius + k, (*GOLD, alpha))
            text = self.r._label(t("contagion_chain", length=spark.length) if spark.length > 2 else t("contagion_passed"),
                                 round(4.6 * u), GOLD, shadow=True)
            text.set_alpha(alpha)
            y = by - self._radius() - 9.5 * u  # over the newcomer's tag, off their face
            y = y if y - text.get_height() / 2 > 2 * u else by + self._radius() + 9.5 * u
            canvas.blit(text, text.get_rect(center=(round(bx), round(y))))
            text.set_alpha(None)

    def _meter(self, group: "GroupView", mirror: bool, canvas: pygame.Surface) -> None:
        """The group smile level (a big gauge), how many smile (words and one dot per person)
        and the chains counted, on the dark band at the bottom."""
        r, u, h = self.r, self.r.u, self.r.h
        canvas.blit(r._band, (0, h - r._band.get_height()))
        gauge = r._gauge_surface(round(group.level))
        gx, gy = round(4 * u), h - gauge.get_height() - round(4 * u)
        canvas.blit(gauge, (gx, gy))
        tx = gx + gauge.get_width() + round(4 * u)
        caption = r._label(t("group_caption"), round(4.2 * u), MUTED, shadow=True)
        if group.celebration > 0:  # the words pop in where the count was
            pop = min(1.0, group.celebration / 0.1)
            count = r._label(t("group_everybody"), round((7.5 + 1.8 * (1 - (1 - pop) ** 2)) * u), GOLD, shadow=True)
        else:
            count = r._label(t("group_count", smiling=group.smiling, present=group.present), round(9 * u),
                             GOLD if group.present > 1 and group.smiling == group.present else INK, shadow=True)
        y = gy + round(1 * u)
        canvas.blit(caption, (tx, y))
        y += caption.get_height() + round(0.8 * u)
        canvas.blit(count, (tx, y))
        y = gy + round(1 * u) + caption.get_height() + round(0.8 * u) + round(9 * u) + round(2.2 * u)
        dot = round(2.6 * u)
        faces = sorted((f for f in group.faces if f.reading is not None),
                       key=lambda f: -(f.box[0] + f.box[2]) if mirror else (f.box[0] + f.box[2]))
        x = tx + dot
        for f in faces:
            colour = score_colour(f.reading.score)
            if is_smiling(f.reading.score):
                pygame.gfxdraw.filled_circle(canvas, x, y + dot, dot, colour)
            pygame.gfxdraw.aacircle(canvas, x, y + dot, dot, colour)
            pygame.gfxdraw.aacircle(canvas, x, y + dot, dot - 1, colour)
            x += round(3 * dot)
        if group.chains:
            chains = r._label(t("group_chains", count=group.chains), round(4.6 * u), MUTED, shadow=True)
            canvas.blit(chains, (x + dot, y + dot - chains.get_height() // 2))

    def _celebrate(self, t: float, canvas: pygame.Surface) -> None:
        """Confetti falls over everything (the meter says "Everybody's smiling!")."""
        r, u = self.r, self.r.u
        w, h = r.w, r.h
        fade = min(1.0, (1 - t) / 0.2)
        for x0, y0, speed, phase, ci in self._confetti:
            y = (y0 + speed * t * 1.3) * h
            if y < -2 * u or y > h:
                continue
            x = x0 * w + math.sin(phase + t * 9) * 2.5 * u
            colour = (*CONFETTI[int(ci)], round(235 * fade))
            a = phase + t * 12
            dx, dy = math.cos(a) * 1.4 * u, math.sin(a) * 0.6 * u
            pts = [(x - dx - dy, y - dy + dx), (x + dx - dy, y + dy + dx), (x + dx + dy, y + dy - dx),
                   (x - dx + dy, y - dy - dx)]
            pygame.gfxdraw.filled_polygon(canvas, pts, colour)
