"""Group mode's anonymous statistics: counts per hour, nothing else.

Per local hour: visitors (faces that stayed at least a second), smiles (smile onsets),
contagion links and chains, celebrations. Never an image, never a position, never anything
that could tell one person from another. Kept in `group-stats.json` in the state folder,
written atomically (the photo store's writer) on a writer thread of its own, so the display
never waits for the disk, at most once a minute and at exit (close waits for the writer), so a
power cut loses a minute of counts at worst and never the file. Hours older than `keep_days` are
dropped. `smile-mirror stats --format json|csv` exports them for the venue.
"""

from __future__ import annotations

import csv
import datetime as dt
import io
import json
import logging
import threading
import time
from concurrent.futures import ThreadPoolExecutor
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
        self._folder_lock = FolderLock(Path(state_dir))  # one writer per state folder
        if self._folder_lock.held:
            remove_stale_temporaries(Path(state_dir))
        self._file = StateFile(self.path, "group statistics file", _check_leaf)
        self.hours: dict[str, dict[str, int]] = _rows(self._file.load())
        self._dirty = False
        self._saved_at = clock()
        self._writer: ThreadPoolExecutor | None = ThreadPoolExecutor(max_workers=1,
                                                                     thread_name_prefix="stats-writer")
        self._lock = threading.Lock()  # guards the hand-over below, shared with the writer thread
        self._latest: dict[str, dict[str, int]] | None = None  # counts waiting to be written
        self._failed = False  # the last write failed: write again at the next save

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
        """Hand a copy of the counts to the writer thread; the caller never waits for the disk.
        Counts handed over before an earlier write started are written once, the newest."""
        self._saved_at = self._clock()
        with self._lock:
            if self._failed:
                self._failed, self._dirty = False, True
        if not self._dirty:
            return
        self._prune()
        snapshot = {hour: dict(row) for hour, row in sorted(self.hours.items())}
        self._dirty = False
        with self._lock:
            queued, self._latest = self._latest is not None, snapshot
        if self._writer is None:  # closed: nobody else will write it
            self._write_latest()
        elif not queued:
            self._writer.submit(self._write_latest)

    def flush(self) -> None:
        """Wait until every count handed over so far is on disk (or its write has failed)."""
        if self._writer is not None:
            self._writer.submit(lambda: None).result()

    def close(self) -> None:
        """Save what is left and wait for the writer."""
        try:
            self.save()
            if self._writer is not None:
                self._writer.shutdown(wait=True)
                self._writer = None
        finally:
            self._folder_lock.release()

    def _write_latest(self) -> None:
        """On the writer thread: the newest counts handed over, written atomically."""
        with self._lock:
            hours, self._latest = self._latest, None
        if hours is None:
            return
        try:
            self._file.save({"version": 1, "hours": hours})  # keeps the last good copy beside it
        except OSError as exc:  # a full or read-only disk must not stop the mirror
            log.warning("group statistics not saved to %s (%s)", shown(self.path), exc)
            with self._lock:
                self._failed = True

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
