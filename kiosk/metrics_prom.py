"""Prometheus exposition of the mirror's anonymous telemetry (prometheus_client).

Counters, gauges and histograms live in a registry of their own; `prometheus_client`'s HTTP
server answers scrapes on its own thread, so the display loop only bumps numbers in memory.
The SoC temperature (the thermal zone) and the Pi's throttling flags (`vcgencmd
get_throttled`, where it exists) are read when a scrape asks, never on the display thread.
Names follow Prometheus's conventions: `smile_mirror_` prefix, `_total` counters, base units.
"""

from __future__ import annotations

import logging
import shutil
import subprocess
from pathlib import Path
from typing import Iterator

from kiosk.telemetry import COUNTERS, GAUGES, HISTOGRAMS, check_name

log = logging.getLogger(__name__)

PREFIX = "smile_mirror"
THERMAL_ZONES = Path("/sys/class/thermal")
# bits of `vcgencmd get_throttled` (Raspberry Pi firmware documentation)
THROTTLE_BITS = {"under_voltage": 0, "frequency_capped": 1, "throttled": 2, "soft_temperature_limit": 3}


def soc_temperature_c(zones: Path = THERMAL_ZONES) -> float | None:
    """The first thermal zone's temperature in degrees Celsius (None where there is none)."""
    for zone in sorted(zones.glob("thermal_zone*")):
        try:
            return int((zone / "temp").read_text().strip()) / 1000.0
        except (OSError, ValueError):
            continue
    return None


def throttled_flags(vcgencmd: str | None = None) -> dict[str, int] | None:
    """The Pi's throttling flags now (1 = set), or None where `vcgencmd` is missing or fails."""
    exe = vcgencmd or shutil.which("vcgencmd")
    if not exe:
        return None
    try:
        out = subprocess.run([exe, "get_throttled"], capture_output=True, text=True, timeout=2.0).stdout
        value = int(out.strip().partition("=")[2], 16)
    except (OSError, subprocess.SubprocessError, ValueError):
        return None
    return {name: (value >> bit) & 1 for name, bit in THROTTLE_BITS.items()}


class _SocCollector:
    """Read at scrape time, on the exporter's thread."""

    def __init__(self, zones: Path = THERMAL_ZONES) -> None:
        self.zones = zones

    def collect(self) -> Iterator:
        from prometheus_client.core import GaugeMetricFamily

        temp = soc_temperature_c(self.zones)
        if temp is not None:
            yield GaugeMetricFamily(f"{PREFIX}_soc_temperature_celsius", "SoC temperature (thermal zone 0)",
                                    value=temp)
        flags = throttled_flags()
        if flags is not None:
            g = GaugeMetricFamily(f"{PREFIX}_throttled", "Raspberry Pi throttling flags now (vcgencmd)",
                                  labels=["flag"])
            for name, bit in flags.items():
                g.add_metric([name], bit)
            yield g


class PrometheusTelemetry:
    """Telemetry as Prometheus metrics, served on `address:port` (127.0.0.1 unless configured)."""

    def __init__(self, *, address: str = "127.0.0.1", port: int = 9723, backend: str = "", variant: str = "",
                 mode: str = "", serve: bool = True) -> None:
        from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, Info

        self.registry = CollectorRegistry()
        self.counters = {name: Counter(f"{PREFIX}_{name}", help, registry=self.registry)
                         for name, help in COUNTERS.items()}
        self.gauges = {name: Gauge(f"{PREFIX}_{name}", help, registry=self.registry) for name, help in GAUGES.items()}
        self.histograms = {name: Histogram(f"{PREFIX}_{name}", help, buckets=buckets, registry=self.registry)
                           for name, (help, buckets) in HISTOGRAMS.items()}
        Info(f"{PREFIX}_build", "Landmarker backend, model variant and mode in use",
             registry=self.registry).info({"backend": backend, "variant": variant, "mode": mode})
        self.registry.register(_SocCollector())
        self._server = self._thread = None
        self.port = port
        if serve:
            from prometheus_client import start_http_server

            self._server, self._thread = start_http_server(port, addr=address, registry=self.registry)
            self.port = self._server.server_address[1]
            log.info("metrics: Prometheus endpoint on http://%s:%d/metrics", address, self.port)

    def count(self, name: str, n: int = 1) -> None:
        check_name(COUNTERS, name)
        self.counters[name].inc(n)

    def gauge(self, name: str, value: float) -> None:
        check_name(GAUGES, name)
        self.gauges[name].set(value)

    def observe(self, name: str, value: float) -> None:
        check_name(HISTOGRAMS, name)
        self.histograms[name].observe(value)

    def close(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None
