"""The contagion experiment's anonymous counts: per local day and stimulus kind, nothing else.

Per day and kind: trials, responses (smiled back), genuine responses (with the eyes), and the
response latencies in whole milliseconds (for the median and the spread). Never an image,
never a score series, never a time of day finer than the date, nothing that tells one visitor
from another. Kept in `contagion-stats.json` in the state folder, written atomically by a
writer thread (the display loop only hands over a copy), so a slow SD card never stalls the
screen and a power cut never leaves half a file. `smile-mirror stats --counts contagion`
exports it as JSON or CSV beside group mode's counts.
"""

from __future__ import annotations

import copy
import csv
import datetime as dt
import io
import json
import logging
import statistics
from concurrent.futures import Future, ThreadPoolExecutor
from pathlib import Path
from typing import Any, Callable

from kiosk.experiment import Outcome
from kiosk.group_stats import StatsMissing
from core.safe_io import write_atomically

log = logging.getLogger(__name__)

FILENAME = "contagion-stats.json"
COUNTS = ("trials", "responses", "genuine")
COLUMNS = ("day", "kind", "trials", "responses", "response_rate", "genuine", "latency_median_ms",
           "latency_p25_ms", "latency_p75_ms")


def _today() -> str:
    return dt.date.today().isoformat()


def _row() -> dict[str, Any]:
    return {"trials": 0, "responses": 0, "genuine": 0, "latencies_ms": []}


class ExperimentStats:
    def __init__(self, state_dir: Path, *, day: Callable[[], str] = _today) -> None:
        self.path = Path(state_dir) / FILENAME
        self._day = day
        self.days: dict[str, dict[str, dict[str, Any]]] = load(self.path)
        self._writer = ThreadPoolExecutor(max_workers=1, thread_name_prefix="contagion-stats")
        self._pending: Future | None = None

    def count(self, outcome: Outcome) -> None:
        """Count one decided trial and save (off this thread)."""
        row = self.days.setdefault(self._day(), {}).setdefault(outcome.kind, _row())
        row["trials"] += 1
        if outcome.responded:
            row["responses"] += 1
            row["latencies_ms"].append(round(outcome.response_ms))
        if outcome.genuine:
            row["genuine"] += 1
        self._pending = self._writer.submit(self._save, copy.deepcopy(self.days))

    def today(self) -> dict[str, dict[str, Any]]:
        """Today's rows by kind (for the attract screen's running result)."""
        return self.days.get(self._day(), {})

    def least_tried_today(self, kinds: tuple[str, ...]) -> list[str]:
        """The kinds with the fewest trials today: the next trial picks among them, so the
        kinds stay balanced over the day."""
        today = self.today()
        fewest = min(today.get(k, {}).get("trials", 0) for k in kinds)
        return [k for k in kinds if today.get(k, {}).get("trials", 0) == fewest]

    def _save(self, days: dict) -> None:
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            data = {"version": 1, "days": dict(sorted(days.items()))}
            write_atomically(self.path, (json.dumps(data, indent=1) + "\n").encode(), exclusive=False)
        except OSError as exc:  # a full or read-only disk must not stop the mirror
            log.warning("contagion counts not saved to %s (%s)", self.path, exc)

    def flush(self) -> None:
        """Wait for the last save (tests, exit)."""
        if self._pending is not None:
            self._pending.result()

    def close(self) -> None:
        self.flush()
        self._writer.shutdown(wait=True)


def load(path: Path) -> dict[str, dict[str, dict[str, Any]]]:
    try:
        data: Any = json.loads(Path(path).read_text(encoding="utf-8"))
        return {str(day): {str(kind): {**{c: int(row.get(c, 0)) for c in COUNTS},
                                       "latencies_ms": [int(x) for x in row.get("latencies_ms", [])]}
                           for kind, row in kinds.items()} for day, kinds in data["days"].items()}
    except FileNotFoundError:
        return {}
    except (OSError, ValueError, TypeError, KeyError, AttributeError) as exc:
        log.warning("contagion counts file %s unreadable (%s); starting from zero", path, exc)
        return {}


def summary(row: dict[str, Any]) -> dict[str, Any]:
    """Counts, the response rate and the latency median and quartiles of one row."""
    lat = sorted(row.get("latencies_ms", []))
    q = statistics.quantiles(lat, n=4, method="inclusive") if len(lat) >= 2 else [None, None, None]
    trials = row.get("trials", 0)
    return {"trials": trials, "responses": row.get("responses", 0),
            "response_rate": round(row.get("responses", 0) / trials, 3) if trials else None,
            "genuine": row.get("genuine", 0),
            "latency_median_ms": statistics.median(lat) if lat else None,
            "latency_p25_ms": q[0] if lat and len(lat) >= 2 else (lat[0] if lat else None),
            "latency_p75_ms": q[2] if lat and len(lat) >= 2 else (lat[0] if lat else None)}


def export(state_dir: Path, fmt: str) -> str:
    path = Path(state_dir) / FILENAME
    if not path.is_file():
        raise StatsMissing(f"no contagion counts in {Path(state_dir)} (no {FILENAME}): contagion mode has not "
                           f"saved counts there; on the kiosk pass --state-dir /var/lib/smile-mirror")
    days = load(path)
    rows = [{"day": day, "kind": kind, **summary(days[day][kind])} for day in sorted(days) for kind in sorted(days[day])]
    if fmt == "json":
        return json.dumps(rows, indent=1) + "\n"
    if fmt == "csv":
        out = io.StringIO()
        writer = csv.DictWriter(out, fieldnames=COLUMNS, lineterminator="\n")
        writer.writeheader()
        writer.writerows(rows)
        return out.getvalue()
    raise ValueError(f"unknown format {fmt!r}")
