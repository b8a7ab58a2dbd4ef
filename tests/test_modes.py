"""The mode seam: every registered mode is reachable by its config name and speaks the protocol."""

from __future__ import annotations

import dataclasses

import pytest

from core.config import RunConfig
from core.errors import ConfigError
from kiosk.modes import REGISTRY, mode_class
from kiosk.modes.base import Mode

PROTOCOL = [name for name in dir(Mode) if not name.startswith("_") and name != "name"]


def test_the_registry_and_the_config_name_the_same_modes() -> None:
    choices = next(f for f in dataclasses.fields(RunConfig) if f.name == "mode").metadata["choices"]
    assert set(REGISTRY) == set(choices)


@pytest.mark.parametrize("name", sorted(REGISTRY))
def test_each_mode_implements_the_protocol(name: str) -> None:
    cls = mode_class(name)
    assert cls.name == name
    missing = [m for m in PROTOCOL if not callable(getattr(cls, m, None))]
    assert not missing, f"{name} lacks {missing}"


def test_an_unknown_mode_is_a_sentence() -> None:
    with pytest.raises(ConfigError, match="choose one of lobby"):
        mode_class("disco")
