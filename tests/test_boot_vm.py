"""hw/boot-vm.sh: the real boot of a Debian amd64 PC under KVM, and the screen judge it uses.

`test_real_boot` builds (or reuses) the disk image and boots it under KVM: minutes, root, and a
KVM that can run Debian's kernel. It skips with the reason where that is missing, and with
SMILE_MIRROR_BOOT_VM=0 (.ci/run sets it for its two suite runs and runs this test once itself,
failing when /dev/kvm answers but the boot did not run). The other tests are quick: the
command-line contract, and `mirror_on_screen` on real pictures (the demo face filling the
screen, as a patch, black, a text console).
"""

from __future__ import annotations

import importlib.util
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import cv2
import numpy as np
import pytest

REPO = Path(__file__).resolve().parents[1]
SCRIPT = REPO / "hw" / "boot-vm.sh"
INSTALL = REPO / "hw" / "install.sh"


def _driver():
    spec = importlib.util.spec_from_file_location("boot_vm", REPO / "hw" / "boot_vm.py")
    module = importlib.util.module_from_spec(spec)
    sys.modules["boot_vm"] = module
    spec.loader.exec_module(module)
    return module


bv = _driver()


def run(*args: str, env: dict[str, str] | None = None, timeout: float = 60) -> subprocess.CompletedProcess[str]:
    return subprocess.run(["bash", str(SCRIPT), *args], capture_output=True, text=True, timeout=timeout,
                          env={**os.environ, **(env or {})})


# ---- the screen judge, on real pictures -------------------------------------------------------

def ppm(tmp_path: Path, rgb: np.ndarray, name: str = "s.ppm") -> "bv.Picture":
    path = tmp_path / name
    h, w = rgb.shape[:2]
    path.write_bytes(b"P6\n%d %d\n255\n" % (w, h) + np.ascontiguousarray(rgb, np.uint8).tobytes())
    return bv.read_ppm(path)


@pytest.fixture(scope="module")
def face() -> np.ndarray:
    from core import assets

    bgr = cv2.imread(str(assets.ensure(assets.ASTRONAUT, None)))
    return cv2.cvtColor(bgr, cv2.COLOR_BGR2RGB)


def test_the_face_filling_the_screen_is_the_mirror(tmp_path: Path, face: np.ndarray) -> None:
    ok, detail = bv.mirror_on_screen(ppm(tmp_path, cv2.resize(face, bv.SCREEN)))
    assert ok, detail


def test_a_patch_black_or_text_console_is_not(tmp_path: Path, face: np.ndarray) -> None:
    w, h = bv.SCREEN
    black = np.zeros((h, w, 3), np.uint8)
    assert not bv.mirror_on_screen(ppm(tmp_path, black))[0]
    patch = black.copy()
    patch[:480, :640] = cv2.resize(face, (640, 480))
    assert not bv.mirror_on_screen(ppm(tmp_path, patch))[0], "a 640x480 corner is not the screen"
    console = black.copy()
    for row in range(0, h, 16):  # grey text lines on black, as fbcon draws them
        cv2.putText(console, "smile-vm login: [  OK  ] Started smile-mirror.service " * 3, (0, row + 12),
                    cv2.FONT_HERSHEY_PLAIN, 1.0, (170, 170, 170), 1)
    assert not bv.mirror_on_screen(ppm(tmp_path, console))[0], "a text console is not the mirror"
    small = ppm(tmp_path, cv2.resize(face, (1280, 720)))
    assert not bv.mirror_on_screen(small)[0], "the screen must be 1920x1080"


def test_changed_share_sees_motion_and_not_sameness(tmp_path: Path, face: np.ndarray) -> None:
    a = cv2.resize(face, bv.SCREEN)
    moved = np.roll(a, 40, axis=1)
    pa, pb = ppm(tmp_path, a, "a.ppm"), ppm(tmp_path, moved, "b.ppm")
    assert bv.changed_share(pa, pa) == 0.0
    assert bv.changed_share(pa, pb) > 0.2


def test_read_ppm_refuses_a_short_file(tmp_path: Path) -> None:
    path = tmp_path / "short.ppm"
    path.write_bytes(b"P6\n# comment\n4 4\n255\n" + b"\0" * 10)
    with pytest.raises(ValueError, match="expected 48"):
        bv.read_ppm(path)


@pytest.mark.parametrize("text, seconds", [("30s", 30.0), ("5s", 5.0), ("1min 30s", 90.0),
                                           ("500ms", 0.5), ("0", 0.0)])
def test_parse_duration(text: str, seconds: float) -> None:
    assert bv.parse_duration(text) == seconds


# ---- the command line -----------------------------------------------------------------------

def test_dry_run_prints_the_plan_and_changes_nothing(tmp_path: Path) -> None:
    cache = tmp_path / "cache"
    done = run("--dry-run", env={"EMULATE_PI_CACHE": str(cache)})
    assert done.returncode == 0, done.stderr
    assert not cache.exists(), "a dry run must not create the cache"
    out = done.stdout
    assert re.search(r"^base\s+\S+/vm-base-[0-9a-f]{16}\.tar \(missing\).*linux-image-amd64.*systemd", out, re.M)
    assert re.search(r"^wheels\s+\S+/vm-wheels-[0-9a-f]{16} \(missing\).*requirements/mediapipe-1\.txt", out, re.M)
    assert "-enable-kvm" in out and "virtio-vga" in out and "no network device" in out
    for check in bv.CHECKS:
        assert check in out


def test_the_image_has_the_installers_pc_packages() -> None:
    """The base holds what the installer's apt step installs on a PC, so that step finds it."""
    install = INSTALL.read_text()
    pc = re.search(r"PC_APT_PACKAGES=\((.*?)\n\)", install, re.S).group(1)
    wanted = {w for line in pc.splitlines() for w in line.split("#")[0].split()}
    plan = run("--dry-run").stdout
    base = re.search(r"^base .*?: Debian bookworm amd64: (.*)$", plan, re.M).group(1).split()
    assert wanted <= set(base), wanted - set(base)


def test_unknown_option_is_a_usage_error() -> None:
    done = run("--bogus")
    assert done.returncode == 2 and "unknown option: --bogus" in done.stderr


def test_kvm_check_answers_with_a_reason() -> None:
    done = run("--kvm-check")
    assert done.returncode in (0, 3), done.stderr
    assert ("KVM_GET_API_VERSION" in done.stdout) or ("/dev/kvm" in done.stdout), done.stdout


def test_script_is_strict_and_executable() -> None:
    text = SCRIPT.read_text()
    assert text.startswith("#!/usr/bin/env bash\n") and "set -euo pipefail" in text
    assert os.access(SCRIPT, os.X_OK)


# ---- the real thing ---------------------------------------------------------------------------

def test_real_boot() -> None:
    """Boot the installed Debian PC under KVM and run every check (hw/boot-vm.sh)."""
    if os.environ.get("SMILE_MIRROR_BOOT_VM") == "0":
        pytest.skip("SMILE_MIRROR_BOOT_VM=0 (.ci/run runs the boot once by itself)")
    if os.geteuid() != 0:
        pytest.skip("needs root (mmdebstrap, chroot, mkfs): sudo ./mirror test tests/test_boot_vm.py")
    check = run("--kvm-check")
    if check.returncode == 3:
        pytest.skip(check.stdout.strip() or check.stderr.strip())
    done = run(timeout=1800)
    if done.returncode == 3:
        pytest.skip(done.stderr.strip().splitlines()[-1])
    assert done.returncode == 0, done.stdout[-6000:] + done.stderr[-3000:]
    rows = [line for line in done.stdout.splitlines() if re.match(r".{22} (PASS|FAIL) ", line)]
    assert {row[:22].rstrip() for row in rows} >= set(bv.CHECKS), done.stdout
