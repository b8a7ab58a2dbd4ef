"""core/armcpu.py: mediapipe 1.x is refused, before any import, on an ARM CPU without ARMv8.2."""

from __future__ import annotations

from pathlib import Path

import pytest

from core.armcpu import mediapipe_blocker
from core.errors import ModelError

PI4 = "processor\t: 0\nBogoMIPS\t: 108.00\nFeatures\t: fp asimd evtstrm crc32 cpuid\nCPU part\t: 0xd08\n"
PI5 = ("processor\t: 0\nFeatures\t: fp asimd evtstrm aes pmull sha1 sha2 crc32 atomics fphp asimdhp cpuid "
       "asimdrdm lrcpc dcpop asimddp\n")


@pytest.mark.parametrize("machine, cpuinfo, version, refused", [
    ("aarch64", PI4, "1.2.3", True),
    ("aarch64", PI5, "1.2.3", False),
    ("aarch64", PI4, "0.10.18", False),   # 0.10.18 runs on a Pi 4
    ("aarch64", "", "1.2.3", True),        # unreadable features: the safe answer
    ("x86_64", PI4, "1.2.3", False),
])
def test_the_rule(tmp_path: Path, machine: str, cpuinfo: str, version: str, refused: bool) -> None:
    info = tmp_path / "cpuinfo"
    info.write_text(cpuinfo)
    why = mediapipe_blocker(machine, info, version)
    assert bool(why) == refused
    if refused:
        assert "ARMv8.2" in why and "litert" in why and ("asimddp" in why or "atomics" in why)


def test_the_landmarker_refuses_with_the_sentence_and_auto_skips_it(monkeypatch, model_path: Path) -> None:
    """On such a CPU the mediapipe backend is a clear start error and `auto` never picks it."""
    import core.armcpu
    from core import backends
    from core.landmarker import MediapipeLandmarker

    monkeypatch.setattr(core.armcpu, "mediapipe_blocker", lambda *a, **k: "mediapipe 1.2.3 needs an ARMv8.2 CPU")
    with pytest.raises(ModelError, match="ARMv8.2"):
        MediapipeLandmarker(model_path)
    assert not backends.available("mediapipe")
    monkeypatch.setattr(backends, "AUTO_ORDER", ("mediapipe", "litert"))
    assert backends.resolve("auto") == "litert"
