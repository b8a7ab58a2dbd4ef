"""Whether this CPU can run mediapipe 1.x: every 1.x aarch64 wheel is built for ARMv8.2.

`libmediapipe.so` in 1.x holds thousands of LSE-atomic (`ldadd`, `cas`) instructions, so on an
ARMv8.0 core (a Pi 4's Cortex-A72) the moment mediapipe loads it (its first image or model) the
process dies with SIGILL, which no Python code can catch. Every Pi installs the same lock and runs the LiteRT backend;
this check, made before anything imports mediapipe, turns that crash into a sentence and keeps
`model.backend = "auto"` from ever choosing mediapipe there. The rule is hw/lock-choice.sh's.
"""

from __future__ import annotations

import importlib.metadata
import platform
from pathlib import Path

ARMV82 = ("atomics", "asimddp", "fphp")  # the /proc/cpuinfo Features mediapipe 1.x needs
CPUINFO = Path("/proc/cpuinfo")


def features(cpuinfo: Path = CPUINFO) -> set[str]:
    """The words of the first "Features" line of /proc/cpuinfo (empty where there is none)."""
    try:
        for line in cpuinfo.read_text(errors="replace").splitlines():
            if line.lower().startswith("features"):
                return set(line.split(":", 1)[1].split())
    except OSError:
        pass
    return set()


def mediapipe_version() -> str | None:
    """The installed mediapipe's version, read from its metadata (importing it could crash)."""
    try:
        return importlib.metadata.version("mediapipe")
    except importlib.metadata.PackageNotFoundError:
        return None


def mediapipe_blocker(machine: str | None = None, cpuinfo: Path = CPUINFO, version: str | None = None) -> str | None:
    """Why mediapipe must not be imported here (None: it may). Only aarch64 with mediapipe >= 1
    and a CPU without ARMv8.2's features is refused."""
    machine = (machine or platform.machine()).lower()
    if machine not in ("aarch64", "arm64"):
        return None
    version = version or mediapipe_version()
    if version is None or int(version.split(".")[0]) < 1:
        return None
    missing = [f for f in ARMV82 if f not in features(cpuinfo)]
    if not missing:
        return None
    return (f"mediapipe {version} needs an ARMv8.2 CPU (a Pi 5) and this one lacks {', '.join(missing)} "
            f"(a Pi 4's Cortex-A72): loading it would kill the process. Use model.backend = \"litert\" "
            f"(the default, \"auto\", does), or install requirements/mediapipe-0.10.txt for mediapipe 0.10.18.")
