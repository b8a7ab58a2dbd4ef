"""Prometheus metrics of a real session: recorded video as the camera, the real endpoint scraped
over HTTP while the mirror runs, the exposition read with prometheus_client's own parser."""

from __future__ import annotations

import json
import socket
import threading
import time
import urllib.request
from pathlib import Path

import pytest

from core.landmarker import MediapipeLandmarker
from core.sources import VideoFileSource
from core.types import SMILE_LINE as SMILE_AT
from kiosk.app import App
from kiosk.display import RecordingDisplay
from kiosk.metrics_prom import PrometheusTelemetry, soc_temperature_c, throttled_flags
from kiosk.telemetry import Onsets

prometheus_parser = pytest.importorskip("prometheus_client.parser")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def scrape(port: int) -> dict[str, float]:
    """name{labels} -> value, parsed by prometheus_client."""
    text = urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=5).read().decode()
    out = {}
    for family in prometheus_parser.text_string_to_metric_families(text):
        for s in family.samples:
            labels = ",".join(f"{k}={v}" for k, v in sorted(s.labels.items()))
            out[s.name + (f"{{{labels}}}" if labels else "")] = s.value
    return out


class KeptOpen:
    """Forwards to the real exporter but leaves it serving after the run, so the test can
    scrape the final counts."""

    def __init__(self, inner: PrometheusTelemetry) -> None:
        self.inner = inner
        self.count, self.gauge, self.observe = inner.count, inner.gauge, inner.observe

    def close(self) -> None:
        pass


def test_scraped_counts_match_the_session(face_video: Path, model_path: Path, tmp_path: Path) -> None:
    port = free_port()
    prom = PrometheusTelemetry(port=port, backend="mediapipe", variant="official float16", mode="lobby")
    try:
        with open(tmp_path / "readings.jsonl", "w") as readings:
            app = App(open_source=lambda: VideoFileSource(face_video, pace=True),
                      landmarker=MediapipeLandmarker(model_path), display=RecordingDisplay(screen=(640, 360)),
                      readings=readings, telemetry=KeptOpen(prom))
            runner = threading.Thread(target=app.run)
            runner.start()
            time.sleep(1.6)
            during = scrape(port)  # while the mirror runs: the endpoint answers from its own thread
            runner.join(30)
            assert not runner.is_alive()
        after = scrape(port)
    finally:
        prom.close()
    lines = [json.loads(x) for x in (tmp_path / "readings.jsonl").read_text().splitlines()]
    assert 0 < during["smile_mirror_readings_total"] < after["smile_mirror_readings_total"]
    assert during["smile_mirror_display_fps"] > 5  # a gauge measured over the first second

    onsets = Onsets()
    expected = {"visitors": 0, "smiles": 0, "genuine_smiles": 0}
    faces = [x for x in lines if x["face"]]
    for x in lines:
        # the same edges, recomputed from the --readings file
        face, smiling = x["face"], x["face"] and x["score"] >= SMILE_AT
        genuine = smiling and x["kind"] == "genuine"
        expected["visitors"] += face and not onsets.face
        expected["smiles"] += smiling and not onsets.smiling
        expected["genuine_smiles"] += genuine and not onsets.genuine
        onsets.face, onsets.smiling, onsets.genuine = face, smiling, genuine
    assert after["smile_mirror_readings_total"] == len(lines) == app.stats.readings
    assert expected["visitors"] == 1 and expected["smiles"] == 1, "one astronaut, smiling, then a cat"
    for name, n in expected.items():
        assert after[f"smile_mirror_{name}_total"] == n, name
    assert after["smile_mirror_score_count"] == len(faces)
    assert after["smile_mirror_score_sum"] == pytest.approx(sum(x["score"] for x in faces), abs=0.01 * len(faces))
    assert after["smile_mirror_score_latency_seconds_count"] == len(lines)
    assert after["smile_mirror_photos_total"] == 0  # lobby mode takes none
    assert after["smile_mirror_build_info{backend=mediapipe,mode=lobby,variant=official float16}"] == 1
    assert after["smile_mirror_camera_up"] in (0.0, 1.0)
    temp = soc_temperature_c()
    assert ("smile_mirror_soc_temperature_celsius" in after) == (temp is not None)
    assert any(k.startswith("smile_mirror_throttled") for k in after) == (throttled_flags() is not None)


def test_metrics_listen_on_loopback_by_default() -> None:
    from core.config import Config

    assert Config().metrics.address == "127.0.0.1" and not Config().metrics.enabled and not Config().mqtt.enabled
    prom = PrometheusTelemetry(port=free_port())
    try:
        assert prom._server.server_address[0] == "127.0.0.1"
    finally:
        prom.close()


def test_thermal_zone_and_throttle_flags_are_read(tmp_path: Path) -> None:
    zone = tmp_path / "thermal_zone0"
    zone.mkdir()
    (zone / "temp").write_text("48312\n")
    assert soc_temperature_c(tmp_path) == pytest.approx(48.312)
    assert soc_temperature_c(tmp_path / "none") is None
    tool = tmp_path / "vcgencmd"  # the firmware tool's output format, from a script
    tool.write_text("#!/bin/sh\necho throttled=0x50005\n")
    tool.chmod(0o755)
    assert throttled_flags(str(tool)) == {"under_voltage": 1, "frequency_capped": 0, "throttled": 1,
                                          "soft_temperature_limit": 0}
    assert throttled_flags(str(tmp_path / "missing")) is None


def test_the_grafana_dashboard_queries_only_metrics_the_mirror_exports() -> None:
    import re

    from kiosk.telemetry import COUNTERS, GAUGES, HISTOGRAMS

    board = json.loads((Path(__file__).resolve().parents[1] / "hw" / "grafana-dashboard.json").read_text())
    exported = ({f"smile_mirror_{c}_total" for c in COUNTERS} | {f"smile_mirror_{g}" for g in GAUGES}
                | {f"smile_mirror_{h}_{s}" for h in HISTOGRAMS for s in ("bucket", "sum", "count")}
                | {"smile_mirror_build_info", "smile_mirror_soc_temperature_celsius", "smile_mirror_throttled", "up"})
    used = {name for p in board["panels"] for t in p["targets"] for name in re.findall(r"\b(smile_mirror_\w+|up)\{", t["expr"])}
    assert used and used <= exported, used - exported
    assert {f"smile_mirror_{c}_total" for c in ("visitors", "smiles", "genuine_smiles", "photos")} <= used
