"""One place that builds the mirror from a config: `run`, `bench` and `soak` all use it, so
what is measured is what runs.

The mode comes from the registry (`run.mode`), the landmarker from the mode (group mode has
its own) or the standard one (with the zoom for far visitors), the source and the scheduler
from their config sections. Callers may inject any part (a recorded display, a fixed-policy
scheduler, a replayed landmarker), as gpiozero injects a pin factory.
"""

from __future__ import annotations

import contextlib
import logging
from pathlib import Path
from typing import Any, Callable, TextIO

from core.config import Config
from core.scheduler import Scheduler
from core.sources.base import FrameSource
from kiosk.app import App, Notifier
from kiosk.modes import mode_class
from kiosk.modes.base import Mode
from kiosk.telemetry import FanOut, Telemetry

log = logging.getLogger(__name__)


def open_source_for(config: Config, cache: Path | None) -> Callable[[], FrameSource]:
    """The configured source, opened (and re-opened after a failure) by the capture thread."""
    from core.sources import SourceOpener

    src = config.source
    return SourceOpener(src.spec, width=src.width, height=src.height, fps=src.fps, pace=src.pace, loop=src.loop,
                        cache=cache, still_size=(src.still_width, src.still_height))


def build_mode(config: Config) -> Mode:
    return mode_class(config.run.mode).from_config(config)


def build_landmarker(config: Config, model: Path, mode: Mode | type[Mode]) -> Any:
    """The mode's own landmarker, else the standard single-visitor one."""
    from core.zoom import face_landmarker

    def make(path: Path) -> Any:
        own = mode.landmarker(config, path)
        if own is not None:
            return own
        return face_landmarker(path, max_faces=config.pipeline.max_faces, zoom=config.pipeline.zoom,
                               backend=config.model.backend, threads=config.pipeline.threads)

    try:
        return make(model)
    except Exception as exc:
        # a model variant that does not load falls back to the verified official model beside it
        # (the documented promise); the official model failing is an error
        from core import assets

        if model.name == assets.MODEL.filename:
            raise
        official = assets.verify(assets.MODEL, assets.cached_path(assets.MODEL, model.parent), model.parent)
        log.warning("model variant %s does not load (%s: %s); using the official model", model.name,
                    type(exc).__name__, exc)
        return make(official)


def build_scheduler(config: Config) -> Scheduler:
    p = config.pipeline
    return Scheduler(score_hz=p.score_hz, idle_hz=p.idle_hz, max_cpu=p.max_cpu)


def build_telemetry(config: Config, *, backend: str = "mediapipe", variant: str = "") -> Telemetry | None:
    """The exporters switched on in [metrics] and [mqtt] (None: both off, the default).
    Each starts its own network thread here; the display thread only updates memory."""
    from core.errors import ConfigError

    sinks: list[Telemetry] = []
    try:
        if config.metrics.enabled:
            from kiosk.metrics_prom import PrometheusTelemetry

            m = config.metrics
            try:
                sinks.append(PrometheusTelemetry(address=m.address, port=m.port, backend=backend, variant=variant,
                                                 mode=config.run.mode))
            except OSError as exc:
                raise ConfigError(f"metrics: cannot listen on {m.address}:{m.port} ({exc.strerror or exc}); "
                                  f"choose another [metrics] address or port") from None
        if config.mqtt.enabled:
            from kiosk.metrics_mqtt import MqttTelemetry

            q = config.mqtt
            if not q.host:
                raise ConfigError("mqtt: [mqtt] enabled = true needs host = the broker's address")
            sinks.append(MqttTelemetry(host=q.host, port=q.port, username=q.username, password=q.password,
                                       tls=q.tls, ca_file=q.ca_file, prefix=q.prefix, node=q.node,
                                       discovery_prefix=q.discovery_prefix, interval_s=q.interval_s))
    except BaseException:
        FanOut(sinks).close()
        raise
    if not sinks:
        return None
    return sinks[0] if len(sinks) == 1 else FanOut(sinks)


def build_app(config: Config, model: Path, *, display: Any, cache: Path | None = None,
              open_source: Callable[[], FrameSource] | None = None, landmarker: Any = None,
              scheduler: Scheduler | None = None, mode: Mode | None = None, notifier: Notifier | None = None,
              telemetry: Telemetry | None = None,
              readings: TextIO | None = None, synchronous: bool = False, app_class: type[App] = App,
              **app_options: Any) -> App:
    """The App for `config`. Parts built here are closed again if a later part fails, so a
    failed start leaves no landmarker or state lock behind."""
    with contextlib.ExitStack() as undo:
        if mode is None:
            mode = build_mode(config)
            undo.callback(mode.close)
        if landmarker is None:
            landmarker = build_landmarker(config, model, mode)
            undo.callback(landmarker.close)
        if telemetry is None and (config.metrics.enabled or config.mqtt.enabled):
            from core.variants import describe

            telemetry = build_telemetry(config, backend=getattr(landmarker, "backend", "mediapipe"),
                                        variant=describe(model))
            if telemetry is not None:
                undo.callback(telemetry.close)
        app = app_class(open_source=open_source or open_source_for(config, cache), landmarker=landmarker,
                        display=display, scheduler=scheduler or build_scheduler(config), mode=mode,
                        notifier=notifier, telemetry=telemetry, frames=config.run.frames, readings=readings,
                        diagnostics=config.display.diagnostics, synchronous=synchronous, **app_options)
        undo.pop_all()  # the App owns them now
    return app
