"""Group mode's anonymous statistics: counts per hour, nothing else.

Per local hour: visitors (faces that stayed at least a second), smiles (smile onsets),
contagion links and chains, celebrations. Never an image, never a position, never anything
that could tell one person from another. Kept in `group-stats.json` in the state folder,
written atomically (the photo store's writer), at most once a minute and at exit, so a power
cut loses a minute of counts at worst and never the file. Hours older than `keep_days` are
dropped. `smile-mirror stats --format json|csv` exports them for the venue.
"""

from __future__ import annotations

import csv
import datetime as dt
import io
import json
import logging
import time
from pathlib import Path
from typing import Any, Callable

from core.errors import SmileMirrorError
from core.safe_io import FolderLock, remove_stale_temporaries, shown
from core.statefile import Invalid, StateFile, whole_number

log = logging.getLogger(__name__)

FILENAME = "group-stats.json"
FIELDS = ("visitors", "smiles", "links", "chains", "celebrations")


def _hour_now() -> str:
    return dt.datetime.now().astimezone().strftime("%Y-%m-%dT%H:00%z")


class GroupStats:
    def __init__(self, state_dir: Path, *, save_every_s: float = 60.0, keep_days: int = 400,
                 hour: Callable[[], str] = _hour_now, clock: Callable[[], float] = time.monotonic) -> None:
        self.path = Path(state_dir) / FILENAME
        self.save_every_s = save_every_s
        self.keep_days = keep_days
        self._hour, self._clock = hour, clock
        self._lock = FolderLock(Path(state_dir))  # one writer per state folder
        if self._lock.held:
            remove_stale_temporaries(Path(state_dir))
        self._file = StateFile(self.path, "group statistics file", _check_leaf)
        self.hours: dict[str, dict[str, int]] = _rows(self._file.load())
        self._dirty = False
        self._saved_at = clock()

    def count(self, what: str, n: int = 1) -> None:
        if what not in FIELDS:
            raise ValueError(f"unknown statistic {what!r}")
        if n > 0:
            row = self.hours.setdefault(self._hour(), dict.fromkeys(FIELDS, 0))
            row[what] = row.get(what, 0) + n
            self._dirty = True
        # checked on every call (group mode calls every frame, mostly with n = 0), so counts
        # made before a quiet spell are still saved within the minute
        if self._clock() - self._saved_at >= self.save_every_s:
            self.save()

    def save(self) -> None:
        self._saved_at = self._clock()
        if not self._dirty:
            return
        self._prune()
        try:
            self._file.save({"version": 1, "hours": dict(sorted(self.hours.items()))})
            self._dirty = False
        except OSError as exc:  # a full or read-only disk must not stop the mirror
            log.warning("group statistics not saved to %s (%s)", shown(self.path), exc)

    def close(self) -> None:
        try:
            self.save()
        finally:
            self._lock.release()

    def _prune(self) -> None:
        """Drop the hours `keep_days` or more older than the newest hour (the one counted in
        now); hours with no counts in between take no room. Keys that do not parse are kept."""
        when = {key: _parse_hour(key) for key in self.hours}
        known = [t for t in when.values() if t is not None]
        if not known:
            return
        cutoff = max(known) - dt.timedelta(days=self.keep_days)
        for key, t in when.items():
            if t is not None and t <= cutoff:
                del self.hours[key]


def _parse_hour(key: str) -> dt.datetime | None:
    """An hour key ("2025-06-01T14:00+0200"; also without the offset) as an aware datetime."""
    for fmt in ("%Y-%m-%dT%H:%M%z", "%Y-%m-%dT%H:%M"):
        try:
            t = dt.datetime.strptime(key, fmt)
        except ValueError:
            continue
        return t if t.tzinfo is not None else t.replace(tzinfo=dt.timezone.utc)
    return None


class StatsMissing(SmileMirrorError, FileNotFoundError):
    """`smile-mirror stats` was pointed at a folder with no group statistics in it."""


def _check_leaf(path: tuple[str, ...], value: Any) -> Any:
    """One value of group-stats.json: {"version": 1, "hours": {HOUR: {FIELD: count}}}."""
    if path == ("version",):
        if value != 1:
            raise Invalid(f"version {value!r} is not 1")
        return value
    if len(path) == 3 and path[0] == "hours" and path[2] in FIELDS and len(path[1]) <= 40:
        return whole_number(value)
    raise Invalid("not a count of an hour")


def _rows(doc: dict[str, Any]) -> dict[str, dict[str, int]]:
    hours = doc.get("hours", {})
    return {h: {f: row.get(f, 0) for f in FIELDS} for h, row in hours.items()}


def load(path: Path) -> dict[str, dict[str, int]]:
    """The counts per hour in a statistics file, each value checked (a bad one is dropped)."""
    return _rows(StateFile(Path(path), "group statistics file", _check_leaf, writer=False).load())


def export(state_dir: Path, fmt: str) -> str:
    """The statistics as JSON (a list of rows) or CSV (a header and one line per hour).

    Raises StatsMissing when the folder holds no statistics file (most often the wrong folder)."""
    path = Path(state_dir) / FILENAME
    if not path.is_file():
        raise StatsMissing(f"no group statistics in {Path(state_dir)} (no {FILENAME}): group mode has not saved "
                           f"counts there; on the kiosk pass --state-dir /var/lib/smile-mirror")
    hours = load(path)
    rows = [{"hour": h, **hours[h]} for h in sorted(hours)]
    if fmt == "json":
        return json.dumps(rows, indent=1) + "\n"
    if fmt == "csv":
        out = io.StringIO()
        writer = csv.DictWriter(out, fieldnames=("hour", *FIELDS), lineterminator="\n")
        writer.writeheader()
        writer.writerows(rows)
        return out.getvalue()
    raise ValueError(f"unknown format {fmt!r}")
