"""State files (counters, statistics): validated field by field, with their last good copy.

A state file is a small JSON document that the kiosk rewrites for months. What can go wrong:
a person edits it (`"photos_taken": "12"`), a power cut or a full disk truncates it, another
program writes garbage. Rules:

- every leaf is checked by the caller's `check(path, value)`; a bad leaf loses only itself:
  its value is taken from the last good copy if that copy has it, else it is dropped;
- a file that does not parse at all is replaced by its last good copy (`NAME.bak`);
- before every rewrite, the file that was last known good becomes `NAME.bak` (a hard link, so
  it costs no space and no copy), and a damaged file is kept once as `NAME.damaged` for a
  person to look at; nothing the kiosk read is thrown away without a copy;
- writes are atomic (core.safe_io).
"""

from __future__ import annotations

import json
import logging
import os
from pathlib import Path
from typing import Any, Callable

from core.safe_io import UnreadableFile, discard, read_regular, shown, write_atomically

log = logging.getLogger(__name__)

MAX_BYTES = 16 << 20  # a year of hourly statistics is about 1 MB
Leaf = tuple[str, ...]
Check = Callable[[Leaf, Any], Any]  # the cleaned value, or raise ValueError/TypeError


class Invalid(ValueError):
    """A leaf's value is not allowed; the message says what is."""


def whole_number(value: Any) -> int:
    """A count: an integer of at least zero (true/false, strings and floats are not counts)."""
    if isinstance(value, bool) or not isinstance(value, int) or value < 0:
        raise Invalid(f"{value!r} is not a whole number of at least 0")
    return value


def finite_number(value: Any, lo: float = 0.0, hi: float = 100.0) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not lo <= value <= hi:
        raise Invalid(f"{value!r} is not a number from {lo:g} to {hi:g}")
    return float(value)


def flatten(doc: Any, prefix: Leaf = ()) -> dict[Leaf, Any]:
    """{("hours", "2025-06-01T14:00", "smiles"): 3, ...}: every non-object value by its path
    (an empty object is kept as a leaf, so the caller's check decides about it)."""
    if isinstance(doc, dict) and (doc or not prefix):
        out: dict[Leaf, Any] = {}
        for key, value in doc.items():
            out.update(flatten(value, (*prefix, str(key))))
        return out
    return {prefix: doc}


def unflatten(leaves: dict[Leaf, Any]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for path, value in leaves.items():
        node = out
        for key in path[:-1]:
            node = node.setdefault(key, {})
        node[path[-1]] = value
    return out


class StateFile:
    """One JSON state file and its last good copy; `load` and `save` never raise for bad data
    (a failing disk on `save` raises OSError for the caller to report)."""

    def __init__(self, path: Path, what: str, check: Check, *, writer: bool = True) -> None:
        self.path = Path(path)
        self.backup = self.path.with_name(self.path.name + ".bak")
        self.damaged = self.path.with_name(self.path.name + ".damaged")
        self.what, self.check, self.writer = what, check, writer
        self._good = False  # is the file on disk now one we may keep as the last good copy?
        self.problems: list[str] = []

    def load(self) -> dict[str, Any]:
        """The validated document (nested dicts of checked leaves); {} when there is none."""
        main, main_error = self._read(self.path)
        if main is None and main_error is None:  # no file (yet)
            backup, _ = self._read(self.backup)
            if backup is not None:
                log.warning("%s %s is missing; using its last good copy %s", self.what, shown(self.path),
                            shown(self.backup))
                return unflatten(self._clean(flatten(backup), {}))
            return {}
        if main is None or not isinstance(main, dict):
            reason = main_error or f"holds {type(main).__name__}, not an object"
            self._keep_damaged()
            backup, _ = self._read(self.backup)
            if isinstance(backup, dict):
                log.warning("%s %s is unreadable (%s); using its last good copy %s (the damaged file is "
                            "kept as %s)", self.what, shown(self.path), reason, shown(self.backup), shown(self.damaged))
                return unflatten(self._clean(flatten(backup), {}))
            log.warning("%s %s is unreadable (%s) and has no good copy; starting from zero (the damaged file "
                        "is kept as %s)", self.what, shown(self.path), reason, shown(self.damaged))
            return {}
        leaves = flatten(main)
        fallback: dict[Leaf, Any] | None = None
        cleaned = self._clean(leaves, {})
        bad = [p for p in leaves if p not in cleaned]
        if bad:
            backup, _ = self._read(self.backup)
            fallback = self._clean(flatten(backup), {}) if isinstance(backup, dict) else {}
            for path in bad:
                for other, value in fallback.items():
                    if other[:len(path)] == path and other not in cleaned:
                        cleaned[other] = value
            self._keep_damaged()
            log.warning("%s %s: %d bad value(s) dropped (%s)%s; the rest is kept (the original file is kept as %s)",
                        self.what, shown(self.path), len(bad), "; ".join(self.problems[:5]),
                        ", taken from the last good copy where it had them" if fallback else "", shown(self.damaged))
        else:
            self._good = True
        return unflatten(cleaned)

    def save(self, doc: dict[str, Any]) -> None:
        """Keep the last good file as NAME.bak, then write `doc` atomically."""
        data = (json.dumps(doc, indent=1, sort_keys=True) + "\n").encode()
        self.path.parent.mkdir(parents=True, exist_ok=True)
        if self._good and self.path.is_file():
            tmp = self.backup.with_name(".tmp-" + self.backup.name)
            discard(tmp)
            try:
                os.link(self.path, tmp)
                os.replace(tmp, self.backup)
            except OSError as exc:
                discard(tmp)
                log.warning("last good copy of %s not kept (%s)", shown(self.path), exc)
        write_atomically(self.path, data)
        self._good = True

    def _clean(self, leaves: dict[Leaf, Any], into: dict[Leaf, Any]) -> dict[Leaf, Any]:
        for path, value in leaves.items():
            try:
                into[path] = self.check(path, value)
            except (ValueError, TypeError) as exc:
                self.problems.append(f"{'.'.join(shown(p) for p in path) or 'top level'}: {exc}")
        return into

    def _read(self, path: Path) -> tuple[Any, str | None]:
        """(document, None), (None, None) when absent, or (None, reason) when unreadable."""
        try:
            text = read_regular(path, limit=MAX_BYTES, what=self.what).decode("utf-8")
            return json.loads(text), None
        except FileNotFoundError:
            return None, None
        except (UnreadableFile, OSError, UnicodeDecodeError, ValueError, RecursionError) as exc:
            return None, str(exc)[:200]

    def _keep_damaged(self) -> None:
        """Keep the file as it was found (once per start), before it is rewritten."""
        if not self.writer:
            return
        try:
            if self.path.is_file() and not self.path.is_symlink():
                tmp = self.damaged.with_name(".tmp-" + self.damaged.name)
                discard(tmp)
                os.link(self.path, tmp)
                os.replace(tmp, self.damaged)
        except OSError as exc:
            log.warning("damaged %s not kept aside (%s)", shown(self.path), exc)
