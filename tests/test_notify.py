"""The sd_notify client against a real Unix datagram socket, as systemd would receive it."""

from __future__ import annotations

import logging
import os
import socket
import uuid
from pathlib import Path
from typing import Iterator

import pytest

from kiosk.notify import SystemdNotifier


class FakeClock:
    def __init__(self) -> None:
        self.ns = 1_000_000_000

    def __call__(self) -> int:
        return self.ns

    def advance(self, seconds: float) -> None:
        self.ns += int(seconds * 1e9)


@pytest.fixture
def listener(tmp_path: Path) -> Iterator[tuple[str, socket.socket]]:
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    path = str(tmp_path / "notify.sock")
    sock.bind(path)
    sock.settimeout(2.0)
    yield path, sock
    sock.close()


def received(sock: socket.socket) -> list[str]:
    """Every datagram waiting on the socket, decoded."""
    out = []
    sock.setblocking(False)
    try:
        while True:
            out.append(sock.recv(4096).decode())
    except BlockingIOError:
        pass
    finally:
        sock.settimeout(2.0)
    return out


def test_ready_and_status_reach_the_socket(listener: tuple[str, socket.socket]) -> None:
    path, sock = listener
    with SystemdNotifier({"NOTIFY_SOCKET": path}) as notifier:
        assert notifier.enabled
        assert notifier.ready(status="first frame shown")
        assert sock.recv(4096).decode() == "READY=1\nSTATUS=first frame shown"
        assert notifier.status("camera\nrestarting")
        assert sock.recv(4096).decode() == "STATUS=camera restarting"
        assert notifier.stopping()
        assert sock.recv(4096).decode() == "STOPPING=1"


def test_watchdog_is_rate_limited_to_half_the_interval(listener: tuple[str, socket.socket]) -> None:
    path, sock = listener
    clock = FakeClock()
    env = {"NOTIFY_SOCKET": path, "WATCHDOG_USEC": "10000000", "WATCHDOG_PID": str(os.getpid())}
    with SystemdNotifier(env, clock=clock) as notifier:
        assert notifier.watchdog_interval_s == 10.0
        sent = []
        for _ in range(400):  # 20 s of a 20 fps loop, one call per frame
            sent.append(notifier.watchdog())
            clock.advance(0.05)
        assert sent[0] is True, "the first ping goes out at once"
        assert sum(sent) == 4, "one ping per 5 s (half of WatchdogSec=10s) over 20 s"
        assert received(sock) == ["WATCHDOG=1"] * 4
        # A stall longer than the half interval: the next call pings immediately.
        clock.advance(7.0)
        assert notifier.watchdog() is True
        assert notifier.watchdog() is False
        assert received(sock) == ["WATCHDOG=1"]


def test_watchdog_silent_without_watchdog_or_for_another_pid(listener: tuple[str, socket.socket]) -> None:
    path, sock = listener
    with SystemdNotifier({"NOTIFY_SOCKET": path}) as plain:
        assert plain.watchdog_interval_s == 0.0
        assert plain.watchdog() is False
    other = {"NOTIFY_SOCKET": path, "WATCHDOG_USEC": "2000000", "WATCHDOG_PID": str(os.getpid() + 1)}
    with SystemdNotifier(other) as inherited:
        assert inherited.watchdog() is False
        assert inherited.ready()  # READY still goes out; only the watchdog is someone else's
    assert received(sock) == ["READY=1"]


def test_abstract_socket() -> None:
    name = f"smile-mirror-test-{uuid.uuid4().hex}"
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    sock.bind(b"\0" + name.encode())
    sock.settimeout(2.0)
    try:
        with SystemdNotifier({"NOTIFY_SOCKET": "@" + name, "WATCHDOG_USEC": "1000000"}) as notifier:
            assert notifier.ready()
            assert notifier.watchdog()
        assert sock.recv(4096) == b"READY=1"
        assert sock.recv(4096) == b"WATCHDOG=1"
    finally:
        sock.close()


def test_noop_without_notify_socket(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("NOTIFY_SOCKET", raising=False)
    monkeypatch.setenv("WATCHDOG_USEC", "1000000")
    notifier = SystemdNotifier()
    assert not notifier.enabled
    assert notifier.watchdog_interval_s == 0.0
    assert notifier.ready() is False
    assert notifier.watchdog() is False
    assert notifier.status("x") is False
    assert notifier.stopping() is False
    notifier.close()


def test_a_dead_socket_never_raises_and_warns_once(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    missing = str(tmp_path / "gone.sock")
    notifier = SystemdNotifier({"NOTIFY_SOCKET": missing, "WATCHDOG_USEC": "1000"})
    with caplog.at_level(logging.DEBUG, logger="kiosk.notify"):
        assert notifier.ready() is False
        for _ in range(5):
            assert notifier.watchdog() is False
        assert notifier.stopping() is False
    warnings = [r for r in caplog.records if r.levelno == logging.WARNING]
    assert len(warnings) == 1 and "gone.sock" in warnings[0].getMessage()
    notifier.close()


@pytest.mark.parametrize("value", ["relative.sock", "vsock:2:1234"])
def test_unsupported_addresses_disable_notify(value: str) -> None:
    assert not SystemdNotifier({"NOTIFY_SOCKET": value}).enabled


def test_malformed_watchdog_usec_is_ignored(listener: tuple[str, socket.socket]) -> None:
    path, _ = listener
    assert SystemdNotifier({"NOTIFY_SOCKET": path, "WATCHDOG_USEC": "soon"}).watchdog_interval_s == 0.0
