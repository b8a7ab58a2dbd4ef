"""Write a `--hash=sha256:...` line under every pin of the lock files, for pip's hash-checking mode.

    python3 requirements/hash_locks.py [LOCK ...]     (default: every requirements/*.txt)

Why: the installer runs pip as root against the package index; with `--require-hashes` pip
installs only files whose SHA-256 the lock names, so a replaced or forged upload is refused.

Which files: the ones pip itself would pick for CPython 3.11 on x86-64 and on aarch64 (the Pi
installs the same locks), each for old and new glibc (manylinux2014, manylinux_2_28 as
hw/emulate-pi.sh downloads, and Bookworm's glibc 2.36). The hashes come from pip's own
`install --dry-run --report` (the index publishes each file's SHA-256, and pip reads wheel
metadata without downloading the wheel), so a rerun takes seconds and needs only the index.
Rerun it after changing a pin; comments and order in the lock are kept.
"""

from __future__ import annotations

import json
import re
import subprocess
import sys
import tempfile
from pathlib import Path

HERE = Path(__file__).resolve().parent
INDEX = "https://pypi.org/simple"
ARCHES = ("x86_64", "aarch64")
PIN = re.compile(r"^([A-Za-z0-9][A-Za-z0-9._-]*)==([^\s;\\]+)")


def platform_sets(arch: str) -> list[list[str]]:
    """Platform tag lists, newest first within each, as a machine with that glibc would rank them."""
    legacy = ["manylinux2014_" + arch] + (["manylinux2010_x86_64", "manylinux1_x86_64"] if arch == "x86_64" else [])
    upto = lambda glibc: [f"manylinux_2_{g}_{arch}" for g in range(glibc, 16, -1)] + legacy  # noqa: E731
    return [legacy, [f"manylinux_2_28_{arch}", f"manylinux2014_{arch}"], upto(28), upto(36)]


def pins(lock: Path) -> list[str]:
    return [f"{m.group(1)}=={m.group(2)}" for line in lock.read_text().splitlines() if (m := PIN.match(line))]


def chosen_hashes(requirements: list[str], platforms: list[str]) -> dict[str, str]:
    """{canonical name: sha256} of the file pip picks for each requirement on these platforms."""
    with tempfile.TemporaryDirectory() as tmp:
        req = Path(tmp, "req.txt")
        req.write_text("\n".join(requirements) + "\n")
        report = Path(tmp, "report.json")
        cmd = [sys.executable, "-m", "pip", "--isolated", "--disable-pip-version-check", "install", "--quiet",
               "--dry-run", "--ignore-installed", "--no-deps", "--only-binary=:all:", "--index-url", INDEX,
               "--target", str(Path(tmp, "t")), "--python-version", "3.11", "--implementation", "cp",
               "--abi", "cp311", "--report", str(report), "-r", str(req)]
        for p in platforms:
            cmd += ["--platform", p]
        done = subprocess.run(cmd, capture_output=True, text=True)
        if done.returncode != 0:
            if len(requirements) == 1:
                return {}  # no file of this release fits these platforms (an older glibc, say)
            out = {}
            for one in requirements:  # find which ones fit, one at a time
                out.update(chosen_hashes([one], platforms))
            return out
        out = {}
        for item in json.loads(report.read_text())["install"]:
            name = canonical(item["metadata"]["name"])
            out[name] = item["download_info"]["archive_info"]["hashes"]["sha256"]
        return out


def canonical(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


def rewrite(lock: Path, hashes: dict[str, set[str]]) -> str:
    """The lock with each pin followed by its sorted hash lines (old hash lines dropped)."""
    out: list[str] = []
    for line in lock.read_text().splitlines():
        if line.lstrip().startswith("--hash="):
            continue
        m = PIN.match(line)
        if not m:
            out.append(line)
            continue
        found = sorted(hashes.get(canonical(m.group(1)), ()))
        if not found:
            raise SystemExit(f"{lock.name}: no hash found for {m.group(0)}")
        out.append(f"{m.group(1)}=={m.group(2)} \\")
        out += [f"    --hash=sha256:{h}" + (" \\" if i < len(found) - 1 else "") for i, h in enumerate(found)]
    return "\n".join(out) + "\n"


def main(argv: list[str]) -> int:
    locks = [Path(a) for a in argv] or sorted(HERE.glob("*.txt"))
    for lock in locks:
        reqs = pins(lock)
        hashes: dict[str, set[str]] = {}
        for arch in ARCHES:
            seen: set[str] = set()
            for platforms in platform_sets(arch):
                for name, digest in chosen_hashes(reqs, platforms).items():
                    hashes.setdefault(name, set()).add(digest)
                    seen.add(name)
            missing = [r for r in reqs if canonical(r.partition("==")[0]) not in seen]
            if missing:
                raise SystemExit(f"{lock.name}: no {arch} file for {', '.join(missing)}")
        lock.write_text(rewrite(lock, hashes))
        print(f"{lock}: {len(reqs)} pins, {sum(len(v) for v in hashes.values())} hashes")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
