"""Supply chain: every pin in every lock carries a SHA-256, and every installer uses pip's
hash-checking mode, so pip (often as root) installs only the files the locks name.

That the hashes are right is checked by installing: `./mirror` builds each test venv with
`--require-hashes` (CI does both mediapipe generations), and hw/emulate-pi.sh downloads the
aarch64 files of the Pi locks the same way.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
LOCKS = sorted((REPO / "requirements").glob("*.txt"))


def requirements(lock: Path) -> list[str]:
    """The lock's requirements with their continuation lines joined, comments dropped."""
    text = re.sub(r"\\\n", " ", lock.read_text())
    return [line.split("#")[0].strip() for line in text.splitlines() if line.split("#")[0].strip()]


@pytest.mark.parametrize("lock", LOCKS, ids=lambda p: p.name)
def test_every_pin_has_a_hash(lock: Path) -> None:
    reqs = requirements(lock)
    assert reqs, f"{lock.name} pins nothing"
    for req in reqs:
        assert re.match(r"^[A-Za-z0-9][A-Za-z0-9._-]*==\S+ ", req), f"{lock.name}: not an exact pin: {req}"
        hashes = re.findall(r"--hash=sha256:([0-9a-f]+)", req)
        assert hashes and all(len(h) == 64 for h in hashes), f"{lock.name}: {req.split()[0]} has no SHA-256"


@pytest.mark.parametrize("lock", [p for p in LOCKS if p.name.startswith("mediapipe-")], ids=lambda p: p.name)
def test_binary_pins_have_a_file_for_each_architecture(lock: Path) -> None:
    """A package with compiled code has one wheel per CPU at least (x86-64 and the Pi's aarch64)."""
    for req in requirements(lock):
        name = req.split("==")[0].lower()
        if name in ("mediapipe", "numpy", "opencv-python-headless", "pygame-ce", "matplotlib", "contourpy",
                    "kiwisolver", "pillow"):
            assert len(re.findall("--hash=", req)) >= 2, f"{lock.name}: {name} has one file hashed, not one per CPU"


@pytest.mark.parametrize("script", ["mirror", "hw/install.sh", ".ci/run"])
def test_every_installer_requires_hashes(script: str) -> None:
    text = (REPO / script).read_text()
    installs = [line for line in text.splitlines() if re.search(r"pip\b.*-r\b|pip -r|pip\(\) ", line)
                and "download" not in line and not line.lstrip().startswith("#")]
    lock_installs = [line for line in installs if "-r " in line]
    assert lock_installs, f"{script} installs no lock?"
    for line in lock_installs:
        assert "--require-hashes" in line, f"{script}: {line.strip()}"


@pytest.mark.parametrize("script", ["mirror", "hw/install.sh"])
def test_every_installer_builds_the_project_with_the_locked_setuptools(script: str) -> None:
    """pip's build isolation would download setuptools from the index, unchecked (as root, in the
    installer): the project is built in the venv, after the hashed setuptools lock."""
    lines = [line for line in (REPO / script).read_text().splitlines() if not line.lstrip().startswith("#")]
    project = re.compile(r"pip\b.*(-e \.|\"\$SRC\")\s*$")
    builds = [i for i, line in enumerate(lines) if project.search(line.split("#")[0].rstrip())]
    backend = [i for i, line in enumerate(lines)
               if "--require-hashes" in line and "requirements/setuptools.txt" in line]
    assert builds and backend, f"{script}: no project build or no setuptools lock install"
    for i in builds:
        assert "--no-build-isolation" in lines[i] and min(backend) < i, f"{script}: {lines[i].strip()}"


def test_the_hash_script_keeps_the_lock_readable(tmp_path: Path) -> None:
    """requirements/hash_locks.py rewrites a lock with hashes and keeps comments and order."""
    import importlib.util

    spec = importlib.util.spec_from_file_location("hash_locks", REPO / "requirements" / "hash_locks.py")
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)  # type: ignore[union-attr]
    lock = tmp_path / "x.txt"
    lock.write_text("# why\nfoo==1.0 \\\n    --hash=sha256:" + "0" * 64 + "\nbar_baz==2\n")
    out = mod.rewrite(lock, {"foo": {"a" * 64}, "bar-baz": {"c" * 64, "b" * 64}})
    assert out == ("# why\nfoo==1.0 \\\n    --hash=sha256:" + "a" * 64 + "\nbar_baz==2 \\\n    --hash=sha256:" + "b" * 64
                   + " \\\n    --hash=sha256:" + "c" * 64 + "\n")
    assert mod.pins(lock) == ["foo==1.0", "bar_baz==2"]


def test_the_project_builds_offline_with_the_locked_setuptools(tmp_path: Path) -> None:
    """The installers build the project with --no-build-isolation after installing
    requirements/setuptools.txt (hashed), so pip never fetches a build backend unchecked: with
    that lock in a fresh venv the project builds and installs with no package index at all."""
    import shutil
    import subprocess
    import sys
    import tomllib

    pin = requirements(REPO / "requirements" / "setuptools.txt")[0].split()[0]
    wanted = tomllib.loads((REPO / "pyproject.toml").read_text())["build-system"]["requires"]
    assert [w.split(">=")[0] for w in wanted] == ["setuptools"], "the build needs only setuptools"
    venv = tmp_path / "venv"
    subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True)
    py = str(venv / "bin" / "python")
    pip = [py, "-m", "pip", "install", "--quiet", "--disable-pip-version-check", "--no-deps"]
    subprocess.run(pip + ["--require-hashes", "-r", str(REPO / "requirements" / "setuptools.txt")], check=True)
    src = tmp_path / "src"  # a copy: the build writes its egg-info beside the sources
    shutil.copytree(REPO, src, ignore=shutil.ignore_patterns(".venv", ".git", "*.egg-info", "__pycache__",
                                                             ".pytest_cache"))
    done = subprocess.run(pip + ["--no-index", "--no-build-isolation", str(src)], capture_output=True, text=True)
    assert done.returncode == 0, done.stdout + done.stderr
    shown = subprocess.run([py, "-m", "pip", "list", "--format=freeze"], capture_output=True, text=True,
                           check=True).stdout
    assert pin in shown.split() and "smile-mirror==0.1.0" in shown.split(), shown
