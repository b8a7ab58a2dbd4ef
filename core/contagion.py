"""Smile contagion: one person's smile followed by another's, made countable.

Facial mimicry starts about 300 ms after seeing a smile, so a smile onset that follows another
person's onset by `min_ms`..`max_ms` (0.3-3 s) is a *link* from the first smiler to the next
(onsets closer than 0.3 s are simultaneous: a shared joke, not contagion). The source is the
most recent earlier onset in the window whose owner is still smiling. Links that follow from a
member of a running chain grow that chain; a link from someone in no running chain starts a new
one. A chain ends when none of its members smiles any more. When everybody present (two or
more) smiles at once, that is a *celebration*, at most once per `celebrate_cooldown_ms` and
only after the group was not all smiling.

An onset is a change from not smiling to smiling of a person seen not smiling first: someone
who walks up already smiling has no onset time, so they start no link (they can still be
linked to, by smiling again later).

Pure logic on the caller's clock (the frame's time), tested with a fake one.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Mapping


@dataclass(frozen=True, slots=True)
class Link:
    source: int       # track id of the first smiler
    target: int       # track id of the one who followed
    t_ms: float       # the target's onset
    delay_ms: float   # target onset - source onset
    chain: int        # chain number (1, 2, ... since start)
    length: int       # people in the chain after this link


@dataclass(frozen=True, slots=True)
class Step:
    onsets: tuple[int, ...] = ()
    links: tuple[Link, ...] = ()
    celebration: bool = False   # everybody started smiling together at this step


@dataclass(slots=True)
class _Chain:
    number: int
    members: set[int]


@dataclass(slots=True)
class Contagion:
    min_ms: float = 300.0
    max_ms: float = 3000.0
    celebrate_cooldown_ms: float = 8000.0
    onsets_total: int = 0
    links_total: int = 0
    chains_total: int = 0
    celebrations_total: int = 0
    longest_chain: int = 0
    _smiling: dict[int, bool] = field(default_factory=dict)
    _onset_ms: dict[int, float] = field(default_factory=dict)
    _chains: list[_Chain] = field(default_factory=list)
    _all_smiling: bool = False
    _last_celebration: float = -1e18

    def update(self, t_ms: float, smiling: Mapping[int, bool]) -> Step:
        """`smiling`: every person present now (track id -> smiling?). People absent are forgotten."""
        for gone in set(self._smiling) - set(smiling):
            del self._smiling[gone]
            self._onset_ms.pop(gone, None)
        onsets = []
        for pid, now in smiling.items():
            before = self._smiling.get(pid)
            if now and before is False:
                onsets.append(pid)
            elif not now:
                self._onset_ms.pop(pid, None)
            self._smiling[pid] = now
        # earlier onsets first, so a source is always an onset from a previous step
        sources = {pid: t for pid, t in self._onset_ms.items() if smiling.get(pid)}
        links = []
        for pid in sorted(onsets):
            candidates = [(t, src) for src, t in sources.items()
                          if src != pid and self.min_ms <= t_ms - t <= self.max_ms]
            if candidates:
                t_src, src = max(candidates)
                links.append(self._link(src, pid, t_ms, t_ms - t_src))
        for pid in onsets:
            self._onset_ms[pid] = t_ms
        self.onsets_total += len(onsets)
        self._end_chains(smiling)
        everybody = len(smiling) >= 2 and all(smiling.values())
        celebration = (everybody and not self._all_smiling
                       and t_ms - self._last_celebration >= self.celebrate_cooldown_ms)
        if celebration:
            self._last_celebration = t_ms
            self.celebrations_total += 1
        self._all_smiling = everybody
        return Step(tuple(sorted(onsets)), tuple(links), celebration)

    def _link(self, src: int, dst: int, t_ms: float, delay: float) -> Link:
        chain = next((c for c in self._chains if src in c.members), None)
        if chain is None:
            self.chains_total += 1
            chain = _Chain(self.chains_total, {src})
            self._chains.append(chain)
        for other in self._chains:  # a person belongs to one running chain: the newest
            if other is not chain:
                other.members.discard(dst)
        chain.members.add(dst)
        self.links_total += 1
        self.longest_chain = max(self.longest_chain, len(chain.members))
        return Link(src, dst, t_ms, delay, chain.number, len(chain.members))

    def _end_chains(self, smiling: Mapping[int, bool]) -> None:
        self._chains = [c for c in self._chains if any(smiling.get(m) for m in c.members)]

    @property
    def running_chains(self) -> int:
        return len(self._chains)
