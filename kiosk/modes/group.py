"""Group mode: two to four people, a gauge that follows each face, the group meter, sparks
when one smile follows another, confetti when everybody smiles.

The people, their scores and the contagion between them are kiosk.group's `Group`; this
module plugs it into the loop (a landmarker per face count) and paints it.
"""

from __future__ import annotations

import logging
import math
from typing import TYPE_CHECKING, Any, ClassVar, Sequence

import numpy as np
import pygame

from core.types import FaceObservation, SmileKind, SmileReading, is_smiling
from kiosk.group import Group, GroupView, Spark, group_faces
from kiosk.modes.base import SingleFaceMode
from kiosk.modes.lobby import paint_attract
from kiosk.paint import CAP_RATIO, GOLD, INK, KIND_COLOURS, MUTED, Painter, score_colour
from kiosk.text import kind_label, t
from kiosk.view import Screen

if TYPE_CHECKING:
    from core.config import Config
    from core.landmarker import Landmarker
    from kiosk.view import View

log = logging.getLogger(__name__)

CONFETTI = ((255, 206, 84), (255, 150, 70), (110, 215, 180), (140, 200, 255), (255, 120, 160), (245, 247, 250))


# A face's tag word may be narrower than a "line" (3% of the height) where a full-size word
# would reach over the next person's face (small or crowded faces, a portrait screen); this is
# its floor, as a share of the screen height.
TAG_MINIMUM = 0.02

class GroupMode(SingleFaceMode):
    name: ClassVar[str] = "group"

    def __init__(self, group: Group) -> None:
        super().__init__()
        self.group = group
        self._view: GroupView | None = None
        self._painter = GroupPainter()
        self._above: dict[tuple[int, int], int] = {}  # the meter band's top, by screen size

    @classmethod
    def from_config(cls, config: "Config") -> "GroupMode":
        from core.config import state_dir
        from kiosk.group_stats import GroupStats

        folder = state_dir(config)
        faces = group_faces(config.pipeline.max_faces)
        log.info("group mode: up to %d faces; anonymous counts per hour in %s", faces, folder / "group-stats.json")
        return cls(Group(max_faces=faces, stats=GroupStats(folder)))

    @classmethod
    def landmarker(cls, config: "Config", model: Any) -> "Landmarker":
        """Up to N faces, newcomers looked for twice a second: LiteRT tracks each face on its own
        and does this natively; mediapipe needs one landmarker per face count (core.multiface)."""
        from core.backends import make_landmarker, resolve

        faces = group_faces(config.pipeline.max_faces)
        if resolve(config.model.backend) == "litert":
            return make_landmarker(model, backend="litert", max_faces=faces, threads=config.pipeline.threads)
        from core.multiface import NewcomerSearchLandmarker

        return NewcomerSearchLandmarker(model, max_faces=faces)

    def observe(self, faces: Sequence[FaceObservation], t_ms: float) -> SmileReading | None:
        """Every face tracked; the largest one drives the kiosk's attract/mirror decision."""
        return self.group.observe(faces, t_ms)

    def step(self, tick) -> Screen:
        self._view = self.group.view(tick.now_ms)
        return tick.screen

    def view(self) -> GroupView | None:
        return self._view

    def animating(self) -> bool:
        return self._view is not None and self._view.animating

    def record(self) -> dict:
        return {"faces": self.group.records()}

    def close(self) -> None:
        self.group.close()

    def paint(self, view: "View", p: Painter) -> None:
        group: GroupView | None = view.mode
        if view.frame is None:
            return
        if view.screen is Screen.MIRROR and group is not None and group.faces:
            boxes = [f.box for f in group.faces if f.reading is not None]
            everyone = (min(b[0] for b in boxes), min(b[1] for b in boxes), max(b[2] for b in boxes),
                        max(b[3] for b in boxes)) if boxes else None
            # everybody in view, and a picture narrower than the screen kept above the meter's band
            above = self._above[(p.w, p.h)] = self._painter.panel_top(group, p)
            p.camera(view.frame, mirror=view.mirror, follow=everyone, t_ms=view.t_ms, widen=True, above=above)
            self._painter.draw(group, p)
        elif view.screen is Screen.MIRROR:  # everybody just left: the plain mirror, no stale gauges,
            p.camera(view.frame, mirror=view.mirror, t_ms=view.t_ms, widen=True,
                     above=self._above.get((p.w, p.h)))  # narrowing back
        else:
            paint_attract(view, p)


class GroupPainter:
    """Sizes in layout units `u`, like every painter; confetti positions are fixed per run."""

    def __init__(self) -> None:
        rng = np.random.default_rng(9)
        n = 90
        self._confetti = np.column_stack([rng.uniform(0, 1, n), rng.uniform(-0.4, 0.0, n), rng.uniform(0.5, 1.1, n),
                                          rng.uniform(0, 2 * math.pi, n), rng.integers(0, len(CONFETTI), n)])

    def draw(self, group: GroupView, p: Painter) -> None:
        """Marks and a tag for each face in the picture (one cropped out of a narrow screen
        still counts in the meter, but gets no tag pinned to the edge), sparks between them,
        the meter."""
        faces = [f for f in group.faces if f.reading is not None and self._in_picture(f.box, p)]
        for face in faces:
            p.face_marks(face.reading.box, score_colour(face.reading.score))
        if group.celebration > 0:  # behind the numbers, so they stay readable
            self._celebrate(group.celebration, p)
        for face in faces:
            self._tag(face.reading.score, face.reading.kind, face.box, p)
        for spark in group.sparks:
            if self._in_picture(spark.source, p) and self._in_picture(spark.target, p):
                self._spark(spark, p)
        self._meter(group, p)

    @staticmethod
    def _in_picture(box, p: Painter) -> bool:
        """The face's centre is on the screen."""
        assert p.map is not None
        left, top, right, bottom = p.map.box(box)
        return 0 <= (left + right) / 2 <= p.w and 0 <= (top + bottom) / 2 <= p.h

    @staticmethod
    def _radius(p: Painter) -> float:
        """A face's dial: wide enough for a "line"-sized number inside its ring."""
        return max(7.5 * p.u, 0.55 * p.font(p.px("line")).size("100")[0] + 2.5 * p.u)

    def _anchor(self, box, p: Painter) -> tuple[float, float, bool]:
        """Where a face's tag goes: centred just above the head; when the head is too near the
        top, beside it (never below the chin, where the group meter is). The flag says whether
        the word goes over the gauge (True) or under it."""
        assert p.map is not None
        left, top, right, bottom = p.map.box(box)
        u = p.u
        gauge = 2 * self._radius(p) + 4
        pad = 0.13 * (right - left)
        above = top - pad - round(1.0 * u) - gauge / 2  # just over the brackets
        if above - gauge / 2 - p.font(p.px("line")).get_linesize() - round(u) > 0:  # room for the gauge and its word
            return (left + right) / 2, above, True
        side = right + pad + round(2 * u) + gauge / 2
        if side + gauge / 2 + round(4 * u) > p.w:
            side = left - pad - round(2 * u) - gauge / 2
        return side, max(top, gauge / 2 + round(1 * u)) + gauge / 2, False

    def _tag_centre(self, box, p: Painter) -> tuple[float, float]:
        """Where a face's gauge is drawn (for the spark's flight)."""
        cx, cy, above = self._anchor(box, p)
        return self._clamp(cx, cy, above, 0, round(5 * p.u), p)

    def _tag(self, score: float, kind: SmileKind, box, p: Painter) -> tuple[pygame.Rect, pygame.Rect]:
        """A face's gauge and its word, kept whole on the screen. Returns both rectangles."""
        cx, cy, above = self._anchor(box, p)
        u = p.u
        word = kind_label(kind) if kind is not SmileKind.NONE else t("group_smile_prompt")
        colour = KIND_COLOURS[kind] if kind is not SmileKind.NONE else MUTED
        left, _, right, _ = p.map.box(box) if p.map is not None else (0.0, 0, p.w, 0)
        # a "line", narrowed where it would reach over the next person's face, never below a
        # glyph 2% of the screen high (TAG_MINIMUM)
        px = max(math.ceil(TAG_MINIMUM * p.h / CAP_RATIO),
                 p.fit_px(word, p.px("line"), max(1.5 * (right - left), 2 * self._radius(p) + 4 * u)))
        ww, wh = p.font(px).size(word)
        cx, cy = self._clamp(cx, cy, above, ww, wh, p)
        gap = round(0.5 * u)  # the word sits on the side away from the face
        rect = p.gauge(score, (cx, cy), self._radius(p), number_px=p.px("line"), thickness=1.5 * u, backdrop=True,
                       role="line")
        if above:
            label = p.text(word, px, colour, midbottom=(round(cx), rect.top - gap))
        else:
            label = p.text(word, px, colour, midtop=(round(cx), rect.bottom + gap))
        return rect, label

    def _clamp(self, cx: float, cy: float, above: bool, word_w: float, word_h: float,
               p: Painter) -> tuple[float, float]:
        """Move a tag (gauge centred at cx, cy, its word over or under it) inside the screen."""
        margin = 1.0 * p.u
        half = self._radius(p) + 2
        gap = round(0.5 * p.u)
        half_w = max(half, word_w / 2)
        up = half + (word_h + gap if above else 0)      # from the centre to the tag's top
        down = half + (0 if above else word_h + gap)    # ... and to its bottom
        cx = min(max(cx, margin + half_w), p.w - margin - half_w)
        cy = min(max(cy, margin + up), p.h - margin - down)
        return cx, cy

    def _spark(self, spark: Spark, p: Painter) -> None:
        """A glowing dot flies on an arc from the first smiler's gauge to the next one's, with a
        fading trail, and lands in a ring that opens around the newcomer's gauge."""
        u = p.u
        ax, ay = self._tag_centre(spark.source, p)
        bx, by = self._tag_centre(spark.target, p)
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
                fade = 1 - i / 15
                p.dot(point(s), (0.35 + 1.25 * fade) * u, GOLD, alpha=round(230 * fade))
            for k, alpha in ((3.2, 50), (2.3, 90), (1.5, 255)):
                p.dot(point(head), k * u, (255, 240, 200), alpha=alpha)
        else:
            land = (spark.progress - 0.7) / 0.3
            alpha = round(255 * (1 - land))
            p.dot((bx, by), self._radius(p) + land * 9 * u, GOLD, alpha=alpha, filled=False,
                  width=max(2, round(0.7 * u)))
            text = t("contagion_chain", length=spark.length) if spark.length > 2 else t("contagion_passed")
            px = p.px("line")
            tw, th = p.font(px).size(text)
            clear = self._radius(p) + p.font(p.px("line")).get_linesize() + th / 2 + u  # past the tag's word
            y = by - clear  # over the newcomer's tag, off their face
            y = y if y - th / 2 > u else by + clear
            x = min(max(bx, tw / 2 + u), p.w - tw / 2 - u)  # whole on the screen
            y = min(max(y, th / 2 + u), p.h - th / 2 - u)
            p.text(text, px, GOLD, alpha=alpha, center=(round(x), round(y)))

    @staticmethod
    def _count(group: GroupView, p: Painter) -> tuple[str, int, tuple[int, int, int]]:
        """The count line (words, size, colour); while the group celebrates, the words that pop in."""
        if group.celebration > 0:
            pop = min(1.0, group.celebration / 0.1)
            return t("group_everybody"), round(p.px("verdict") * (1 + 0.24 * (1 - (1 - pop) ** 2))), GOLD
        colour = GOLD if group.present > 1 and group.smiling == group.present else INK
        return t("group_count", smiling=group.smiling, present=group.present), p.px("verdict"), colour

    @staticmethod
    def _gauge_place(p: Painter) -> tuple[float, int, int, int]:
        """The level gauge's radius and top-left corner, and where words beside it start."""
        radius = 15 * p.u
        gx, gy = round(4 * p.u), round(p.h - 2 * radius - 4 - 4 * p.u)
        return radius, gx, gy, gx + round(2 * radius) + 4 + round(4 * p.u)

    def _layout(self, count: str, count_px: int, p: Painter) -> tuple[int, int, int, int]:
        """(count size fitted to its width, top of the words, the dark band's height, the count's
        width) on the band at the bottom: the gauge at its left; the words beside it on a
        landscape screen, over it on a portrait one."""
        u, h = p.u, p.h
        _, gx, gy, tx = self._gauge_place(p)
        count_w = p.w - 2 * gx if p.portrait else p.w - tx - round(3 * u)
        longest = max(count.split(), key=lambda word: p.font(count_px).size(word)[0])
        count_px = max(p.px("verdict"), min(count_px, p.fit_px(longest, count_px, count_w)))  # the pop stays on screen
        step = round(p.font(count_px).get_linesize() * 0.92)
        count_h = len(p.wrap(count, count_px, count_w)) * step
        caption_h = len(p.wrap(t("group_caption"), "line", count_w)) * round(p.font(p.px("line")).get_linesize() * 0.92)
        top = gy - count_h - caption_h - round(3 * u) if p.portrait else gy
        return count_px, top, max(round(h * 0.36), h - top + round(3 * u)), count_w

    def panel_top(self, group: GroupView, p: Painter) -> int:
        """Where the meter's band starts at its tallest (the count, or the celebration's words at
        their biggest), so a picture kept above it stays put when the group celebrates."""
        bands = (self._layout(t("group_count", smiling=group.smiling, present=group.present), p.px("verdict"), p)[2],
                 self._layout(t("group_everybody"), round(p.px("verdict") * 1.24), p)[2])
        return p.h - max(bands)

    def _meter(self, group: GroupView, p: Painter) -> None:
        """The group smile level (a big gauge), how many smile (words and one dot per person)
        and the chains counted, on the dark band at the bottom. The count is a verdict-sized
        line: beside the gauge on a landscape screen, over it (full width) on a portrait one."""
        u, h = p.u, p.h
        radius, gx, gy, tx = self._gauge_place(p)
        side_w = p.w - tx - round(3 * u)  # the words beside the gauge
        count, count_px, count_colour = self._count(group, p)
        count_px, top, band, count_w = self._layout(count, count_px, p)
        p.fade(h - band, band)
        # the group's level: score-sized; on a portrait screen a dial that size would be over half
        # the width and cover the people, so there its number is verdict-sized
        level_role = "verdict" if p.portrait else "score"
        p.gauge(group.level, (gx + radius + 2, gy + radius + 2), radius, number_px=p.px(level_role), role=level_role)
        y = gy + round(1 * u)
        if p.portrait:  # caption and count over the dial, the dots beside it
            caption = p.paragraph(t("group_caption"), "line", MUTED, count_w, x=gx, y=top)
            p.paragraph(count, count_px, count_colour, count_w, x=gx, y=caption.bottom + round(0.8 * u))
        else:
            caption = p.paragraph(t("group_caption"), "line", MUTED, side_w, x=tx, y=y)
            y = caption.bottom + round(0.8 * u)
            y = p.paragraph(count, count_px, count_colour, count_w, x=tx, y=y).bottom + round(1.5 * u)
        dot = round(2.6 * u)
        mirror = p.map.mirror if p.map is not None else True
        faces = sorted((f for f in group.faces if f.reading is not None),
                       key=lambda f: -(f.box[0] + f.box[2]) if mirror else (f.box[0] + f.box[2]))
        x = tx + dot
        for f in faces:
            colour = score_colour(f.reading.score)
            p.dot((x, y + dot), dot, colour, filled=is_smiling(f.reading.score), width=2)
            x += round(3 * dot)
        if group.chains:
            chains = t("group_chains", count=group.chains)
            if p.font(p.px("line")).size(chains)[0] <= p.w - (x + dot) - round(3 * u):
                p.text(chains, "line", MUTED, midleft=(x + dot, y + dot))
            else:  # no room beside the dots: under them
                p.paragraph(chains, "line", MUTED, side_w, x=tx, y=y + 2 * dot + round(u))

    def _celebrate(self, t: float, p: Painter) -> None:
        """Confetti falls over everything (the meter says "Everybody's smiling!")."""
        u, w, h = p.u, p.w, p.h
        fade = min(1.0, (1 - t) / 0.2)
        for x0, y0, speed, phase, ci in self._confetti:
            y = (y0 + speed * t * 1.3) * h
            if y < -2 * u or y > h:
                continue
            x = x0 * w + math.sin(phase + t * 9) * 2.5 * u
            p.confetto((x, y), u, math.degrees(phase + t * 12), CONFETTI[int(ci)], alpha=round(235 * fade))
