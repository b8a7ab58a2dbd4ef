"""Reading and writing files that a person or a power cut may have got wrong.

- `read_regular`: only a regular file, at most `limit` bytes, one copy in memory. A FIFO, a
  device (`/dev/zero`), a directory or an oversized file is refused with one sentence before
  anything is read, so nothing hangs and nothing allocates without bound.
- `write_atomically`: temporary file in the same folder, fsync, then published by rename (or
  by hard link, which never overwrites). A crash leaves a `.tmp-*` file, never a half file.
- `FolderLock`: one writer per state folder (an advisory `fcntl.flock` on `.lock`), released by
  the kernel when the process dies, so a SIGKILL never leaves a stale lock.
- `remove_stale_temporaries`: the `.tmp-*` files a killed writer left (called with the lock held).
"""

from __future__ import annotations

import errno
import fcntl
import logging
import os
import stat
import tempfile
import time
from pathlib import Path

import numpy as np

from core.errors import SmileMirrorError

log = logging.getLogger(__name__)

TMP_PREFIX = ".tmp-"
LOCK_NAME = ".lock"


class UnreadableFile(SmileMirrorError, OSError):
    """A file that is not a regular file, too large, or cannot be opened; the message says which."""

    def __init__(self, what: str, path: os.PathLike | str, reason: str) -> None:
        super().__init__(f"{what} {shown(path)} cannot be read: {reason}")
        self.reason = reason


class FolderBusy(SmileMirrorError, OSError):
    """Another process holds the folder's lock."""


def shown(path: os.PathLike | str) -> str:
    """A path as it can be printed on one line: undecodable bytes as \\xNN, control characters
    (a newline in a file name would forge a log line) escaped."""
    text = os.fsdecode(path).encode("utf-8", "surrogateescape").decode("utf-8", "backslashreplace")
    if text.isprintable():
        return text
    return "".join(c if c.isprintable() else repr(c)[1:-1] for c in text)


def _open_regular(path: Path, what: str, limit: int) -> tuple[int, int]:
    """An fd open for reading on a regular file of at most `limit` bytes, and its size."""
    try:
        # O_NONBLOCK: opening a FIFO for reading must not wait for a writer
        fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK | os.O_NOCTTY | getattr(os, "O_CLOEXEC", 0))
    except FileNotFoundError:
        raise
    except OSError as exc:
        raise UnreadableFile(what, path, f"{exc.strerror or exc}; check its permissions") from None
    try:
        st = os.fstat(fd)
        if not stat.S_ISREG(st.st_mode):
            kind = ("a directory" if stat.S_ISDIR(st.st_mode) else "a pipe (FIFO)" if stat.S_ISFIFO(st.st_mode)
                    else "a device" if stat.S_ISCHR(st.st_mode) or stat.S_ISBLK(st.st_mode) else "a socket"
                    if stat.S_ISSOCK(st.st_mode) else "not a regular file")
            raise UnreadableFile(what, path, f"it is {kind}, not a regular file")
        if st.st_size > limit:
            raise UnreadableFile(what, path, f"it is {st.st_size:,} bytes, more than the {limit:,} allowed")
        os.set_blocking(fd, True)
        return fd, st.st_size
    except BaseException:
        os.close(fd)
        raise


def read_regular(path: os.PathLike | str, *, limit: int, what: str = "file") -> bytes:
    """The bytes of a regular file of at most `limit` bytes; UnreadableFile otherwise
    (FileNotFoundError passes through, so callers can say "missing" in their own words)."""
    fd, size = _open_regular(Path(path), what, limit)
    with os.fdopen(fd, "rb") as fh:
        data = fh.read(limit + 1)
    if len(data) > limit:  # grew while we read it
        raise UnreadableFile(what, path, f"it is more than the {limit:,} bytes allowed")
    return data


def read_regular_array(path: os.PathLike | str, *, limit: int, what: str = "file") -> np.ndarray:
    """As `read_regular`, into one uint8 array (no second copy of the bytes, as cv2.imdecode wants)."""
    fd, size = _open_regular(Path(path), what, limit)
    with os.fdopen(fd, "rb", buffering=0) as fh:
        buf = np.empty(size, np.uint8)
        got = 0
        view = memoryview(buf)
        while got < size:
            n = fh.readinto(view[got:])
            if not n:
                break
            got += n
    return buf[:got]


def write_atomically(path: Path, data: bytes, *, exclusive: bool = False) -> None:
    """Write to a temporary file in the same folder, fsync, then publish it under `path`:
    by hard link when `exclusive` (FileExistsError if the name exists), else by rename."""
    tmp = write_temporary(path.parent, data)
    try:
        publish(tmp, path, exclusive=exclusive)
    finally:
        discard(tmp)


def write_temporary(folder: Path, data: bytes) -> Path:
    """`data` fsynced into a new `.tmp-*` file in `folder` (removed again if the write fails)."""
    fd, name = tempfile.mkstemp(prefix=TMP_PREFIX, dir=folder)
    tmp = Path(name)
    try:
        with os.fdopen(fd, "wb") as fh:
            fh.write(data)
            fh.flush()
            os.fsync(fh.fileno())
    except BaseException:
        discard(tmp)
        raise
    return tmp


def publish(tmp: Path, path: Path, *, exclusive: bool) -> None:
    if exclusive:
        os.link(tmp, path)
        os.unlink(tmp)
    else:
        os.replace(tmp, path)


def discard(path: Path) -> None:
    try:
        os.unlink(path)
    except FileNotFoundError:
        pass
    except OSError as exc:
        log.warning("temporary file %s not removed (%s)", shown(path), exc)


def remove_stale_temporaries(folder: Path, min_age_s: float = 0.0) -> int:
    """Delete `.tmp-*` files in `folder` older than `min_age_s` (a killed writer's leftovers)."""
    removed = 0
    now = time.time()
    try:
        entries = list(os.scandir(folder))
    except OSError:
        return 0
    for entry in entries:
        if not entry.name.startswith(TMP_PREFIX):
            continue
        try:
            if entry.is_file(follow_symlinks=False) and now - entry.stat(follow_symlinks=False).st_mtime >= min_age_s:
                os.unlink(entry.path)
                removed += 1
        except OSError as exc:
            log.warning("stale temporary file %s not removed (%s)", shown(entry.path), exc)
    if removed:
        log.info("removed %d unfinished temporary file(s) left in %s by an interrupted write", removed, shown(folder))
    return removed


class FolderLock:
    """An exclusive advisory lock on `folder/.lock`, held until `release()` or process exit."""

    def __init__(self, folder: Path, *, what: str = "state folder") -> None:
        self.path = Path(folder) / LOCK_NAME
        self._fd: int | None = None
        try:
            Path(folder).mkdir(parents=True, exist_ok=True)
            fd = os.open(self.path, os.O_RDWR | os.O_CREAT | getattr(os, "O_CLOEXEC", 0), 0o644)
        except OSError as exc:
            # a folder we cannot write is reported by the writers themselves; no lock to hold
            log.warning("cannot lock the %s %s (%s)", what, shown(folder), exc.strerror or exc)
            return
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError as exc:
            holder = _read_pid(fd)
            os.close(fd)
            if exc.errno in (errno.EWOULDBLOCK, errno.EACCES, errno.EAGAIN):
                who = f" (pid {holder})" if holder else ""
                raise FolderBusy(f"another Smile Mirror{who} is already using the {what} {shown(folder)}; "
                                 f"stop it, or give this one its own folder with --state-dir") from None
            log.warning("cannot lock the %s %s (%s)", what, shown(folder), exc.strerror or exc)
            return
        try:
            os.ftruncate(fd, 0)
            os.write(fd, f"{os.getpid()}\n".encode())
        except OSError:
            pass
        self._fd = fd

    @property
    def held(self) -> bool:
        return self._fd is not None

    def release(self) -> None:
        fd, self._fd = self._fd, None
        if fd is not None:
            os.close(fd)  # closing the descriptor drops the flock

    def __del__(self) -> None:
        self.release()


def _read_pid(fd: int) -> str:
    try:
        return os.pread(fd, 32, 0).decode("ascii", "replace").strip()
    except OSError:
        return ""


class OneLineFormatter(logging.Formatter):
    """Every log record's message on one line: a newline or other control character that came
    from outside (a file name, a config key) is escaped, so it cannot forge a log line. A
    traceback, which the formatter adds itself, keeps its lines."""

    def formatMessage(self, record: logging.LogRecord) -> str:  # noqa: N802 (logging's name)
        message = record.message
        if not message.isprintable():
            record.message = "".join(c if c.isprintable() else repr(c)[1:-1] for c in message)
        try:
            return super().formatMessage(record)
        finally:
            record.message = message


class OptionalWriter:
    """A text file that is nice to have (`--readings`): the first failed write (a full disk,
    /dev/full, a pulled USB stick) is said once, the file is closed, and later writes are
    dropped; the caller never sees an exception, so the mirror keeps running."""

    def __init__(self, fh, path: os.PathLike | str, what: str = "output") -> None:
        self._fh, self.path, self.what = fh, path, what
        self.failed: str | None = None

    def write(self, text: str) -> None:
        if self._fh is None:
            return
        try:
            self._fh.write(text)
        except (OSError, ValueError) as exc:
            self._give_up(exc)

    def flush(self) -> None:
        if self._fh is not None:
            try:
                self._fh.flush()
            except (OSError, ValueError) as exc:
                self._give_up(exc)

    def close(self) -> None:
        fh, self._fh = self._fh, None
        if fh is not None:
            try:
                fh.close()
            except (OSError, ValueError) as exc:
                self._report(exc)

    def _give_up(self, exc: Exception) -> None:
        fh, self._fh = self._fh, None
        self._report(exc)
        try:
            fh.close()
        except (OSError, ValueError):
            pass  # the buffered rest cannot be written either

    def _report(self, exc: Exception) -> None:
        if self.failed is None:
            self.failed = getattr(exc, "strerror", None) or str(exc)
            log.warning("%s to %s stopped: %s; the mirror carries on without it", self.what, shown(self.path),
                        self.failed)
