"""Tell systemd how the mirror is doing: the sd_notify protocol, without a dependency.

The console unit is `Type=notify` with `WatchdogSec=`: systemd counts the mirror as started
only when it says READY=1 (after the first frame is on screen), and kills and restarts it when
WATCHDOG=1 stops arriving. The app therefore calls `watchdog()` on every loop iteration in
which a camera frame was shown, and this class sends at most one ping per half watchdog
interval, so a 30 fps loop costs one datagram every few seconds.

The protocol (sd_notify(3)): newline-separated KEY=VALUE assignments in one datagram to the
AF_UNIX socket named by $NOTIFY_SOCKET, a filesystem path or, after '@', an abstract name.
Outside systemd (a terminal, the tests, the desktop unit without a watchdog) every call is a
cheap no-op. Nothing here raises into the display loop: a failing send is logged once at
warning and then only at debug.
"""

from __future__ import annotations

import logging
import os
import socket
import time
from typing import Callable, Mapping

log = logging.getLogger(__name__)

__all__ = ["SystemdNotifier"]


class SystemdNotifier:
    """READY=1, WATCHDOG=1 (rate-limited), STATUS=… and STOPPING=1 for the unit that started us.

    `environ` and `clock` (monotonic nanoseconds) are injectable so tests can drive the rate
    limit without sleeping; by default they are `os.environ` and `time.monotonic_ns`.
    """

    def __init__(self, environ: Mapping[str, str] | None = None,
                 clock: Callable[[], int] = time.monotonic_ns) -> None:
        env = os.environ if environ is None else environ
        self._clock = clock
        self._sock: socket.socket | None = None
        self._warned = False
        self._last_ping_ns: int | None = None
        self._address = _parse_address(env.get("NOTIFY_SOCKET", ""))
        self._watchdog_ns = _watchdog_interval_ns(env) if self._address is not None else 0

    @property
    def enabled(self) -> bool:
        """True when systemd (or a test) is listening on $NOTIFY_SOCKET."""
        return self._address is not None

    @property
    def watchdog_interval_s(self) -> float:
        """The unit's WatchdogSec= in seconds for this process, 0.0 when there is no watchdog."""
        return self._watchdog_ns / 1e9

    def ready(self, status: str | None = None) -> bool:
        """Say the mirror is up: call once, when the first camera frame has been shown."""
        fields = ["READY=1"] + ([f"STATUS={_one_line(status)}"] if status else [])
        return self.notify(*fields)

    def watchdog(self) -> bool:
        """Keep-alive; call each loop iteration while frames flow. Sends at most once per half
        interval, and the first call always sends. Returns True when a ping was sent."""
        if not self._watchdog_ns:
            return False
        now = self._clock()
        if self._last_ping_ns is not None and now - self._last_ping_ns < self._watchdog_ns // 2:
            return False
        sent = self.notify("WATCHDOG=1")
        if sent:
            self._last_ping_ns = now
        return sent

    def status(self, text: str) -> bool:
        """A one-line state shown by `systemctl status smile-mirror`."""
        return self.notify(f"STATUS={_one_line(text)}")

    def stopping(self) -> bool:
        """Say we are shutting down on purpose, so systemd does not mistake it for a hang."""
        return self.notify("STOPPING=1")

    def notify(self, *fields: str) -> bool:
        """Send KEY=VALUE fields in one datagram. Never raises; False when nothing was sent."""
        if self._address is None or not fields:
            return False
        try:
            if self._sock is None:
                self._sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
                # A stalled PID 1 must never stall the display loop; a lost ping is harmless.
                self._sock.setblocking(False)
            self._sock.sendto("\n".join(fields).encode("utf-8", "replace"), self._address)
        except OSError as exc:
            self._failed(exc)
            return False
        return True

    def close(self) -> None:
        sock, self._sock = self._sock, None
        if sock is not None:
            sock.close()

    def __enter__(self) -> "SystemdNotifier":
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def _failed(self, exc: OSError) -> None:
        if not self._warned:
            self._warned = True
            log.warning("cannot notify systemd at %r (%s); the unit may time out or be restarted "
                        "by its watchdog", _printable(self._address), exc)
        else:
            log.debug("systemd notify failed again: %s", exc)


def _parse_address(value: str) -> str | bytes | None:
    """$NOTIFY_SOCKET as a sendto() address: '@name' is abstract (a leading NUL byte)."""
    if not value:
        return None
    if value.startswith("@"):
        return b"\0" + value[1:].encode()
    if value.startswith("/"):
        return value
    # vsock:… (systemd 254+, for VMs) and relative paths are not for a kiosk on a Pi.
    log.warning("NOTIFY_SOCKET=%r is not a socket path or @abstract name; not notifying systemd", value)
    return None


def _watchdog_interval_ns(env: Mapping[str, str]) -> int:
    """WATCHDOG_USEC in ns, or 0 if unset, invalid, or meant for another process (WATCHDOG_PID)."""
    usec = env.get("WATCHDOG_USEC", "")
    pid = env.get("WATCHDOG_PID", "")
    try:
        interval = int(usec) if usec else 0
        if pid and int(pid) != os.getpid():
            return 0  # inherited from a parent that is the one being watched
    except ValueError:
        log.warning("ignoring malformed WATCHDOG_USEC=%r / WATCHDOG_PID=%r", usec, pid)
        return 0
    return interval * 1000 if interval > 0 else 0


def _one_line(text: str) -> str:
    return " ".join(str(text).split())


def _printable(address: str | bytes | None) -> str:
    if isinstance(address, bytes):
        return "@" + address[1:].decode(errors="replace")
    return str(address)
