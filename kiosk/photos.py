"""The photo booth's storage: photos with their metadata, counters that survive restarts.

Only photo booth mode creates these; lobby mode never writes an image. Rules: file names sort
by time; nothing is ever overwritten (a name is claimed with an exclusive hard link); free
space is checked before writing; a failed write leaves no partial file and loses nothing
already saved; the oldest photos are pruned only when a quota is configured.
"""

from __future__ import annotations

import datetime as dt
import errno
import json
import logging
import os
import shutil
import tempfile
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import cv2
import numpy as np

from core.types import SmileReading

log = logging.getLogger(__name__)


class PhotoNotSaved(OSError):
    """A photo could not be written; the message is fit for the screen."""


def write_atomically(path: Path, data: bytes, *, exclusive: bool) -> None:
    """Write to a temporary file in the same folder, fsync, then publish it under `path`:
    by hard link when `exclusive` (fails if the name exists), else by rename."""
    fd, tmp = tempfile.mkstemp(prefix=".tmp-", dir=path.parent)
    try:
        with os.fdopen(fd, "wb") as fh:
            fh.write(data)
            fh.flush()
            os.fsync(fh.fileno())
        if exclusive:
            os.link(tmp, path)
        else:
            os.replace(tmp, path)
    finally:
        if os.path.exists(tmp):
            os.unlink(tmp)


@dataclass(slots=True)
class Counters:
    """Photos taken, smiles seen, best score of the day: kept in counters.json."""

    photos_taken: int = 0
    smiles_seen: int = 0
    best_score_today: float = 0.0
    day: str = ""

    def saw_smile(self, today: str) -> None:
        self._roll(today)
        self.smiles_seen += 1

    def took_photo(self, score: float, today: str) -> None:
        self._roll(today)
        self.photos_taken += 1
        self.best_score_today = max(self.best_score_today, round(score, 1))

    def _roll(self, today: str) -> None:
        if today != self.day:
            self.day, self.best_score_today = today, 0.0


class PhotoStore:
    """Photos as `YYYYmmdd-HHMMSS-fff-s87.jpg` plus a `.json` sidecar with the reading."""

    def __init__(self, state_dir: Path, *, quota_mb: float = 0.0, min_free_mb: float = 50.0,
                 jpeg_quality: int = 92) -> None:
        self.dir = Path(state_dir) / "photos"
        self.counters_path = Path(state_dir) / "counters.json"
        self.quota_bytes = int(quota_mb * 1e6)
        self.min_free_bytes = int(min_free_mb * 1e6)
        self.jpeg_quality = jpeg_quality
        try:
            self.dir.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            log.warning("photo folder %s cannot be created (%s); photos will not be saved", self.dir, exc)
        self.counters = self._load_counters()

    # -- photos -------------------------------------------------------------------------------
    def save(self, rgb: np.ndarray, reading: SmileReading | None, when: dt.datetime | None = None) -> Path:
        """Encode and store one photo with its sidecar; raise PhotoNotSaved with a reason."""
        when = when or dt.datetime.now().astimezone()
        ok, jpeg = cv2.imencode(".jpg", cv2.cvtColor(rgb, cv2.COLOR_RGB2BGR),
                                [cv2.IMWRITE_JPEG_QUALITY, self.jpeg_quality])
        if not ok:
            raise PhotoNotSaved("the photo could not be encoded")
        data = jpeg.tobytes()
        meta = {"time": when.isoformat(timespec="milliseconds"), "width": int(rgb.shape[1]),
                "height": int(rgb.shape[0])}
        if reading is not None:
            meta.update(score=round(reading.score, 1), kind=reading.kind.value,
                        eye_engagement=round(reading.eye_engagement, 1))
        sidecar = (json.dumps(meta, indent=1) + "\n").encode()
        self._check_space(len(data) + len(sidecar))
        suffix = "" if reading is None else f"-s{round(reading.score):02d}"
        try:
            path = self._claim(when, suffix, data)
            write_atomically(path.with_suffix(".json"), sidecar, exclusive=False)
        except OSError as exc:
            raise PhotoNotSaved(_reason(exc)) from None
        self.counters.took_photo(reading.score if reading else 0.0, when.date().isoformat())
        self.save_counters()
        self.prune()
        log.info("photo saved: %s", path.name)
        return path

    def _claim(self, when: dt.datetime, suffix: str, data: bytes) -> Path:
        """The first free name from `when` on; a taken name moves on by a millisecond, so
        names still sort by time (the sidecar keeps the exact time)."""
        for n in range(100):
            t = when + dt.timedelta(milliseconds=n)
            path = self.dir / (t.strftime("%Y%m%d-%H%M%S-") + f"{t.microsecond // 1000:03d}{suffix}.jpg")
            try:
                write_atomically(path, data, exclusive=True)
                return path
            except FileExistsError:
                continue
        raise PhotoNotSaved("no free file name for the photo")

    def _check_space(self, needed: int) -> None:
        try:
            free = shutil.disk_usage(self.dir).free
        except OSError as exc:
            raise PhotoNotSaved(_reason(exc)) from None
        if free < needed + self.min_free_bytes:
            raise PhotoNotSaved("the disk is full")

    def photos(self) -> list[Path]:
        """Saved photos, oldest first."""
        try:
            return sorted(self.dir.glob("*.jpg"))
        except OSError:
            return []

    def prune(self) -> list[Path]:
        """Delete the oldest photos (and sidecars) until the folder fits the quota."""
        if not self.quota_bytes:
            return []
        photos = self.photos()
        sizes = {p: p.stat().st_size + _size(p.with_suffix(".json")) for p in photos}
        total, removed = sum(sizes.values()), []
        for p in photos[:-1]:  # never the photo just taken
            if total <= self.quota_bytes:
                break
            p.unlink(missing_ok=True)
            p.with_suffix(".json").unlink(missing_ok=True)
            total -= sizes[p]
            removed.append(p)
        if removed:
            log.info("quota: removed %d oldest photos", len(removed))
        return removed

    # -- counters -----------------------------------------------------------------------------
    def _load_counters(self) -> Counters:
        try:
            data: dict[str, Any] = json.loads(self.counters_path.read_text(encoding="utf-8"))
            return Counters(**{k: data[k] for k in ("photos_taken", "smiles_seen", "best_score_today", "day")
                               if k in data})
        except FileNotFoundError:
            return Counters()
        except (OSError, ValueError, TypeError) as exc:
            log.warning("counters file %s unreadable (%s); starting from zero", self.counters_path, exc)
            return Counters()

    def save_counters(self) -> None:
        try:
            write_atomically(self.counters_path, json.dumps(asdict(self.counters)).encode(), exclusive=False)
        except OSError as exc:
            log.warning("counters not saved (%s)", _reason(exc))

    def saw_smile(self) -> None:
        self.counters.saw_smile(dt.date.today().isoformat())
        self.save_counters()


def _size(path: Path) -> int:
    try:
        return path.stat().st_size
    except OSError:
        return 0


def _reason(exc: OSError) -> str:
    if exc.errno in (errno.ENOSPC, errno.EDQUOT):
        return "the disk is full"
    if exc.errno in (errno.EACCES, errno.EPERM, errno.EROFS):
        return "the photo folder is not writable"
    return f"the photo could not be written ({exc.strerror or exc})"
