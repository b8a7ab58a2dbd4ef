"""Kiosk modes by name: `run.mode` picks one from this table.

Each entry names the module and class, imported only when chosen (a lobby kiosk never loads
the photo booth's code). Adding a mode: write `kiosk/modes/<name>.py` with a class that
implements `kiosk.modes.base.Mode`, add one line here, and add the name to `run.mode`'s
choices in core/config.py (a test checks the two agree).
"""

from __future__ import annotations

import importlib

from core.errors import ConfigError
from kiosk.modes.base import Mode, Tick

REGISTRY: dict[str, str] = {
    "lobby": "kiosk.modes.lobby:LobbyMode",
    "photobooth": "kiosk.modes.photobooth:BoothMode",
    "group": "kiosk.modes.group:GroupMode",
}


def mode_class(name: str) -> type[Mode]:
    """The class registered as `name`; a ConfigError naming the choices for anything else."""
    try:
        module, _, cls = REGISTRY[name].partition(":")
    except KeyError:
        raise ConfigError(f"run.mode = {name!r} is not a mode; choose one of {', '.join(REGISTRY)}") from None
    return getattr(importlib.import_module(module), cls)


__all__ = ["Mode", "REGISTRY", "Tick", "mode_class"]
