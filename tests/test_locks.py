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
