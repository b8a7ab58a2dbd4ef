"""hw/emulate-pi.sh, the emulated Pi install: its command-line contract only.

The emulation itself (QEMU, minutes per Pi) runs from .ci/run, not here. These tests check that
--help and --dry-run work without root and change nothing, and that the lock the script expects
for each emulated CPU is the one the real installer picks from that CPU's /proc/cpuinfo.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
SCRIPT = REPO / "hw" / "emulate-pi.sh"
INSTALL = REPO / "hw" / "install.sh"


def run(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(["bash", str(SCRIPT), *args], capture_output=True, text=True, timeout=60,
                          env={**os.environ, **(env or {})})


def test_help() -> None:
    done = run("--help")
    assert done.returncode == 0, done.stderr
    for word in ("cortex-a72", "cortex-a76", "--dry-run", "EMULATE_PI_CACHE"):
        assert word in done.stdout


def test_unknown_option_is_a_usage_error() -> None:
    done = run("--bogus")
    assert done.returncode == 2
    assert "unknown option: --bogus" in done.stderr
    assert run("--cpu", "cortex-a53").returncode == 2


def test_dry_run_prints_the_plan_and_changes_nothing(tmp_path: Path) -> None:
    cache = tmp_path / "cache"
    done = run("--dry-run", env={"EMULATE_PI_CACHE": str(cache)})
    assert done.returncode == 0, done.stderr
    out = done.stdout
    assert not cache.exists(), "a dry run must not create the cache"
    assert re.search(r"^root\s+\S+/root-[0-9a-f]{16} \(missing\).*python3\.11.*libegl1 libgles2", out, re.M)
    assert re.search(r"^wheels\s+\S+/wheels-[0-9a-f]{16} \(missing\)", out, re.M)
    # The wheel folder holds every lock the installer can choose for the emulated CPUs.
    wheels = re.search(r"^wheels .*$", out, re.M).group(0)
    expected = set(re.findall(r"expected lock (\S+)$", out, re.M))
    assert expected == {"requirements/mediapipe-1-numpy1.txt"}, "one lock for every Pi"
    assert all(lock in wheels for lock in expected)
    assert "must die with SIGILL" in out and "refused with a sentence" in out
    one = run("--dry-run", "--cpu", "cortex-a76", env={"EMULATE_PI_CACHE": str(cache)}).stdout
    assert "cortex-a76" in one and "cortex-a72" not in one and "SIGILL" not in one


def test_expected_locks_are_the_installers_choice(tmp_path: Path) -> None:
    """The emulated cpuinfo of each CPU, given to the real installer, yields the expected lock."""
    plan = run("--dry-run").stdout
    cpus = re.findall(r"^cpu\s+(\S+) \((Pi \d)\): Features: ([^;]+); expected lock (\S+)$", plan, re.M)
    assert {c[0] for c in cpus} == {"cortex-a72", "cortex-a76"}
    for cpu, board, features, expected in cpus:
        cpuinfo = tmp_path / f"{cpu}.cpuinfo"
        cpuinfo.write_text(f"processor\t: 0\nFeatures\t: {features}\n")
        env = {"CPUINFO": str(cpuinfo), "SMILE_MIRROR_ARCH": "arm64",
               "SMILE_MIRROR_ROOT": str(tmp_path / "root"), "DT_MODEL": str(tmp_path / "none")}
        done = subprocess.run(["bash", str(INSTALL), "--dry-run"], capture_output=True, text=True,
                              timeout=60, env={**os.environ, **env})
        assert done.returncode == 0, done.stderr
        assert f"# lock: {expected}\n" in done.stdout, (cpu, board, done.stdout[:400])


def test_script_is_strict_and_executable() -> None:
    text = SCRIPT.read_text()
    assert text.startswith("#!/usr/bin/env bash\n")
    assert "set -euo pipefail" in text
    assert os.access(SCRIPT, os.X_OK)


@pytest.mark.skipif(shutil.which("shellcheck") is None,
                    reason="shellcheck not installed (Debian package: shellcheck)")
def test_shellcheck_clean() -> None:
    done = subprocess.run(["shellcheck", "-x", "--severity=style", str(SCRIPT)], capture_output=True,
                          text=True, timeout=60, cwd=REPO)
    assert done.returncode == 0, done.stdout + done.stderr
