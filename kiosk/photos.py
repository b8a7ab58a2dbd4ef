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
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import cv2
import numpy as np

from core.safe_io import FolderLock, discard, publish, remove_stale_temporaries, shown, write_temporary
from core.statefile import Invalid, StateFile, finite_number, whole_number
from core.types import SmileReading
from kiosk.text import N_

log = logging.getLogger(__name__)


class PhotoNotSaved(OSError):
    """A photo could not be written. The message is for the log; `key` names the words the
    screen shows (kiosk.text), `detail` fills their {error}."""

    def __init__(self, message: str, key: str = N_("photo_write_failed"), detail: str = "") -> None:
        super().__init__(message)
        self.key, self.detail = key, detail or message

    def __str__(self) -> str:
        return str(self.args[0])


def _check_counter(path: tuple[str, ...], value: Any) -> Any:
    """One field of counters.json, as Counters holds it."""
    if path in (("photos_taken",), ("smiles_seen",)):
        return whole_number(value)
    if path == ("best_score_today",):
        return finite_number(value, 0.0, 100.0)
    if path == ("day",):
        if not isinstance(value, str) or len(value) > 10:
            raise Invalid(f"{value!r} is not a date such as 2025-06-01")
        return value
    raise Invalid("not a counter")


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
        # one writer per state folder: a second kiosk on it would count photos twice or not at all
        self._lock = FolderLock(Path(state_dir))
        try:
            self.dir.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            log.warning("photo folder %s cannot be created (%s); photos will not be saved", shown(self.dir), exc)
        for folder in (Path(state_dir), self.dir):  # we hold the lock: every temporary is a dead writer's
            remove_stale_temporaries(folder)
        self._counters_file = StateFile(self.counters_path, "counters file", _check_counter)
        self.counters = self._load_counters()

    def close(self) -> None:
        """Let another process use the state folder."""
        self._lock.release()

    # -- photos -------------------------------------------------------------------------------
    def save(self, rgb: np.ndarray, reading: SmileReading | None, when: dt.datetime | None = None) -> Path:
        """Encode and store one photo with its sidecar; raise PhotoNotSaved with a reason."""
        when = when or dt.datetime.now().astimezone()
        ok, jpeg = cv2.imencode(".jpg", cv2.cvtColor(rgb, cv2.COLOR_RGB2BGR),
                                [cv2.IMWRITE_JPEG_QUALITY, self.jpeg_quality])
        if not ok:
            raise PhotoNotSaved("the photo could not be encoded", N_("photo_encode_failed"))
        data = jpeg.tobytes()
        meta = {"time": when.isoformat(timespec="milliseconds"), "width": int(rgb.shape[1]),
                "height": int(rgb.shape[0])}
        if reading is not None:
            meta.update(score=round(reading.score, 1), kind=reading.kind.value,
                        eye_engagement=round(reading.eye_engagement, 1))
        sidecar = (json.dumps(meta, indent=1) + "\n").encode()
        self._check_space(len(data) + len(sidecar))
        suffix = "" if reading is None else f"-s{round(reading.score):02d}"
        path = self._commit_pair(when, suffix, data, sidecar)
        # The photo and its sidecar are safe now: what follows is bookkeeping, and its failure
        # must neither tell the guest "not saved" nor stop counting and pruning for good.
        try:
            self.counters.took_photo(reading.score if reading else 0.0, when.date().isoformat())
            self.save_counters()
        except Exception:
            log.exception("photo %s saved, but the counters were not updated", path.name)
        try:
            self.prune()
        except Exception:
            log.exception("photo %s saved, but the quota could not be applied", path.name)
        log.info("photo saved: %s", path.name)
        return path

    def _commit_pair(self, when: dt.datetime, suffix: str, data: bytes, sidecar: bytes) -> Path:
        """Both files written in full (and fsynced) under temporary names first, so a full disk
        stops before either appears; then the photo claims its name and the sidecar follows.
        Either both appear or neither does."""
        photo_tmp = sidecar_tmp = None
        try:
            photo_tmp = write_temporary(self.dir, data)
            sidecar_tmp = write_temporary(self.dir, sidecar)
            path = self._claim(when, suffix, photo_tmp)
            try:
                publish(sidecar_tmp, path.with_suffix(".json"), exclusive=False)
            except OSError:
                discard(path)  # a photo without its sidecar is not a saved photo
                raise
            return path
        except OSError as exc:
            raise PhotoNotSaved(_reason(exc)) from None
        finally:
            for tmp in (photo_tmp, sidecar_tmp):
                if tmp is not None:
                    discard(tmp)

    def _claim(self, when: dt.datetime, suffix: str, tmp: Path) -> Path:
        """The first free name from `when` on, taken by hard link (never overwriting); a taken
        name moves on by a millisecond, so names still sort by time (the sidecar keeps the
        exact time)."""
        for n in range(100):
            t = when + dt.timedelta(milliseconds=n)
            path = self.dir / (t.strftime("%Y%m%d-%H%M%S-") + f"{t.microsecond // 1000:03d}{suffix}.jpg")
            try:
                os.link(tmp, path)
                return path
            except FileExistsError:
                continue
        raise PhotoNotSaved("no free file name for the photo", N_("photo_no_name"))

    def _check_space(self, needed: int) -> None:
        try:
            free = shutil.disk_usage(self.dir).free
        except OSError as exc:
            raise _not_saved(exc) from None
        if free < needed + self.min_free_bytes:
            raise PhotoNotSaved("the disk is full", N_("photo_disk_full"))

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
        """Each field checked on its own: a bad one is taken from the last good copy or starts
        from zero, the others are kept (core.statefile)."""
        data = self._counters_file.load()
        return Counters(**{k: data[k] for k in ("photos_taken", "smiles_seen", "best_score_today", "day")
                           if k in data})

    def save_counters(self) -> None:
        try:
            self._counters_file.save(asdict(self.counters))
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


def _not_saved(exc: OSError) -> PhotoNotSaved:
    """The PhotoNotSaved for an OS error, with the key of its words on screen."""
    key = (N_("photo_disk_full") if exc.errno in (errno.ENOSPC, errno.EDQUOT) else
           N_("photo_not_writable") if exc.errno in (errno.EACCES, errno.EPERM, errno.EROFS) else N_("photo_write_failed"))
    return PhotoNotSaved(_reason(exc), key, str(exc.strerror or exc))
