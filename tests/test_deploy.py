"""Deployment: the systemd units, the Raspberry Pi installer and the on-device scripts.

No Pi, no running systemd: the units are checked with `systemd-analyze verify` and
`systemd-analyze security --offline=true` (Debian package `systemd`), the scripts with
`shellcheck` (package `shellcheck`), and the installer through its `--dry-run` under a fake
root with fake /proc/cpuinfo files of a Pi 4 and a Pi 5. Tests whose tool is missing skip
and say which package provides it.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
SYSTEMD = REPO / "systemd"
INSTALL = REPO / "hw" / "install.sh"
SCRIPTS = [INSTALL, REPO / "hw" / "smoke.sh", REPO / "hw" / "boot-vm.sh"]
LOCK_RULE = REPO / "hw" / "lock-choice.sh"
SHELL_FILES = SCRIPTS + [REPO / "mirror", LOCK_RULE]  # emulate-pi.sh: tests/test_emulate_pi.py
CONSOLE_UNIT = SYSTEMD / "smile-mirror.service"
DESKTOP_UNIT = SYSTEMD / "smile-mirror-desktop.service"
SYSTEM_UNITS = [CONSOLE_UNIT]
USER_UNITS = [DESKTOP_UNIT]
VENV_CLI = "/opt/smile-mirror/venv/bin/smile-mirror"
MODEL_DIR = "/var/lib/smile-mirror/models"

# /proc/cpuinfo Features of a Raspberry Pi 4 (Cortex-A72) and a Pi 5 (Cortex-A76), 64-bit kernel.
PI4_CPUINFO = """processor\t: 0
BogoMIPS\t: 108.00
Features\t: fp asimd evtstrm crc32 cpuid
CPU implementer\t: 0x41
CPU architecture: 8
CPU part\t: 0xd08
"""
PI5_CPUINFO = """processor\t: 0
BogoMIPS\t: 108.00
Features\t: fp asimd evtstrm aes pmull sha1 sha2 crc32 atomics fphp asimdhp cpuid asimdrdm lrcpc dcpop asimddp
CPU implementer\t: 0x41
CPU architecture: 8
CPU part\t: 0xd0b
"""
X86_CPUINFO = "processor\t: 0\nflags\t\t: fpu vme sse sse2 avx2\n"

needs_analyze = pytest.mark.skipif(shutil.which("systemd-analyze") is None,
                                   reason="systemd-analyze not installed (Debian package: systemd)")
needs_shellcheck = pytest.mark.skipif(shutil.which("shellcheck") is None,
                                      reason="shellcheck not installed (Debian package: shellcheck)")


def unit_with_stub_exec(unit: Path, tmp_path: Path) -> Path:
    """A copy of `unit` whose ExecStart binary exists here: verify checks that it is executable."""
    stub = tmp_path / "bin" / "smile-mirror"
    stub.parent.mkdir(exist_ok=True)
    stub.write_text("#!/bin/sh\nexit 0\n")
    stub.chmod(0o755)
    text = unit.read_text()
    assert VENV_CLI in text, f"{unit.name} should run {VENV_CLI}"
    copy = tmp_path / "units" / unit.name
    copy.parent.mkdir(exist_ok=True)
    copy.write_text(text.replace(VENV_CLI, str(stub)))
    return copy


# ---- systemd units ----------------------------------------------------------------------------

@needs_analyze
@pytest.mark.parametrize("unit", SYSTEM_UNITS, ids=lambda p: p.name)
def test_system_unit_verifies(unit: Path, tmp_path: Path) -> None:
    copy = unit_with_stub_exec(unit, tmp_path)
    done = subprocess.run(["systemd-analyze", "verify", "--man=no", str(copy)],
                          capture_output=True, text=True, timeout=60)
    assert done.returncode == 0 and not done.stderr.strip(), done.stdout + done.stderr


@needs_analyze
@pytest.mark.parametrize("unit", USER_UNITS, ids=lambda p: p.name)
def test_user_unit_verifies(unit: Path, tmp_path: Path) -> None:
    copy = unit_with_stub_exec(unit, tmp_path)
    runtime = tmp_path / "runtime"
    runtime.mkdir(mode=0o700)
    env = {**os.environ, "XDG_RUNTIME_DIR": str(runtime)}
    done = subprocess.run(["systemd-analyze", "--user", "verify", "--man=no", str(copy)],
                          capture_output=True, text=True, timeout=60, env=env)
    assert done.returncode == 0 and not done.stderr.strip(), done.stdout + done.stderr


def offline_security_supported() -> bool:
    if shutil.which("systemd-analyze") is None:
        return False
    helptext = subprocess.run(["systemd-analyze", "--help"], capture_output=True, text=True).stdout
    return "--offline" in helptext


@pytest.mark.skipif(not offline_security_supported(),
                    reason="needs systemd-analyze >= 250 for `security --offline` (Debian package: systemd)")
def test_console_unit_exposure_is_at_most_1_5(tmp_path: Path) -> None:
    copy = unit_with_stub_exec(CONSOLE_UNIT, tmp_path)
    done = subprocess.run(["systemd-analyze", "security", "--offline=true", "--no-pager", str(copy)],
                          capture_output=True, text=True, timeout=60)
    found = re.search(r"Overall exposure level for \S+: ([0-9.]+)", done.stdout)
    assert found, done.stdout + done.stderr
    assert float(found.group(1)) <= 1.5, done.stdout


def directives(unit: Path) -> dict[str, list[str]]:
    out: dict[str, list[str]] = {}
    for line in unit.read_text().splitlines():
        if "=" in line and not line.lstrip().startswith(("#", ";", "[")):
            key, _, value = line.partition("=")
            out.setdefault(key.strip(), []).append(value.strip())
    return out


def test_console_unit_promises() -> None:
    d = directives(CONSOLE_UNIT)
    expected = {
        "Type": "notify", "Restart": "always", "PAMName": "login", "TTYPath": "/dev/tty1",
        "Conflicts": "getty@tty1.service", "User": "smile-mirror", "PrivateNetwork": "yes",
        "IPAddressDeny": "any", "ProtectSystem": "strict", "PrivateTmp": "yes",
        "DevicePolicy": "closed", "StateDirectory": "smile-mirror", "NoNewPrivileges": "yes",
        "CapabilityBoundingSet": "",
    }
    for key, value in expected.items():
        assert value in d.get(key, []), f"{key}={value} missing from {CONSOLE_UNIT.name}"
    assert d["WatchdogSec"] and d["RestartSec"], "watchdog and restart pause must be set"
    assert "SDL_VIDEODRIVER=kmsdrm" in d["Environment"]
    assert "SMILE_MIRROR_CACHE=%S/smile-mirror/models" in d["Environment"]
    allowed = " ".join(d["DeviceAllow"])
    for device in ("char-drm", "char-video4linux", "char-media", "char-dma_heap", "char-input"):
        assert device in allowed
    assert "--blank 0" in " ".join(d["ExecStartPre"]), "screen blanking must be switched off"


@pytest.mark.parametrize("unit", SYSTEM_UNITS + USER_UNITS, ids=lambda p: p.name)
def test_every_relaxation_has_its_reason(unit: Path) -> None:
    """A hardening option set to `no`/`all` must follow a comment that says why."""
    lines = unit.read_text().splitlines()
    assert lines[0].startswith("#"), "each unit is documented in a comment at its top"
    for i, line in enumerate(lines):
        if re.fullmatch(r"(Private\w+|Protect\w+|ProcSubset|MemoryDenyWriteExecute)=(no|all|false)", line):
            comment = []
            for prev in reversed(lines[:i]):
                if not prev.startswith("#"):
                    break
                comment.append(prev)
            assert comment, f"{unit.name}: `{line}` has no comment giving the reason"


# ---- the installer ----------------------------------------------------------------------------

def dry_run(tmp_path: Path, cpuinfo: str, *args: str, arch: str = "arm64",
            root: Path | None = None) -> subprocess.CompletedProcess[str]:
    info = tmp_path / "cpuinfo"
    info.write_text(cpuinfo)
    root = root or tmp_path / "root"
    root.mkdir(exist_ok=True)
    env = {**os.environ, "SMILE_MIRROR_ROOT": str(root), "CPUINFO": str(info),
           "SMILE_MIRROR_ARCH": arch, "DT_MODEL": str(tmp_path / "no-model")}
    env.pop("SMILE_MIRROR_LOCK", None)
    return subprocess.run(["bash", str(INSTALL), "--dry-run", *args], capture_output=True,
                          text=True, timeout=60, env=env)


def actions(out: str) -> list[str]:
    return [line[2:] for line in out.splitlines() if line.startswith("+ ")]


def has(lines: list[str], *words: str) -> bool:
    return any(all(w in line for w in words) for line in lines)


@pytest.mark.parametrize("cpuinfo, lock", [
    (PI4_CPUINFO, "requirements/mediapipe-1-numpy1.txt"),
    (PI5_CPUINFO, "requirements/mediapipe-1-numpy1.txt"),
], ids=["pi4", "pi5"])
def test_dry_run_prints_every_step_and_picks_the_lock_by_cpu(tmp_path: Path, cpuinfo: str, lock: str) -> None:
    done = dry_run(tmp_path, cpuinfo)
    assert done.returncode == 0, done.stdout + done.stderr
    steps = actions(done.stdout)
    root = str(tmp_path / "root")
    assert has(steps, "apt-get install", "python3-picamera2", "python3-venv", "libegl1", "libgles2")
    assert has(steps, "useradd", "--system", "smile-mirror") or "# user smile-mirror exists" in done.stdout
    assert has(steps, "usermod", "video,render,input", "smile-mirror")
    assert has(steps, "-m venv", "--system-site-packages", f"{root}/opt/smile-mirror/venv")
    assert has(steps, "pip", "install --no-deps --require-hashes -r", str(REPO / lock))
    assert not has(steps, "requirements/mediapipe-0.10.txt") and not has(steps, "requirements/mediapipe-1.txt"), \
        "only the one Pi lock is installed"
    assert has(steps, "pip", "install --no-deps --require-hashes -r", str(REPO / "requirements/setuptools.txt"))
    assert has(steps, "pip", "install --no-deps", "--no-build-isolation", "--force-reinstall", str(REPO)), \
        "the project is built by the locked setuptools, not one pip fetches unchecked"
    assert has(steps, "import numpy, simplejpeg, picamera2"), "the numpy/simplejpeg pairing is checked"
    assert has(steps, "ai_edge_litert.interpreter", "mediapipe_blocker"), \
        "LiteRT is checked everywhere, mediapipe imported only where the CPU runs it"
    assert has(steps, "smile-mirror model fetch --dir", root + MODEL_DIR)
    assert has(steps, "smile-mirror model verify --dir", root + MODEL_DIR)
    assert has(steps, "smile-mirror config default >", f"{root}/etc/smile-mirror/config.toml")
    assert has(steps, "install -m 0644", "systemd/smile-mirror.service", f"{root}/etc/systemd/system/")
    assert has(steps, "systemctl", "enable smile-mirror.service")
    assert f"lock: {lock}" in done.stdout
    assert "nothing was changed" in done.stdout
    assert not any((tmp_path / "root").iterdir()), "--dry-run must not create anything"
    assert not has(steps, "requirements/build.txt") and not has(steps, "model tune"), \
        "the build tools are installed only with --tune-model"


def test_the_model_tune_step_is_opt_in(tmp_path: Path) -> None:
    done = dry_run(tmp_path, PI5_CPUINFO, "--tune-model")
    assert done.returncode == 0, done.stdout + done.stderr
    steps = actions(done.stdout)
    assert has(steps, "pip", "install", "--require-hashes", "requirements/build.txt")
    assert has(steps, "smile-mirror model tune", "--write")


def test_a_cpu_without_one_of_the_features_gets_the_same_lock_and_litert_only(tmp_path: Path) -> None:
    done = dry_run(tmp_path, PI5_CPUINFO.replace(" asimddp", ""))
    assert done.returncode == 0, done.stderr
    assert "lock: requirements/mediapipe-1-numpy1.txt" in done.stdout
    assert "lacks asimddp" in done.stdout and "LiteRT only" in done.stdout


@pytest.mark.parametrize("arch", ["armhf", "i386"])
def test_other_architectures_are_refused_with_a_reason(tmp_path: Path, arch: str) -> None:
    done = dry_run(tmp_path, X86_CPUINFO, arch=arch)
    assert done.returncode != 0
    assert "64-bit Raspberry Pi OS" in done.stderr and "amd64" in done.stderr
    assert "Traceback" not in done.stderr


def test_debian_amd64_pc_gets_the_same_steps_without_the_pi_parts(tmp_path: Path) -> None:
    """A mini-PC kiosk: no picamera2 (so no system site packages and numpy 2), Mesa's drivers
    for kmsdrm, the same user, model, config and console unit as on a Pi."""
    done = dry_run(tmp_path, X86_CPUINFO, arch="amd64")
    assert done.returncode == 0, done.stdout + done.stderr
    steps = actions(done.stdout)
    root = str(tmp_path / "root")
    assert "lock: requirements/mediapipe-1.txt" in done.stdout
    install = [s for s in steps if "apt-get install" in s]
    assert install and "python3-picamera2" not in install[0], install
    assert has(steps, "apt-get install", "python3-venv", "libegl1", "libgles2", "libgbm1", "libgl1-mesa-dri")
    assert has(steps, "usermod", "video,render,input", "smile-mirror")
    venv = [s for s in steps if "-m venv" in s and "/opt/smile-mirror/venv" in s]
    assert venv and "--system-site-packages" not in venv[0], venv
    assert has(steps, "pip", "install --no-deps --require-hashes -r", str(REPO / "requirements/mediapipe-1.txt"))
    assert not has(steps, "mediapipe-0.10.txt") and not has(steps, "numpy1.txt")
    assert has(steps, "import numpy, mediapipe, cv2, pygame") and not has(steps, "picamera2")
    assert has(steps, "smile-mirror model verify --dir", root + MODEL_DIR)
    assert has(steps, "smile-mirror config default >", f"{root}/etc/smile-mirror/config.toml")
    assert has(steps, "install -m 0644", "systemd/smile-mirror.service", f"{root}/etc/systemd/system/")
    assert has(steps, "systemctl", "enable smile-mirror.service")
    assert "nothing was changed" in done.stdout
    assert not any((tmp_path / "root").iterdir()), "--dry-run must not create anything"


def test_an_edited_config_is_never_overwritten(tmp_path: Path) -> None:
    root = tmp_path / "root"
    (root / "etc/smile-mirror").mkdir(parents=True)
    (root / "etc/smile-mirror/config.toml").write_text("[run]\nmode = \"photobooth\"\n")
    done = dry_run(tmp_path, PI4_CPUINFO, root=root)
    assert done.returncode == 0, done.stderr
    assert "config.toml exists: kept" in done.stdout
    assert not has(actions(done.stdout), "config default")
    assert has(actions(done.stdout), "config check", "config.toml")


@pytest.mark.parametrize("desktop", [False, True])
def test_a_new_config_names_the_kiosk_state_folder(tmp_path: Path, desktop: bool) -> None:
    """The console kiosk's state is /var/lib/smile-mirror: the config written says so, so that
    `smile-mirror stats` run there reads it. (The desktop unit keeps its state per user.)"""
    import sys
    import tomllib

    from core.config import load_config

    root = tmp_path / "root"
    cli = root / "opt/smile-mirror/venv/bin/smile-mirror"
    cli.parent.mkdir(parents=True)
    cli.write_text(f"#!/bin/sh\ncd {REPO} && exec {sys.executable} -m kiosk.cli \"$@\"\n")
    cli.chmod(0o755)
    env = {**os.environ, "SMILE_MIRROR_ROOT": str(root)}
    step = f"source {INSTALL}; DESKTOP={int(desktop)}; write_config"
    done = subprocess.run(["bash", "-c", step], capture_output=True, text=True, timeout=60, env=env)
    assert done.returncode == 0, done.stdout + done.stderr
    conf = root / "etc/smile-mirror/config.toml"
    want = "" if desktop else "/var/lib/smile-mirror"
    assert tomllib.loads(conf.read_text())["run"]["state_dir"] == want
    assert load_config(conf).run.state_dir == want
    fresh = tmp_path / "fresh"
    dry = dry_run(tmp_path, PI4_CPUINFO, *(["--desktop"] if desktop else []), root=fresh)
    printed = [a for a in actions(dry.stdout) if a.startswith("sed -i") and "state_dir" in a]
    assert bool(printed) is not desktop
    if printed:  # a "+ " line is a runnable command (hw/emulate-pi.sh replays them): run this one
        target = fresh / "etc/smile-mirror/config.toml"
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(subprocess.run([str(cli), "config", "default"], capture_output=True, text=True).stdout)
        subprocess.run(["bash", "-c", printed[0]], check=True)
        assert load_config(target).run.state_dir == "/var/lib/smile-mirror"


def test_from_desktop_to_console_disables_the_user_unit_before_removing_it(tmp_path: Path) -> None:
    root = tmp_path / "root"
    (root / "etc/systemd/user").mkdir(parents=True)
    (root / "etc/systemd/user/smile-mirror-desktop.service").write_text("")
    steps = actions(dry_run(tmp_path, PI5_CPUINFO, root=root).stdout)
    disable = [i for i, s in enumerate(steps) if "--global disable smile-mirror-desktop.service" in s]
    remove = [i for i, s in enumerate(steps) if s.startswith("rm -f") and "smile-mirror-desktop.service" in s]
    assert disable and remove and disable[0] < remove[0], steps


def test_console_blanking_is_switched_off_once(tmp_path: Path) -> None:
    root = tmp_path / "root"
    (root / "boot/firmware").mkdir(parents=True)
    cmdline = root / "boot/firmware/cmdline.txt"
    cmdline.write_text("console=tty1 root=PARTUUID=1234-02 rootwait\n")
    done = dry_run(tmp_path, PI4_CPUINFO, root=root)
    assert has(actions(done.stdout), "consoleblank=0", str(cmdline))
    cmdline.write_text("console=tty1 root=PARTUUID=1234-02 rootwait consoleblank=0\n")
    done = dry_run(tmp_path, PI4_CPUINFO, root=root)
    assert not has(actions(done.stdout), "consoleblank=0")


def test_desktop_install(tmp_path: Path) -> None:
    done = dry_run(tmp_path, PI5_CPUINFO, "--desktop")
    assert done.returncode == 0, done.stderr
    steps = actions(done.stdout)
    assert has(steps, "install -m 0644", "smile-mirror-desktop.service", "/etc/systemd/user/")
    assert has(steps, "smile-mirror-autostart.desktop", "/etc/xdg/autostart/smile-mirror.desktop")
    assert has(steps, "systemctl", "--global enable smile-mirror-desktop.service")
    assert not has(steps, "enable smile-mirror.service")


@pytest.mark.parametrize("purge", [False, True])
def test_uninstall(tmp_path: Path, purge: bool) -> None:
    root = tmp_path / "root"
    (root / "etc/systemd/system").mkdir(parents=True)
    (root / "etc/systemd/system/smile-mirror.service").write_text("")
    done = dry_run(tmp_path, PI4_CPUINFO, "--uninstall", *(["--purge"] if purge else []), root=root)
    assert done.returncode == 0, done.stderr
    steps = actions(done.stdout)
    assert has(steps, "systemctl", "disable smile-mirror.service")
    assert has(steps, "rm -f", "etc/systemd/system/smile-mirror.service")
    assert has(steps, "rm -rf", f"{root}/opt/smile-mirror")
    assert has(steps, "rm -rf", f"{root}/var/lib/smile-mirror") is purge, "photos are kept unless --purge"
    assert has(steps, "userdel smile-mirror") is purge
    assert (root / "etc/systemd/system/smile-mirror.service").exists(), "--dry-run removed a file"


def test_unknown_option_fails(tmp_path: Path) -> None:
    assert dry_run(tmp_path, PI4_CPUINFO, "--frobnicate").returncode != 0


def test_units_installer_and_locks_agree() -> None:
    """Paths and lock files named in one place exist in the others."""
    install = INSTALL.read_text()
    for lock in re.findall(r"requirements/[\w.-]+\.txt", install + LOCK_RULE.read_text()):
        assert (REPO / lock).is_file(), f"installer names {lock}, which does not exist"
    for name in re.findall(r"systemd/([\w.-]+\.(?:service|desktop))", install):
        assert (SYSTEMD / name).is_file(), name
    for unit in SYSTEM_UNITS + USER_UNITS:
        assert VENV_CLI in unit.read_text()
    assert MODEL_DIR in DESKTOP_UNIT.read_text()
    assert "MODEL_DIR=\"$STATE_DIR/models\"" in install and "STATE_DIR=/var/lib/smile-mirror" in install


PI4_FEATURES, PI5_FEATURES = (re.search(r"^Features\t: (.*)$", info, re.M).group(1) for info in (PI4_CPUINFO, PI5_CPUINFO))


@pytest.mark.parametrize("shell", ["sh", "bash"])
@pytest.mark.parametrize("arch, features, picamera2, lock", [
    ("aarch64", PI4_FEATURES, "yes", "requirements/mediapipe-1-numpy1.txt"),  # one lock for every Pi
    ("arm64", PI4_FEATURES, "no", "requirements/mediapipe-1.txt"),
    ("aarch64", PI5_FEATURES, "yes", "requirements/mediapipe-1-numpy1.txt"),
    ("arm64", PI5_FEATURES, "no", "requirements/mediapipe-1.txt"),
    ("aarch64", PI5_FEATURES.replace(" fphp", ""), "yes", "requirements/mediapipe-1-numpy1.txt"),
    ("aarch64", "", "no", "requirements/mediapipe-1.txt"),  # unreadable cpuinfo: LiteRT runs anyway
    ("x86_64", "", "no", "requirements/mediapipe-1.txt"),
    ("x86_64", "", "yes", "requirements/mediapipe-1-numpy1.txt"),
])
def test_the_lock_rule(shell: str, arch: str, features: str, picamera2: str, lock: str) -> None:
    """hw/lock-choice.sh, the one rule ./mirror and the installer source, under sh and bash."""
    done = subprocess.run([shell, "-euc", '. hw/lock-choice.sh; smile_mirror_lock "$@"', "rule", arch, features,
                           picamera2], capture_output=True, text=True, timeout=10, cwd=REPO)
    assert done.returncode == 0, done.stderr
    assert done.stdout == lock + "\n"
    assert (REPO / lock).is_file()


def test_the_lock_rule_lives_in_one_place() -> None:
    """./mirror and the installer source the rule and repeat none of it."""
    for script in (REPO / "mirror", INSTALL):
        code = "\n".join(line for line in script.read_text().splitlines() if not line.lstrip().startswith("#"))
        assert "lock-choice.sh" in code, script.name
        assert not re.search(r"\b(atomics|asimddp|fphp)\b", code), f"{script.name} repeats the CPU features"
        assert not re.search(r"LOCK=requirements/|lock=requirements/", code), f"{script.name} names a lock itself"


@pytest.mark.parametrize("lock", ["mediapipe-0.10.txt", "mediapipe-1-numpy1.txt"])
def test_pi_locks_keep_numpy_1_for_apt_simplejpeg(lock: str) -> None:
    pins = dict(line.split()[0].split("==") for line in (REPO / "requirements" / lock).read_text().splitlines()
                if "==" in line and not line.startswith("#"))
    assert pins["numpy"].startswith("1."), "apt's python3-simplejpeg is built against numpy 1.x"
    assert "opencv-python-headless" in pins and "opencv-contrib-python" not in pins
    assert "mediapipe" in pins and "pygame-ce" in pins


# ---- scripts ----------------------------------------------------------------------------------

@needs_shellcheck
@pytest.mark.parametrize("script", SHELL_FILES, ids=lambda p: p.name)
def test_shellcheck_clean(script: Path) -> None:
    done = subprocess.run(["shellcheck", "-x", "--severity=style", str(script)], capture_output=True,
                          text=True, timeout=60, cwd=REPO)
    assert done.returncode == 0, done.stdout + done.stderr


@pytest.mark.parametrize("script", SCRIPTS, ids=lambda p: p.name)
def test_scripts_are_strict_and_executable(script: Path) -> None:
    text = script.read_text()
    assert text.startswith("#!/usr/bin/env bash\n")
    assert "set -euo pipefail" in text
    assert os.access(script, os.X_OK), f"{script.name} must be executable (git keeps the bit)"


def test_smoke_reports_a_missing_install_as_fail(tmp_path: Path) -> None:
    env = {**os.environ, "SMILE_MIRROR_VENV": str(tmp_path / "none"), "PATH": "/usr/bin:/bin",
           "TMPDIR": str(tmp_path)}
    done = subprocess.run(["bash", str(REPO / "hw" / "smoke.sh")], capture_output=True, text=True,
                          timeout=60, env=env)
    assert done.returncode == 1
    assert re.search(r"installed\s+FAIL", done.stdout), done.stdout
    assert "logs of the failed checks: " + str(tmp_path) in done.stdout  # kept for the technician


def test_smoke_leaves_no_logs_when_every_check_passes(tmp_path: Path) -> None:
    """A clean run removes its log folder; only a failure keeps one (and names it)."""
    venv = fake_venv(tmp_path, 78.14)
    (venv / "bin" / "vcgencmd").write_text("#!/bin/sh\n[ \"$1\" = get_throttled ] && echo throttled=0x0 || echo temp=50.0\n")
    (venv / "bin" / "vcgencmd").chmod(0o755)
    logs = tmp_path / "tmp"
    logs.mkdir()
    env = {**os.environ, "SMILE_MIRROR_VENV": str(venv), "SMILE_MIRROR_CACHE": str(tmp_path),
           "PATH": f"{venv / 'bin'}:/usr/bin:/bin", "TMPDIR": str(logs), "DISPLAY": ":0"}
    done = subprocess.run(["bash", str(REPO / "hw" / "smoke.sh"), "--source", "picamera2"], capture_output=True,
                          text=True, timeout=120, env=env)  # the fake python answers the picamera2 probe
    rows = [line for line in done.stdout.splitlines() if re.match(r".{22} (PASS|FAIL|SKIP) ", line)]
    assert not [r for r in rows if " FAIL " in r], done.stdout + done.stderr
    assert done.returncode == 0 and list(logs.iterdir()) == [], done.stdout


def fake_venv(tmp_path: Path, score: float) -> Path:
    """A venv whose python passes every check and whose CLI scores the demo face `score`."""
    bin_ = tmp_path / "venv" / "bin"
    bin_.mkdir(parents=True)
    (bin_ / "python").write_text("#!/bin/sh\necho ok\n")
    (bin_ / "smile-mirror").write_text(
        "#!/bin/sh\nif [ \"$1\" = score ]; then\n"
        f"  echo '{{\"path\": \"'\"$2\"'\", \"face\": true, \"score\": {score}, \"kind\": \"posed\"}}'\n"
        "else\n  echo ok\nfi\n")
    for f in bin_.iterdir():
        f.chmod(0o755)
    return bin_.parent


def smoke(tmp_path: Path, score: float = 78.14, scale: str = "1") -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "SMILE_MIRROR_VENV": str(fake_venv(tmp_path, score)), "PATH": "/usr/bin:/bin",
           "SMOKE_TIMEOUT_SCALE": scale, "SMILE_MIRROR_CACHE": str(tmp_path), "TMPDIR": str(tmp_path)}
    return subprocess.run(["bash", str(REPO / "hw" / "smoke.sh"), "--source", "webcam"], capture_output=True,
                          text=True, timeout=120, env=env)


SMOKE_CHECKS = ("python imports", "model verifies", "model loads, scores", "app loop (demo)", "camera detected",
                "camera frames arrive", "display opens", "power and thermal", "service enabled")


@pytest.mark.parametrize("scale", ["1", "1.5", "0.5"])
def test_smoke_runs_every_check_with_any_timeout_scale(tmp_path: Path, scale: str) -> None:
    done = smoke(tmp_path, scale=scale)
    rows = [line for line in done.stdout.splitlines() if re.match(r".{22} (PASS|FAIL|SKIP) ", line)]
    assert [row[:22].rstrip() for row in rows] == list(SMOKE_CHECKS), done.stdout + done.stderr
    assert re.search(r"python imports\s+PASS", done.stdout)


@pytest.mark.parametrize("scale", ["abc", "1,5", "0", "-2", "1e3"])
def test_smoke_refuses_a_timeout_scale_that_is_not_a_number(tmp_path: Path, scale: str) -> None:
    done = smoke(tmp_path, scale=scale)
    assert done.returncode == 2 and "SMOKE_TIMEOUT_SCALE" in done.stderr, done.stdout + done.stderr


@pytest.mark.parametrize("score, result", [(78.14, "PASS"), (50, "PASS"), (12.5, "FAIL")])
def test_smoke_wants_the_demo_face_scored_as_a_smile(tmp_path: Path, score: float, result: str) -> None:
    done = smoke(tmp_path, score=score)
    assert re.search(rf"model loads, scores\s+{result}", done.stdout), done.stdout
    if result == "FAIL":
        assert "under 50" in done.stdout and done.returncode == 1


@pytest.mark.skipif(shutil.which("desktop-file-validate") is None,
                    reason="desktop-file-validate not installed (Debian package: desktop-file-utils)")
def test_autostart_entry_is_valid() -> None:
    entry = SYSTEMD / "smile-mirror-autostart.desktop"
    done = subprocess.run(["desktop-file-validate", str(entry)], capture_output=True, text=True, timeout=30)
    assert done.returncode == 0 and not done.stdout.strip(), done.stdout + done.stderr
    assert "systemctl --user start --no-block smile-mirror-desktop.service" in entry.read_text()


# ---- the exporters' network drop-in ------------------------------------------------------------

EXPORTER_CONFIGS = {
    "mqtt": '[mqtt]\nenabled = true\nhost = "192.168.1.10"\n',
    "metrics": '[metrics]\nenabled = true\nport = 9100\n',
    "both": '[metrics]\nenabled = true\nallow_from = "10.0.0.5"\n[mqtt]\nenabled = true\nhost = "10.0.0.2"\n',
}


def write_dropin(tmp_path: Path, config_text: str, desktop: bool = False) -> subprocess.CompletedProcess[str]:
    """hw/install.sh's network_dropin step under a fake root, with the real CLI."""
    root = tmp_path / "root"
    cli = root / "opt/smile-mirror/venv/bin/smile-mirror"
    cli.parent.mkdir(parents=True, exist_ok=True)
    cli.write_text(f"#!/bin/sh\ncd {REPO} && exec {sys.executable} -m kiosk.cli \"$@\"\n")
    cli.chmod(0o755)
    conf = root / "etc/smile-mirror/config.toml"
    conf.parent.mkdir(parents=True, exist_ok=True)
    conf.write_text(config_text)
    env = {**os.environ, "SMILE_MIRROR_ROOT": str(root)}
    step = f"source {INSTALL}; DESKTOP={int(desktop)}; network_dropin"
    return subprocess.run(["bash", "-c", step], capture_output=True, text=True,
                          timeout=60, env=env)


@pytest.mark.parametrize("name", sorted(EXPORTER_CONFIGS))
def test_exporter_dropin_admits_exactly_the_broker_and_the_metrics_port(tmp_path: Path, name: str) -> None:
    done = write_dropin(tmp_path, EXPORTER_CONFIGS[name])
    assert done.returncode == 0, done.stdout + done.stderr
    dropin = tmp_path / "root/etc/systemd/system/smile-mirror.service.d/network.conf"
    d = directives(dropin)
    assert d["PrivateNetwork"] == ["no"] and d["IPAddressDeny"] == ["any"]
    allowed = d["IPAddressAllow"][0].split()
    want = {"mqtt": ["192.168.1.10/32"], "metrics": ["127.0.0.0/8", "::1/128"],
            "both": ["10.0.0.2/32", "10.0.0.5/32"]}[name]
    assert allowed == want
    assert d["SocketBindDeny"] == ["any"]
    assert d.get("SocketBindAllow", []) == {"mqtt": [], "metrics": ["tcp:9100"], "both": ["tcp:9723"]}[name]
    assert "#" in dropin.read_text().splitlines()[0] and "Relaxation" in dropin.read_text()
    if offline_security_supported():
        assert_networked_unit_at_most_1_5(tmp_path / "root")


def assert_networked_unit_at_most_1_5(root: Path) -> None:
    """The console unit under `root` with the drop-ins there, as systemd reads them: they were
    read (the network is open) and `systemd-analyze security` still rates it <= 1.5."""
    shutil.copy(CONSOLE_UNIT, root / "etc/systemd/system/smile-mirror.service")
    scored = subprocess.run(["systemd-analyze", "security", "--offline=true", f"--root={root}", "--no-pager",
                             "smile-mirror.service"], capture_output=True, text=True, timeout=60)
    found = re.search(r"Overall exposure level for \S+: ([0-9.]+)", scored.stdout)
    assert found, scored.stdout + scored.stderr
    assert "Service has access to the host's network" in scored.stdout, "the drop-ins were not read"
    assert float(found.group(1)) <= 1.5, scored.stdout


def test_exporters_off_means_no_dropin_and_an_old_one_goes(tmp_path: Path) -> None:
    assert write_dropin(tmp_path, EXPORTER_CONFIGS["mqtt"]).returncode == 0
    dropin = tmp_path / "root/etc/systemd/system/smile-mirror.service.d/network.conf"
    assert dropin.exists()
    done = write_dropin(tmp_path, "[mqtt]\nenabled = false\n")
    assert done.returncode == 0, done.stderr
    assert not dropin.exists()


def test_a_broker_name_is_refused_with_a_reason(tmp_path: Path) -> None:
    done = write_dropin(tmp_path, '[mqtt]\nenabled = true\nhost = "broker.local"\n')
    assert done.returncode != 0
    assert "must be an IP address" in done.stderr and "drop-in" in done.stderr


def test_dry_run_names_the_dropin_step(tmp_path: Path) -> None:
    """The printed step must run as printed (hw/emulate-pi.sh runs it): no redirect into a
    folder that only the real run creates."""
    out = dry_run(tmp_path, PI5_CPUINFO).stdout
    step = [line for line in actions(out) if "config network" in line]
    assert step and ">" not in step[0], step
    assert "smile-mirror.service.d/network.conf" in out


def test_desktop_dropin_only_adds_the_ip_families(tmp_path: Path) -> None:
    root = tmp_path / "root"
    done = write_dropin(tmp_path, EXPORTER_CONFIGS["mqtt"], desktop=True)
    assert done.returncode == 0, done.stdout + done.stderr
    d = directives(root / "etc/systemd/user/smile-mirror-desktop.service.d/network.conf")
    assert d == {"RestrictAddressFamilies": ["AF_UNIX AF_NETLINK AF_INET AF_INET6"]}
    assert not (root / "etc/systemd/system/smile-mirror.service.d").exists()
