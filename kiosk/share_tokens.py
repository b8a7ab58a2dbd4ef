"""The photo booth's share tokens: one unguessable token per photo, expiring after a while.

Kept in `share-tokens.json` in the state folder, written atomically (temporary file, fsync,
rename), so tokens survive a restart and a pulled cable never leaves half a file. Only a photo's
file name is stored, never a path: the server joins it to the photo folder itself.
"""

from __future__ import annotations

import json
import logging
import re
import secrets
import threading
import time
from pathlib import Path
from typing import Callable

from core.safe_io import write_atomically

log = logging.getLogger(__name__)

TOKEN_BYTES = 18  # 144 random bits; token_urlsafe gives 24 characters
TOKEN_RE = re.compile(r"[A-Za-z0-9_-]{22,64}")
NAME_RE = re.compile(r"[0-9]{8}-[0-9]{6}-[0-9]{3}(-s[0-9]{2,3})?\.jpg")


class TokenStore:
    """token -> (photo file name, expiry in wall-clock seconds); thread-safe (the display
    thread adds, the server thread looks up)."""

    FILE = "share-tokens.json"

    def __init__(self, state_dir: Path, *, hours: float, clock: Callable[[], float] = time.time) -> None:
        self.path = Path(state_dir) / self.FILE
        self.ttl = hours * 3600.0
        self.clock = clock
        self._lock = threading.Lock()
        self._tokens: dict[str, tuple[str, float]] = self._load()

    def add(self, photo_name: str) -> str:
        """A new token for a photo in the photo folder (its plain file name)."""
        if not NAME_RE.fullmatch(photo_name):
            raise ValueError(f"not a photo file name: {photo_name!r}")
        token = secrets.token_urlsafe(TOKEN_BYTES)
        with self._lock:
            now = self.clock()
            self._tokens = {t: v for t, v in self._tokens.items() if v[1] > now}
            self._tokens[token] = (photo_name, now + self.ttl)
            self._save()
        return token

    def lookup(self, token: str) -> str | None:
        """The photo's file name for a live token, else None."""
        if not TOKEN_RE.fullmatch(token):
            return None
        with self._lock:
            entry = self._tokens.get(token)
        if entry is None or entry[1] <= self.clock():
            return None
        return entry[0]

    def _load(self) -> dict[str, tuple[str, float]]:
        try:
            data = json.loads(self.path.read_text(encoding="utf-8"))
            now = self.clock()
            return {t: (str(v[0]), float(v[1])) for t, v in data.items()
                    if TOKEN_RE.fullmatch(t) and NAME_RE.fullmatch(str(v[0])) and float(v[1]) > now}
        except FileNotFoundError:
            return {}
        except (OSError, ValueError, TypeError, AttributeError, IndexError) as exc:
            log.warning("share tokens %s unreadable (%s); earlier QR codes no longer open", self.path, exc)
            return {}

    def _save(self) -> None:
        try:
            data = {t: [name, round(exp, 3)] for t, (name, exp) in self._tokens.items()}
            write_atomically(self.path, json.dumps(data).encode(), exclusive=False)
        except OSError as exc:
            log.warning("share tokens not saved (%s); they last until the mirror restarts", exc)
