"""Several faces at once: who is who from one frame to the next, by position alone.

Nobody is recognised: a face in this frame is the same person as a track from the last frames
when its centre is close to the track's (measured in face widths, so the gate scales with how
near people stand) and its size is similar. Matching is greedy on that distance, closest pairs
first, which for at most four faces is as good as an optimal assignment and easy to follow
(Norfair's and SORT's greedy variants do the same). A track that finds no face keeps its place
for `grace_ms` (a blink of the detector, a turned head) before it is dropped; a face that
matches no track starts a new one, taking the slot of the track unseen the longest when all
`max_faces` are taken. One person never holds two tracks: a face that fails the gate (its box
jumped in size, as when the detector picks it up again) but overlaps a track unseen in this
frame continues that track, and a track left unseen over a seen one is merged into it. Each
track owns its own scorer (`SmileTracker`: smoothing, hysteresis and the neutral baseline are
per person).

Pure logic: boxes and a clock in, tracks out; the scorer is injected so tables can test it.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any, Callable, Protocol, Sequence

from core.types import SmileReading

Box = tuple[float, float, float, float]


class Scorer(Protocol):
    def update(self, obs: Any, t_ms: float) -> SmileReading | None: ...


def centre_distance(a: Box, b: Box) -> float:
    """Distance between the boxes' centres, in widths of the larger box (scale-free)."""
    ax, ay = (a[0] + a[2]) / 2, (a[1] + a[3]) / 2
    bx, by = (b[0] + b[2]) / 2, (b[1] + b[3]) / 2
    size = max(a[2] - a[0], b[2] - b[0], 1e-6)
    return math.hypot(ax - bx, ay - by) / size


def size_ratio(a: Box, b: Box) -> float:
    """Larger width over smaller width (1 = same size)."""
    wa, wb = max(a[2] - a[0], 1e-6), max(b[2] - b[0], 1e-6)
    return max(wa, wb) / min(wa, wb)


def iou(a: Box, b: Box) -> float:
    ix = max(0.0, min(a[2], b[2]) - max(a[0], b[0]))
    iy = max(0.0, min(a[3], b[3]) - max(a[1], b[1]))
    inter = ix * iy
    union = (a[2] - a[0]) * (a[3] - a[1]) + (b[2] - b[0]) * (b[3] - b[1]) - inter
    return inter / union if union > 0 else 0.0


def match(tracks: Sequence[Box], faces: Sequence[Box], *, max_distance: float = 1.0,
          max_size_ratio: float = 1.8) -> list[tuple[int, int]]:
    """Greedy assignment: (track index, face index) pairs, closest first, each used once.

    A pair is allowed only when the centres are within `max_distance` face widths and the
    sizes within `max_size_ratio` of each other.
    """
    pairs = sorted((centre_distance(t, f), i, j) for i, t in enumerate(tracks) for j, f in enumerate(faces)
                   if size_ratio(t, f) <= max_size_ratio)
    used_t: set[int] = set()
    used_f: set[int] = set()
    out = []
    for d, i, j in pairs:
        if d > max_distance:
            break
        if i in used_t or j in used_f:
            continue
        used_t.add(i)
        used_f.add(j)
        out.append((i, j))
    return sorted(out)


def same_place(a: Box, b: Box, *, min_iou: float = 0.2, max_distance: float = 0.5) -> bool:
    """Two boxes one person could give: they overlap, or their centres are within half a face
    width, whatever their sizes (two people's faces are never that close)."""
    return iou(a, b) >= min_iou or centre_distance(a, b) <= max_distance


def dedupe(faces: Sequence[Any], *, max_iou: float = 0.5) -> list[Any]:
    """Drop any face overlapping a larger one by more than `max_iou` (one person seen twice)."""
    kept: list[Any] = []
    for f in sorted(faces, key=lambda o: -(o.box[2] - o.box[0]) * (o.box[3] - o.box[1])):
        if all(iou(f.box, k.box) <= max_iou for k in kept):
            kept.append(f)
    return kept


@dataclass(frozen=True, slots=True)
class TrackedFace:
    """One person in front of the mirror, as the screen should show them now."""

    id: int
    box: Box
    reading: SmileReading | None
    first_ms: float      # when the track started
    seen: bool           # a face matched this track in the latest frame (else: in its grace)
    last_ms: float = 0.0  # when a face last matched it (the frame's clock)

    def age_ms(self, now_ms: float) -> float:
        return now_ms - self.first_ms


@dataclass(slots=True)
class _Track:
    id: int
    box: Box
    scorer: Scorer
    first_ms: float
    last_ms: float
    reading: SmileReading | None = None


@dataclass(slots=True)
class FaceTracks:
    """Tracks up to `max_faces` faces across frames; `update` once per landmarker result."""

    max_faces: int = 4
    max_distance: float = 1.0   # face widths a centre may move between two scored frames
    grace_ms: float = 700.0     # how long a track waits for its face before it is dropped
    scorer: Callable[[], Scorer] = field(default=None)  # type: ignore[assignment]
    _tracks: list[_Track] = field(default_factory=list)
    _next_id: int = 1
    _last_update: float = -1e18
    started: int = 0            # tracks ever started (for tests and diagnostics)

    def __post_init__(self) -> None:
        if self.scorer is None:
            from core.scoring import SmileTracker
            self.scorer = SmileTracker

    def update(self, faces: Sequence[Any], t_ms: float) -> list[TrackedFace]:
        """`faces`: observations with a normalised `.box` (largest first, as the landmarker
        returns them). Returns the live tracks, oldest first."""
        faces = dedupe(faces)[: self.max_faces]
        # the grace runs while a face is missing, not while results are slow: a track seen in the
        # previous result is always offered to this one (a loaded device may score twice a second)
        self._tracks = [t for t in self._tracks if t.last_ms == self._last_update or t_ms - t.last_ms <= self.grace_ms]
        self._last_update = t_ms
        pairs = match([t.box for t in self._tracks], [f.box for f in faces], max_distance=self.max_distance)
        matched_tracks = {i for i, _ in pairs}
        for j, face in enumerate(faces):  # second chance: the same place, whatever the size
            if j in {f for _, f in pairs}:
                continue
            near = [i for i, t in enumerate(self._tracks) if i not in matched_tracks and same_place(t.box, face.box)]
            if near:
                i = min(near, key=lambda i: centre_distance(self._tracks[i].box, face.box))
                pairs.append((i, j))
                matched_tracks.add(i)
        matched_faces = set()
        for i, j in pairs:
            track, face = self._tracks[i], faces[j]
            track.box, track.last_ms = face.box, t_ms
            track.reading = track.scorer.update(face, t_ms)
            matched_faces.add(j)
        for j, face in enumerate(faces):
            if j in matched_faces:
                continue
            if len(self._tracks) >= self.max_faces:
                # every slot taken: the track unseen the longest (there is one) gives way to the newcomer
                unseen = [t for t in self._tracks if t.last_ms < t_ms]
                if not unseen:
                    continue
                self._tracks.remove(min(unseen, key=lambda t: t.last_ms))
            track = _Track(id=self._next_id, box=face.box, scorer=self.scorer(), first_ms=t_ms, last_ms=t_ms)
            track.reading = track.scorer.update(face, t_ms)
            self._next_id += 1
            self.started += 1
            self._tracks.append(track)
        self._merge(t_ms)
        return self.current(t_ms)

    def _merge(self, t_ms: float) -> None:
        """A track waiting in its grace where a seen track now is: the same person, twice."""
        seen = [t for t in self._tracks if t.last_ms == t_ms]
        self._tracks = [t for t in self._tracks
                        if t.last_ms == t_ms or not any(same_place(t.box, s.box) for s in seen)]

    def current(self, t_ms: float) -> list[TrackedFace]:
        return [TrackedFace(t.id, t.box, t.reading, t.first_ms, t.last_ms == t_ms, t.last_ms) for t in self._tracks]

    def reset(self) -> None:
        self._tracks.clear()
        self._last_update = -1e18
