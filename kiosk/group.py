"""Lobby group mode: several people, one score each, a group meter, and smiles that spread.

Plugs into the app loop like the photo booth: the App hands it every landmarker result
(`observe`) and asks it for what to draw (`view`). Tracking (core.tracking) keeps each score
with its person; contagion (core.contagion) turns smile onsets into links, chains and
celebrations; GroupStats counts them per hour, anonymously.
"""

from __future__ import annotations

import logging
from collections import deque
from dataclasses import dataclass
from typing import Sequence

from core.contagion import Contagion, Link
from core.scoring import SMILE_AT
from core.tracking import Box, FaceTracks, TrackedFace
from core.types import FaceObservation, SmileReading
from kiosk.group_stats import GroupStats

log = logging.getLogger(__name__)

SPARK_MS = 1400.0        # a spark's flight from the first smiler to the next, and its landing
CELEBRATE_MS = 3200.0    # how long "everybody's smiling" is shown
VISITOR_MS = 1000.0      # a face must stay this long to count as a visitor


@dataclass(frozen=True, slots=True)
class Spark:
    source: Box
    target: Box
    progress: float      # 0 -> 1 over SPARK_MS
    length: int          # people in the chain after this link
    seed: int


@dataclass(frozen=True, slots=True)
class GroupView:
    faces: tuple[TrackedFace, ...]
    present: int
    smiling: int
    level: float                 # 0-100: the group's mean score
    sparks: tuple[Spark, ...] = ()
    celebration: float = 0.0     # 0: none; else how far through (0-1]
    chains: int = 0              # contagion chains since start
    longest_chain: int = 0

    @property
    def animating(self) -> bool:
        return bool(self.sparks) or self.celebration > 0


class GroupMode:
    def __init__(self, *, max_faces: int = 4, stats: GroupStats | None = None, tracks: FaceTracks | None = None,
                 contagion: Contagion | None = None) -> None:
        self.tracks = tracks or FaceTracks(max_faces=max_faces)
        self.contagion = contagion or Contagion()
        self.stats = stats
        self.faces: list[TrackedFace] = []
        self.links: deque[Link] = deque(maxlen=16)
        self._celebrated_at = -1e18
        self._visitors: set[int] = set()
        self.visitors = 0
        self.smiles = 0

    def observe(self, faces: Sequence[FaceObservation], t_ms: float) -> SmileReading | None:
        """One landmarker result. Returns the reading of the largest face seen (for the kiosk's
        attract/mirror decision and the single-face readings line)."""
        self.faces = self.tracks.update(faces, t_ms)
        smiling = {f.id: f.reading is not None and f.reading.score >= SMILE_AT for f in self.faces}
        chains_before = self.contagion.chains_total
        step = self.contagion.update(t_ms, smiling)
        # smile onsets as contagion sees them: someone who arrives smiling (or a track picked up
        # again while smiling) has not started a smile here
        new_smiles = len(step.onsets)
        new_chains = self.contagion.chains_total - chains_before  # as on screen (GroupView.chains)
        new_visitors = [f.id for f in self.faces if f.id not in self._visitors and f.age_ms(t_ms) >= VISITOR_MS]
        self._visitors = {f.id for f in self.faces if f.id in self._visitors or f.id in new_visitors}
        self.visitors += len(new_visitors)
        self.smiles += new_smiles
        for link in step.links:
            self.links.append(link)
            log.debug("smile contagion %d -> %d after %.0f ms (chain %d, %d people)", link.source, link.target,
                      link.delay_ms, link.chain, link.length)
        if step.celebration:
            self._celebrated_at = t_ms
        if self.stats is not None:
            self.stats.count("visitors", len(new_visitors))
            self.stats.count("smiles", new_smiles)
            self.stats.count("links", len(step.links))
            self.stats.count("chains", new_chains)
            self.stats.count("celebrations", int(step.celebration))
        seen = [f for f in self.faces if f.seen and f.reading is not None]
        if not seen:
            return None
        return max(seen, key=lambda f: (f.box[2] - f.box[0]) * (f.box[3] - f.box[1])).reading

    def view(self, now_ms: float) -> GroupView:
        readings = [f.reading for f in self.faces if f.reading is not None]
        by_id = {f.id: f for f in self.faces}
        sparks = []
        for link in self.links:
            progress = (now_ms - link.t_ms) / SPARK_MS
            if 0.0 <= progress <= 1.0 and link.source in by_id and link.target in by_id:
                sparks.append(Spark(by_id[link.source].box, by_id[link.target].box, progress, link.length,
                                    seed=hash((link.source, link.target, round(link.t_ms))) & 0xFFFF))
        since = now_ms - self._celebrated_at
        celebration = max(since, 1.0) / CELEBRATE_MS if 0.0 <= since <= CELEBRATE_MS else 0.0
        return GroupView(
            faces=tuple(self.faces), present=len(readings),
            smiling=sum(1 for r in readings if r.score >= SMILE_AT),
            level=sum(r.score for r in readings) / len(readings) if readings else 0.0,
            sparks=tuple(sparks), celebration=celebration,
            chains=self.contagion.chains_total, longest_chain=self.contagion.longest_chain)

    def records(self) -> list[dict]:
        """The per-face part of a `--readings` line."""
        return [{"id": f.id, "box": [round(v, 4) for v in f.box], "seen": f.seen,
                 "score": None if f.reading is None else round(f.reading.score, 2),
                 "kind": None if f.reading is None else f.reading.kind.value,
                 "eye_engagement": None if f.reading is None else round(f.reading.eye_engagement, 2)}
                for f in self.faces]

    def close(self) -> None:
        if self.stats is not None:
            self.stats.close()


# ---- set-up from the config (used by `smile-mirror run --mode group` and the bench) -------------

GROUP_DEFAULT_FACES = 4


def group_faces(max_faces: int) -> int:
    """`pipeline.max_faces` in group mode: the configured number when above 1, else 4."""
    return max_faces if max_faces > 1 else GROUP_DEFAULT_FACES


def group_landmarker(model, max_faces: int, *, backend: str = "auto", threads: int = 1):
    """Up to max_faces faces, detecting newcomers twice a second: LiteRT tracks each face on its
    own and does this natively; mediapipe needs one landmarker per face count (core.multiface)."""
    from core.backends import make_landmarker, resolve

    if resolve(backend) == "litert":
        return make_landmarker(model, backend="litert", max_faces=group_faces(max_faces), threads=threads)
    from core.multiface import NewcomerSearchLandmarker

    return NewcomerSearchLandmarker(model, max_faces=group_faces(max_faces))


def group_mode(config) -> GroupMode:
    from core.config import state_dir

    folder = state_dir(config)
    log.info("group mode: up to %d faces; anonymous counts per hour in %s", group_faces(config.pipeline.max_faces),
             folder / "group-stats.json")
    return GroupMode(max_faces=group_faces(config.pipeline.max_faces), stats=GroupStats(folder))
