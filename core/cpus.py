"""Pinning a measurement to chosen CPUs (`bench --cpus 0`, `model tune --cpus 0`).

A kiosk's inference budget is one core of a Pi, so a figure measured across all the cores of a
laptop says little about it; pinning the process before it starts any thread puts every
thread (the model's own included) on the CPUs named.
"""

from __future__ import annotations

import os

from core.errors import ConfigError


def parse_cpus(text: str) -> set[int]:
    """'0', '0-1' or '0,2-3' -> the CPU numbers; ConfigError for anything else."""
    cpus: set[int] = set()
    for part in text.split(","):
        lo, sep, hi = part.strip().partition("-")
        hi = hi if sep else lo
        if not (lo.isdigit() and hi.isdigit()) or int(hi) < int(lo):
            raise ConfigError(f"--cpus {text!r} is not a CPU list such as 0, 0-1 or 0,2-3")
        cpus.update(range(int(lo), int(hi) + 1))
    return cpus


def pin_cpus(text: str) -> set[int]:
    """Pin this process (and every thread it starts from now on) to the CPUs in `text`."""
    cpus = parse_cpus(text)
    available = os.sched_getaffinity(0)
    if not cpus <= available:
        raise ConfigError(f"--cpus {text}: this machine offers CPUs {', '.join(map(str, sorted(available)))}")
    os.sched_setaffinity(0, cpus)
    return cpus
