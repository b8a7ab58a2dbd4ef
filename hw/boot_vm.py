"""Drive the KVM guest that hw/boot-vm.sh built: boot it, crash it, hang it, probe it, pull its plug.

Stdlib only (the host's python3 runs it, before any venv exists). The guest is reached through
two channels QEMU offers: a serial line to a small agent in the guest (one base64-encoded shell
command per line, answered between markers) and QEMU's human monitor (`screendump`, `quit`).
Each check prints one line, `CHECK  PASS|FAIL  SECONDS  DETAIL`; the exit status is 1 if any
failed. Times are the host's monotonic seconds unless a line says "guest".

    python3 hw/boot_vm.py --image CACHE/vm-image-KEY --run CACHE/vm-run
    python3 hw/boot_vm.py --list
"""

from __future__ import annotations

import argparse
import base64
import itertools
import json
import logging
import os
import random
import re
import shlex
import socket
import subprocess
import sys
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

log = logging.getLogger(__name__)

UNIT = "smile-mirror.service"
SCREEN = (1920, 1080)
READY_WITHIN_S = 60.0
BACK_WITHIN_S = 15.0
SLOW = 1.0  # how much longer the waits are (not the limits): 4 under TCG (--accel tcg)
KILL_SLACK_S = 5.0  # the watchdog's kill and the restart job, on top of WatchdogSec + RestartSec
MAX_EXPOSURE = 1.5
BOOTH_IMAGES = ("astronaut.png", "chelsea.png")  # a smiling face, then no face (re-arms the booth)
CHECKS = ("ready", "no traceback", "screen filled", "screen live", "crash restarts", "watchdog",
          "exposure", "no network", "power cut: fsck", "power cut: photos", "power cut: counters",
          "booth carries on")


# ---- pictures -------------------------------------------------------------------------------

@dataclass(frozen=True, slots=True)
class Picture:
    width: int
    height: int
    rgb: bytes

    def pixel(self, x: int, y: int) -> tuple[int, int, int]:
        i = 3 * (y * self.width + x)
        return self.rgb[i], self.rgb[i + 1], self.rgb[i + 2]


def read_ppm(path: Path) -> Picture:
    """A binary PPM (P6, maxval 255), as QEMU's screendump writes it."""
    data = path.read_bytes()
    fields: list[bytes] = []
    pos = 0
    while len(fields) < 4:
        while data[pos:pos + 1].isspace():
            pos += 1
        if data[pos:pos + 1] == b"#":
            pos = data.index(b"\n", pos) + 1
            continue
        end = pos
        while not data[end:end + 1].isspace():
            end += 1
        fields.append(data[pos:end])
        pos = end
    if fields[0] != b"P6" or fields[3] != b"255":
        raise ValueError(f"{path}: not a P6 PPM with maxval 255")
    w, h = int(fields[1]), int(fields[2])
    rgb = data[pos + 1:pos + 1 + 3 * w * h]
    if len(rgb) != 3 * w * h:
        raise ValueError(f"{path}: {len(rgb)} bytes of pixels, expected {3 * w * h}")
    return Picture(w, h, rgb)


@dataclass(frozen=True, slots=True)
class Coverage:
    cells_drawn: float  # share of a 16x9 grid whose cells are not plain black
    bbox: tuple[int, int, int, int]  # x0, y0, x1, y1 of the non-black pixels
    colours: int  # distinct colours among the samples (a text console has two or three)

    @property
    def span(self) -> tuple[float, float]:
        return (self.bbox[2] - self.bbox[0]), (self.bbox[3] - self.bbox[1])


def coverage(pic: Picture, step: int = 8, black: int = 24) -> Coverage:
    """How much of the screen is drawn: a sampled grid of cells, each drawn when a sample in it
    is brighter than `black` (sum of channels)."""
    cols, rows = 16, 9
    drawn = [[False] * cols for _ in range(rows)]
    x0, y0, x1, y1 = pic.width, pic.height, 0, 0
    colours: set[tuple[int, int, int]] = set()
    for y in range(0, pic.height, step):
        for x in range(0, pic.width, step):
            p = pic.pixel(x, y)
            colours.add((p[0] >> 3, p[1] >> 3, p[2] >> 3))
            if sum(p) > black:
                drawn[y * rows // pic.height][x * cols // pic.width] = True
                x0, y0, x1, y1 = min(x0, x), min(y0, y), max(x1, x + step), max(y1, y + step)
    share = sum(map(sum, drawn)) / (cols * rows)
    return Coverage(share, (x0, y0, x1, y1) if x1 else (0, 0, 0, 0), len(colours))


def changed_share(a: Picture, b: Picture, step: int = 8, threshold: int = 24) -> float:
    """Share of sampled pixels whose colour moved by more than `threshold` (sum of channels)."""
    if (a.width, a.height) != (b.width, b.height):
        return 1.0
    n = changed = 0
    for y in range(0, a.height, step):
        for x in range(0, a.width, step):
            pa, pb = a.pixel(x, y), b.pixel(x, y)
            n += 1
            changed += sum(abs(i - j) for i, j in zip(pa, pb)) > threshold
    return changed / n


def mirror_on_screen(pic: Picture) -> tuple[bool, str]:
    """The mirror fills the screen: full size, nearly every cell drawn, edge to edge, and many
    colours (a camera picture, not a console's text or a flat fill)."""
    cov = coverage(pic)
    w, h = cov.span
    ok = ((pic.width, pic.height) == SCREEN and cov.cells_drawn >= 0.9
          and w >= 0.95 * pic.width and h >= 0.95 * pic.height and cov.colours >= 200)
    return ok, (f"{pic.width}x{pic.height}, {cov.cells_drawn:.0%} of cells drawn, drawn area "
                f"{w}x{h}, {cov.colours} colours")


# ---- the guest --------------------------------------------------------------------------------

class Agent:
    """The serial line to vm-agent in the guest."""

    def __init__(self, path: Path) -> None:
        self._path = path
        self._sock: socket.socket | None = None
        self._buf = b""
        self._lock = threading.Lock()
        self._ids = itertools.count(1)

    def connect(self, timeout: float) -> None:
        end = time.monotonic() + timeout
        while True:
            try:
                s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
                s.connect(str(self._path))
                self._sock = s
                return
            except OSError:
                s.close()
                if time.monotonic() > end:
                    raise
                time.sleep(0.1)

    def run(self, command: str, timeout: float = 30.0) -> tuple[int, str]:
        """Run `command` with bash in the guest; (exit status, output)."""
        assert self._sock is not None
        ident = f"c{next(self._ids)}"
        line = f"{ident} {base64.b64encode(command.encode()).decode()}\n".encode()
        with self._lock:
            self._sock.sendall(line)
            end = time.monotonic() + timeout
            pattern = re.compile(rb"@@BEGIN " + ident.encode() + rb"\n(.*?)\n?@@END " + ident.encode() + rb" (\d+)\n", re.S)
            while True:
                found = pattern.search(self._buf)
                if found:
                    self._buf = self._buf[found.end():]
                    return int(found.group(2)), found.group(1).decode(errors="replace")
                left = end - time.monotonic()
                if left <= 0:
                    raise TimeoutError(f"no answer from the guest within {timeout}s to: {command[:80]}")
                self._sock.settimeout(left)
                try:
                    chunk = self._sock.recv(65536)
                except socket.timeout:
                    continue
                if not chunk:
                    raise ConnectionError("the guest's serial line closed")
                self._buf += chunk

    def wait_up(self, timeout: float) -> None:
        """Until the agent answers (it starts early in the boot)."""
        end = time.monotonic() + timeout
        while True:
            try:
                if self.run("echo up", timeout=2.0) == (0, "up"):
                    return
            except TimeoutError:
                pass
            if time.monotonic() > end:
                raise TimeoutError(f"the guest's agent did not answer within {timeout}s")

    def close(self) -> None:
        if self._sock is not None:
            self._sock.close()


class Monitor:
    """QEMU's human monitor on a unix socket."""

    def __init__(self, path: Path) -> None:
        self._sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self._sock.connect(str(path))
        self._sock.settimeout(30)
        self._read_prompt()

    def _read_prompt(self) -> str:
        out = b""
        while not out.endswith(b"(qemu) "):
            chunk = self._sock.recv(4096)
            if not chunk:
                break
            out += chunk
        return out.decode(errors="replace")

    def command(self, text: str) -> str:
        self._sock.sendall(text.encode() + b"\n")
        return self._read_prompt()

    def quit(self) -> None:
        """Power off at once: QEMU exits, whatever the guest had not yet written is lost."""
        try:
            self._sock.sendall(b"quit\n")
            self._sock.recv(4096)
        except OSError:
            pass
        self._sock.close()


@dataclass
class Machine:
    image: Path
    run_dir: Path
    accel: str = "kvm"
    boots: int = 0
    proc: subprocess.Popen[bytes] | None = None
    agent: Agent | None = None
    monitor: Monitor | None = None
    started: float = 0.0
    console_logs: list[Path] = field(default_factory=list)

    @property
    def disk(self) -> Path:
        return self.run_dir / "disk.qcow2"

    def boot(self, extra_cmdline: str = "") -> None:
        """Start QEMU on the overlay disk (made on the first boot, kept across reboots)."""
        if not self.disk.exists():
            subprocess.run(["qemu-img", "create", "-q", "-f", "qcow2", "-F", "raw", "-b",
                            str(self.image / "disk.raw"), str(self.disk)], check=True)
        self.boots += 1
        for name in ("agent.sock", "monitor.sock"):
            (self.run_dir / name).unlink(missing_ok=True)
        console = self.run_dir / f"console-{self.boots}.log"
        self.console_logs.append(console)
        cmdline = ("root=/dev/vda ro console=ttyS0 video=Virtual-1:1920x1080 panic=-1 "
                   "systemd.show_status=false " + extra_cmdline).strip()
        cpu = ["-enable-kvm", "-cpu", "host"] if self.accel == "kvm" else ["-accel", "tcg,thread=multi", "-cpu", "max"]
        cmd = ["qemu-system-x86_64", *cpu, "-smp", "2", "-m", "2048",
               "-nodefaults", "-no-user-config", "-nic", "none", "-display", "none", "-no-reboot",
               "-kernel", str(self.image / "vmlinuz"), "-initrd", str(self.image / "initrd.img"),
               "-append", cmdline,
               "-drive", f"file={self.disk},if=virtio,format=qcow2,cache=writeback",
               "-device", "virtio-vga,xres=1920,yres=1080",
               "-serial", f"file:{console}",
               "-chardev", f"socket,id=agent,path={self.run_dir / 'agent.sock'},server=on,wait=off",
               "-serial", "chardev:agent",
               "-monitor", f"unix:{self.run_dir / 'monitor.sock'},server=on,wait=off"]
        self.started = time.monotonic()
        self.proc = subprocess.Popen(cmd, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                                     stderr=open(self.run_dir / f"qemu-{self.boots}.log", "wb"))
        self.agent = Agent(self.run_dir / "agent.sock")
        self.agent.connect(timeout=10)
        end = time.monotonic() + 10
        while True:
            try:
                self.monitor = Monitor(self.run_dir / "monitor.sock")
                break
            except OSError:
                if time.monotonic() > end or self.proc.poll() is not None:
                    raise RuntimeError(f"QEMU did not start (see {self.run_dir}/qemu-{self.boots}.log)")
                time.sleep(0.1)
        self.agent.wait_up(timeout=90 * SLOW)

    def sh(self, command: str, timeout: float = 30.0) -> tuple[int, str]:
        assert self.agent is not None
        return self.agent.run(command, timeout * SLOW)

    def out(self, command: str, timeout: float = 30.0) -> str:
        rc, text = self.sh(command, timeout)
        if rc != 0:
            raise RuntimeError(f"guest command failed ({rc}): {command}\n{text}")
        return text

    def screendump(self, label: str) -> Picture:
        assert self.monitor is not None
        # One file per label: a check that polls the screen overwrites its last dump.
        path = self.run_dir / f"screen-{label}.ppm"
        path.unlink(missing_ok=True)
        reply = self.monitor.command(f"screendump {path}")
        if not path.exists():
            raise RuntimeError(f"screendump wrote nothing: {reply.strip()}")
        return read_ppm(path)

    def unit(self, *props: str) -> dict[str, str]:
        text = self.out(f"systemctl show {UNIT} " + " ".join(f"-p {p}" for p in props))
        return dict(line.split("=", 1) for line in text.splitlines() if "=" in line)

    def power_cut(self) -> None:
        assert self.monitor is not None and self.proc is not None
        self.monitor.quit()
        self.proc.wait(timeout=30)
        self.close_channels()

    def shutdown(self) -> None:
        if self.proc is None or self.proc.poll() is not None:
            return
        try:
            self.sh("systemctl poweroff", timeout=5)
        except (TimeoutError, ConnectionError, OSError):
            pass
        try:
            self.proc.wait(timeout=60)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
        self.close_channels()

    def close_channels(self) -> None:
        if self.agent:
            self.agent.close()
        self.agent = self.monitor = None


# ---- checks ---------------------------------------------------------------------------------

class Report:
    def __init__(self) -> None:
        self.rows: list[tuple[str, bool, float, str]] = []

    def add(self, check: str, ok: bool, seconds: float, detail: str) -> None:
        self.rows.append((check, ok, seconds, detail))
        print(f"{check:<22} {'PASS' if ok else 'FAIL':<6} {seconds:6.1f}  {detail}", flush=True)

    @property
    def failed(self) -> int:
        return sum(not ok for _, ok, _, _ in self.rows)


def wait_for(predicate, timeout: float, every: float = 0.5):
    """Poll `predicate` until it returns something truthy; that value, or None at the timeout."""
    end = time.monotonic() + timeout
    while True:
        value = predicate()
        if value:
            return value
        if time.monotonic() > end:
            return None
        time.sleep(every)


def active_pid(m: Machine, not_pid: str = "") -> str | None:
    """MainPID once the unit is active (Type=notify: READY=1 arrived), if it is not `not_pid`."""
    u = m.unit("ActiveState", "SubState", "MainPID")
    if u.get("ActiveState") == "active" and u.get("SubState") == "running" and u.get("MainPID", "0") not in ("0", not_pid):
        return u["MainPID"]
    return None


def guest_uptime(m: Machine) -> float:
    return float(m.out("cut -d' ' -f1 /proc/uptime"))


def check_ready(m: Machine, r: Report) -> str | None:
    pid = wait_for(lambda: active_pid(m), timeout=(READY_WITHIN_S + 30) * SLOW)
    host_s = time.monotonic() - m.started
    if not pid:
        u = m.unit("ActiveState", "SubState", "Result")
        r.add("ready", False, host_s, f"not active after {host_s:.0f}s: {u}")
        return None
    ready_us = int(m.unit("ActiveEnterTimestampMonotonic")["ActiveEnterTimestampMonotonic"])
    guest_s = ready_us / 1e6
    r.add("ready", guest_s <= READY_WITHIN_S, guest_s,
          f"READY=1 {guest_s:.1f}s after the kernel started (guest clock; {host_s:.1f}s since QEMU "
          f"started on the host), limit {READY_WITHIN_S:.0f}s; pid {pid}")
    return pid


def check_no_traceback(m: Machine, r: Report, boot_label: str) -> None:
    t0 = time.monotonic()
    rc, text = m.sh("journalctl -b --no-pager -o cat | grep -n -B2 -A8 Traceback | head -n 40")
    lines = m.out("journalctl -b --no-pager -o cat | wc -l").strip()
    r.add("no traceback", not text.strip(), time.monotonic() - t0,
          f"{boot_label}: {lines} journal lines, " + ("no 'Traceback'" if not text.strip() else text.strip()[:300]))


def check_screen(m: Machine, r: Report) -> None:
    t0 = time.monotonic()
    a = m.screendump("1-mirror")
    ok, detail = mirror_on_screen(a)
    r.add("screen filled", ok, time.monotonic() - t0, detail)
    time.sleep(3)
    b = m.screendump("2-mirror-3s-later")
    share = changed_share(a, b)
    ok_b, detail_b = mirror_on_screen(b)
    r.add("screen live", share >= 0.02 and ok_b, time.monotonic() - t0,
          f"{share:.0%} of sampled pixels changed in 3 s (needs >= 2%); second dump {detail_b}")


def screen_back(m: Machine, label: str) -> bool:
    try:
        return mirror_on_screen(m.screendump(label))[0]
    except (RuntimeError, ValueError):
        return False


def check_crash(m: Machine, r: Report, pid: str) -> str | None:
    restart = m.unit("RestartUSec")["RestartUSec"]
    m.out(f"kill -SEGV {pid}")
    t0 = time.monotonic()
    new = wait_for(lambda: active_pid(m, not_pid=pid), timeout=(BACK_WITHIN_S + 30) * SLOW, every=0.25)
    shown = new and wait_for(lambda: screen_back(m, "3-after-segv"), timeout=(BACK_WITHIN_S + 30) * SLOW - (time.monotonic() - t0), every=0.5)
    s = time.monotonic() - t0
    journal = m.out(f"journalctl -b -u {UNIT} --no-pager -o cat | grep -E 'code=dumped|status=11|SEGV' | tail -n1")
    ok = bool(new and shown) and s <= BACK_WITHIN_S
    r.add("crash restarts", ok, s, f"kill -SEGV {pid}: new pid {new or '-'} active and the mirror on screen "
          f"after {s:.1f}s (limit {BACK_WITHIN_S:.0f}s; RestartSec {restart}); journal: {journal.strip()[:120]}")
    return new or None


def check_watchdog(m: Machine, r: Report, pid: str) -> str | None:
    u = m.unit("WatchdogUSec", "RestartUSec")
    wd, rs = (parse_duration(u["WatchdogUSec"]), parse_duration(u["RestartUSec"]))
    limit = wd + rs + KILL_SLACK_S
    t_stop = guest_uptime(m)
    m.out(f"kill -STOP {pid}")
    t0 = time.monotonic()
    new = wait_for(lambda: active_pid(m, not_pid=pid), timeout=(limit + 40) * SLOW, every=1.0)
    s = time.monotonic() - t0
    started = (int(m.unit("ExecMainStartTimestampMonotonic")["ExecMainStartTimestampMonotonic"]) / 1e6 - t_stop
               if new else float("nan"))
    journal = m.out(f"journalctl -b -u {UNIT} --no-pager -o cat | grep -i 'watchdog timeout' | tail -n1").strip()
    ok = bool(new) and "atchdog timeout" in journal and started <= limit
    r.add("watchdog", ok, s, f"kill -STOP {pid}: '{journal[:80]}', new process started {started:.1f}s after the "
          f"stop (guest clock; limit WatchdogSec {wd:.0f}s + RestartSec {rs:.0f}s + {KILL_SLACK_S:.0f}s), "
          f"ready after {s:.1f}s, pid {new or '-'}")
    return new or None


def parse_duration(text: str) -> float:
    """systemd's `30s`, `5s`, `1min 30s`, `500ms` as seconds."""
    units = {"ms": 1e-3, "s": 1.0, "min": 60.0, "h": 3600.0, "us": 1e-6}
    total = 0.0
    for number, unit in re.findall(r"([0-9.]+)\s*(ms|us|min|s|h)", text):
        total += float(number) * units[unit]
    return total


def check_security(m: Machine, r: Report, pid: str) -> None:
    t0 = time.monotonic()
    text = m.out(f"systemd-analyze security --no-pager {UNIT}", timeout=60 * SLOW)
    found = re.search(r"Overall exposure level for \S+: ([0-9.]+)\s+(\S+)", text)
    level = float(found.group(1)) if found else float("inf")
    r.add("exposure", level <= MAX_EXPOSURE, time.monotonic() - t0,
          f"systemd-analyze security {UNIT} in the booted guest: {level} {found.group(2) if found else '?'} "
          f"(limit {MAX_EXPOSURE})")
    t0 = time.monotonic()
    probe = ("import socket,sys\ntry:\n socket.create_connection(('127.0.0.1', 8765), 3).close(); print('connected')\n"
             "except OSError as e:\n print('refused:', e); sys.exit(1)\n")
    m.out("(python3 -m http.server --bind 127.0.0.1 8765 >/dev/null 2>&1 &)")
    # The control: from the root namespace the server answers (once it listens).
    rc_host, host = m.sh(f"for i in $(seq 40); do python3 -c {shlex.quote(probe)} && exit 0; sleep 0.5; done; exit 1",
                         timeout=60)
    host = host.strip().splitlines()[-1] if host.strip() else host
    rc_unit, unit = m.sh(f"nsenter -t {pid} -n python3 -c {shlex.quote(probe)}")
    links = m.out(f"nsenter -t {pid} -n ip -o link | cut -d: -f2 | tr -d ' ' | paste -sd,").strip()
    same = m.out(f"[ $(readlink /proc/{pid}/ns/net) = $(readlink /proc/1/ns/net) ] && echo same || echo private").strip()
    m.sh("pkill -f 'http.server --bind 127.0.0.1 8765'")
    ok = rc_host == 0 and rc_unit != 0 and same == "private" and links == "lo"
    r.add("no network", ok, time.monotonic() - t0,
          f"a server on the guest's 127.0.0.1:8765: from the root namespace {host.strip()}; from the "
          f"mirror's ({same}, links: {links}) {unit.strip()[:70]}")


BOOTH_CONFIG = r"""
set -e
c=/etc/smile-mirror/config.toml
mkdir -p /srv/booth
cp /var/lib/smile-mirror/models/astronaut.png /srv/booth/1-smile.png
cp /var/lib/smile-mirror/models/chelsea.png /srv/booth/2-none.png
sed -i '/^\[source\]$/,/^\[/ { s|^spec = .*$|spec = "images:/srv/booth/*.png"|; s|^loop = .*$|loop = true| }' $c
sed -i '/^\[run\]$/,/^\[/ s|^mode = .*$|mode = "photobooth"|' $c
sed -i '/^\[booth\]$/,/^\[/ { s|^review_s = .*$|review_s = 0.5|; s|^cooldown_s = .*$|cooldown_s = 0.0|; s|^slideshow = .*$|slideshow = false| }' $c
/opt/smile-mirror/venv/bin/smile-mirror config check $c
systemctl restart smile-mirror
"""
PHOTOS = "/var/lib/smile-mirror/photos"
PHOTO_CHECK = r"""
import json, pathlib, sys
import cv2
d = pathlib.Path(sys.argv[1])
bad, good, tmp = [], 0, []
for p in sorted(d.iterdir()):
    if p.name.startswith("."):
        tmp.append(p.name)
        continue
    if p.suffix == ".jpg":
        data = p.read_bytes()
        img = cv2.imread(str(p))
        if img is None or not data.endswith(b"\xff\xd9"):
            bad.append(p.name)
        else:
            good += 1
    elif p.suffix == ".json":
        try:
            json.loads(p.read_text())
        except ValueError:
            bad.append(p.name)
print(json.dumps({"good": good, "bad": bad, "tmp": tmp}))
"""


def photo_count(m: Machine) -> int:
    return int(m.out(f"ls {PHOTOS} 2>/dev/null | grep -c '\\.jpg$' || true").strip() or 0)


def check_booth(m: Machine, r: Report) -> None:
    """Photo booth: the plug is pulled while photos are being taken; after the reboot the file
    system is clean, every photo under a real name is whole, the counters load, and it goes on."""
    t0 = time.monotonic()
    m.out(BOOTH_CONFIG, timeout=60)
    before = photo_count(m)
    taken = wait_for(lambda: photo_count(m) >= before + 3 and photo_count(m), timeout=60 * SLOW, every=0.5)
    if not taken:
        for name in ("power cut: fsck", "power cut: photos", "power cut: counters", "booth carries on"):
            r.add(name, False, time.monotonic() - t0, f"the booth took {photo_count(m) - before} photos in 60 s, needs 3")
        return
    # Cut the power just after a photo was published, while the next ones are on their way.
    last = photo_count(m)
    wait_for(lambda: photo_count(m) > last, timeout=20, every=0.1)
    time.sleep(random.uniform(0.0, 1.0))
    counters_before = m.out("cat /var/lib/smile-mirror/counters.json 2>/dev/null || true").strip()
    at_cut = photo_count(m)
    m.power_cut()
    cut_s = time.monotonic() - t0
    t0 = time.monotonic()
    m.boot("fsck.mode=force fsck.repair=preen")
    fsck = m.out("journalctl -b -o cat --no-pager -u systemd-fsck-root.service; dmesg | grep -i -E 'EXT4-fs \\(vda\\): (recovery|mounted)' | head -n3")
    fs = m.out("systemctl show systemd-fsck-root.service -p ExecMainStatus -p Result -p ActiveState")
    status = dict(line.split("=", 1) for line in fs.splitlines() if "=" in line)
    clean = (status.get("ExecMainStatus") == "0" and status.get("Result") == "success"
             and not re.search(r"UNEXPECTED|INCONSISTENCY|FIXED|Fix\?|corrected|\*\*\*\*", fsck))
    summary = "; ".join(line.strip() for line in fsck.splitlines() if line.strip())
    r.add("power cut: fsck", clean, time.monotonic() - t0,
          f"QEMU quit {cut_s:.0f}s into the booth ({at_cut} photos seen); reboot with fsck.mode=force: "
          f"systemd-fsck-root exit {status.get('ExecMainStatus')}; {summary[:220]}")
    t0 = time.monotonic()
    rc, text = m.sh(f"/opt/smile-mirror/venv/bin/python -c {shlex.quote(PHOTO_CHECK)} {PHOTOS}")
    try:
        found = json.loads(text.strip().splitlines()[-1])
    except (ValueError, IndexError):
        found = {"good": 0, "bad": [text[:200]], "tmp": []}
    r.add("power cut: photos", rc == 0 and not found["bad"] and found["good"] > 0, time.monotonic() - t0,
          f"{found['good']} whole photos under real names, partial: {found['bad'] or 'none'}; temporary "
          f"(dot) files left: {len(found['tmp'])}")
    t0 = time.monotonic()
    rc, counters = m.sh("python3 -c 'import json,sys; c=json.load(open(sys.argv[1])); print(json.dumps(c))' "
                        "/var/lib/smile-mirror/counters.json")
    r.add("power cut: counters", rc == 0, time.monotonic() - t0,
          f"counters.json loads: {counters.strip()[:120]} (before the cut: {counters_before[:80]})")
    t0 = time.monotonic()
    pid = wait_for(lambda: active_pid(m), timeout=(READY_WITHIN_S + 30) * SLOW)
    after = photo_count(m)
    more = pid and wait_for(lambda: photo_count(m) > after and photo_count(m), timeout=60 * SLOW, every=0.5)
    r.add("booth carries on", bool(more), time.monotonic() - t0,
          f"after the reboot: mirror pid {pid or '-'} active, photos {after} -> {more or after}")
    check_no_traceback(m, r, "after the power cut")


def run_all(image: Path, run_dir: Path, accel: str = "kvm") -> int:
    r = Report()
    m = Machine(image, run_dir, accel)
    print(f"{'CHECK':<22} {'RESULT':<6} {'SECS':>6}  DETAIL", flush=True)
    t_all = time.monotonic()
    try:
        m.boot()
        pid = check_ready(m, r)
        check_no_traceback(m, r, "first boot")
        if pid:
            time.sleep(2)
            check_screen(m, r)
            pid = check_crash(m, r, pid) or pid
            pid = check_watchdog(m, r, pid) or wait_for(lambda: active_pid(m), timeout=60 * SLOW) or pid
            check_security(m, r, pid)
            check_booth(m, r)
    except (TimeoutError, ConnectionError, RuntimeError, OSError) as exc:
        r.add("guest", False, time.monotonic() - t_all, f"stopped early: {exc} (logs: {run_dir})")
    finally:
        m.shutdown()
        if m.proc and m.proc.poll() is None:
            m.proc.kill()
    done = len(r.rows) - r.failed
    print(f"{'PASS' if not r.failed else 'FAIL'} in {time.monotonic() - t_all:.0f}s (logs, screendumps: {run_dir})")
    print(f"boot-vm: {done} passed, {r.failed} failed")
    return 1 if r.failed else 0


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--image", type=Path, help="folder with disk.raw, vmlinuz, initrd.img")
    ap.add_argument("--run", type=Path, help="folder for the overlay disk, logs and screendumps")
    ap.add_argument("--accel", choices=("kvm", "tcg"), default="kvm",
                    help="kvm (the test); tcg: QEMU's emulation, for debugging where KVM cannot boot Linux")
    ap.add_argument("--list", action="store_true", help="print the checks and exit")
    args = ap.parse_args(argv)
    if args.list:
        print("\n".join(CHECKS))
        return 0
    if not args.image or not args.run:
        ap.error("--image and --run are needed")
    args.run.mkdir(parents=True, exist_ok=True)
    global SLOW
    if args.accel == "tcg":
        SLOW = 4.0
    return run_all(args.image, args.run, args.accel)


if __name__ == "__main__":
    sys.exit(main())
