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

from kiosk.photos import _write_atomically

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
        self.hours: dict[str, dict[str, int]] = load(self.path)
        self._dirty = False
        self._saved_at = clock()

    def count(self, what: str, n: int = 1) -> None:
        if what not in FIELDS:
            raise ValueError(f"unknown statistic {what!r}")
        if n <= 0:
            return
        row = self.hours.setdefault(self._hour(), dict.fromkeys(FIELDS, 0))
        row[what] = row.get(what, 0) + n
        self._dirty = True
        if self._clock() - self._saved_at >= self.save_every_s:
            self.save()

    def save(self) -> None:
        self._saved_at = self._clock()
        if not self._dirty:
            return
        self._prune()
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            data = {"version": 1, "hours": dict(sorted(self.hours.items()))}
            _write_atomically(self.path, (json.dumps(data, indent=1) + "\n").encode(), exclusive=False)
            self._dirty = False
        except OSError as exc:  # a full or read-only disk must not stop the mirror
            log.warning("group statistics not saved to %s (%s)", self.path, exc)

    def close(self) -> None:
        self.save()

    def _prune(self) -> None:
        if len(self.hours) <= self.keep_days * 24:
            return
        for key in sorted(self.hours)[: len(self.hours) - self.keep_days * 24]:
            del self.hours[key]


def load(path: Path) -> dict[str, dict[str, int]]:
    try:
        data: Any = json.loads(Path(path).read_text(encoding="utf-8"))
        hours = data["hours"]
        return {str(h): {f: int(row.get(f, 0)) for f in FIELDS} for h, row in hours.items()}
    except FileNotFoundError:
        return {}
    except (OSError, ValueError, TypeError, KeyError, AttributeError) as exc:
        log.warning("group statistics file %s unreadable (%s); starting from zero", path, exc)
        return {}


def export(state_dir: Path, fmt: str) -> str:
    """The statistics as JSON (a list of rows) or CSV (a header and one line per hour)."""
    hours = load(Path(state_dir) / FILENAME)
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
