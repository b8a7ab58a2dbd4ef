"""MQTT publication of the mirror's anonymous telemetry, with Home Assistant discovery (paho-mqtt).

The display thread only updates totals in memory (under a lock). A publisher thread sends one
retained JSON state message every `interval_s` while the broker is connected; paho's network
thread reconnects by itself with back-off. Counts are cumulative totals, so a broker that was
away gets every count in the first state after reconnection and nothing has to queue: paho's
own queue is capped (`max_queued`), and while disconnected no state is handed to it at all.

Topics (prefix `smile-mirror`, node = the host name unless configured):
  <prefix>/<node>/availability   "online"/"offline", retained; "offline" is the last will
  <prefix>/<node>/state          {"visitors": 3, "smiles": 2, ..., "display_fps": 29.8}, retained
  homeassistant/sensor/<node>/<key>/config   retained discovery configs, one per sensor
"""

from __future__ import annotations

import json
import logging
import socket
import threading
from typing import Any

from kiosk.telemetry import COUNTERS, GAUGES, HISTOGRAMS, check_name

log = logging.getLogger(__name__)

ONLINE, OFFLINE = "online", "offline"
_UNITS = {"display_fps": "fps", "score_rate": "1/s", "inference_seconds": "s", "skipped_frames": None,
          "camera_up": None, "score": None}


def discovery_configs(node: str, prefix: str, discovery_prefix: str, version: str = "") -> dict[str, dict]:
    """topic -> Home Assistant MQTT discovery config, one sensor per count and state."""
    base = f"{prefix}/{node}"
    device = {"identifiers": [f"smile-mirror-{node}"], "name": f"Smile Mirror {node}",
              "manufacturer": "Smile Mirror", "model": "smile-mirror", **({"sw_version": version} if version else {})}
    out = {}
    keys = [(k, True) for k in COUNTERS] + [(k, False) for k in GAUGES] + [("score", False)]
    for key, total in keys:
        config: dict[str, Any] = {
            "name": key.replace("_", " ").capitalize(), "unique_id": f"smile_mirror_{node}_{key}",
            "state_topic": f"{base}/state", "value_template": f"{{{{ value_json.{key} }}}}",
            "availability_topic": f"{base}/availability", "payload_available": ONLINE,
            "payload_not_available": OFFLINE, "device": device,
            "state_class": "total_increasing" if total else "measurement",
        }
        if _UNITS.get(key):
            config["unit_of_measurement"] = _UNITS[key]
        out[f"{discovery_prefix}/sensor/{node}/{key}/config"] = config
    return out


class MqttTelemetry:
    def __init__(self, *, host: str, port: int = 1883, username: str = "", password: str = "", tls: bool = False,
                 ca_file: str = "", prefix: str = "smile-mirror", discovery_prefix: str = "homeassistant",
                 node: str = "", interval_s: float = 10.0, keepalive_s: int = 30, max_queued: int = 64,
                 backoff_s: tuple[int, int] = (1, 60)) -> None:
        import paho.mqtt.client as mqtt

        self.node = node or _node_name()
        self.prefix, self.discovery_prefix = prefix, discovery_prefix
        self.base = f"{prefix}/{self.node}"
        self.interval_s = interval_s
        self._lock = threading.Lock()
        self._totals = dict.fromkeys(COUNTERS, 0)
        self._gauges: dict[str, float] = {}
        self._last_score: float | None = None
        self._connected = threading.Event()
        self._stop = threading.Event()
        self._changed = threading.Event()
        self.published = 0  # state messages handed to paho (tests and logs read it)

        client = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2, client_id=f"smile-mirror-{self.node}")
        if username:
            client.username_pw_set(username, password or None)
        if tls:
            client.tls_set(ca_certs=ca_file or None)
        client.will_set(f"{self.base}/availability", OFFLINE, qos=1, retain=True)
        client.reconnect_delay_set(min_delay=backoff_s[0], max_delay=backoff_s[1])
        client.max_queued_messages_set(max_queued)
        client.on_connect = self._on_connect
        client.on_disconnect = self._on_disconnect
        self.client = client
        client.connect_async(host, port, keepalive=keepalive_s)
        client.loop_start()
        self._thread = threading.Thread(target=self._publisher, name="mqtt-publisher", daemon=True)
        self._thread.start()
        log.info("mqtt: publishing to %s:%d under %s", host, port, self.base)

    # -- the display thread: memory only ----------------------------------------------------
    def count(self, name: str, n: int = 1) -> None:
        check_name(COUNTERS, name)
        with self._lock:
            self._totals[name] += n

    def gauge(self, name: str, value: float) -> None:
        check_name(GAUGES, name)
        with self._lock:
            self._gauges[name] = value

    def observe(self, name: str, value: float) -> None:
        check_name(HISTOGRAMS, name)
        if name == "score":
            with self._lock:
                self._last_score = value

    def state(self) -> dict[str, Any]:
        with self._lock:
            out: dict[str, Any] = dict(self._totals)
            out.update({k: round(v, 4) for k, v in self._gauges.items()})
            out["score"] = None if self._last_score is None else round(self._last_score, 1)
        return out

    # -- paho's network thread and the publisher thread -------------------------------------
    def _on_connect(self, client, userdata, flags, reason_code, properties=None) -> None:
        if reason_code.is_failure:
            log.warning("mqtt: broker refused the connection: %s", reason_code)
            return
        for topic, config in discovery_configs(self.node, self.prefix, self.discovery_prefix).items():
            client.publish(topic, json.dumps(config), qos=1, retain=True)
        client.publish(f"{self.base}/availability", ONLINE, qos=1, retain=True)
        self._connected.set()
        self._changed.set()  # the totals now, at once
        log.info("mqtt: connected")

    def _on_disconnect(self, client, userdata, flags, reason_code, properties=None) -> None:
        if self._connected.is_set():
            log.warning("mqtt: broker connection lost (%s); reconnecting with back-off", reason_code)
        self._connected.clear()

    def _publisher(self) -> None:
        while not self._stop.is_set():
            self._changed.wait(self.interval_s)
            self._changed.clear()
            if self._stop.is_set():
                break
            if self._connected.is_set():
                self._publish_state()

    def _publish_state(self):
        info = self.client.publish(f"{self.base}/state", json.dumps(self.state()), qos=1, retain=True)
        self.published += 1
        return info

    def close(self) -> None:
        """A last state and a clean "offline" (a clean disconnect sends no will)."""
        self._stop.set()
        self._changed.set()
        self._thread.join(timeout=2.0)
        if self._connected.is_set():
            try:
                self._publish_state().wait_for_publish(timeout=2.0)
                self.client.publish(f"{self.base}/availability", OFFLINE, qos=1, retain=True).wait_for_publish(
                    timeout=2.0)
            except (RuntimeError, ValueError) as exc:
                log.warning("mqtt: last state not sent: %s", exc)
        self.client.disconnect()
        self.client.loop_stop()


def _node_name() -> str:
    """The host name as a topic level: letters, digits, '-' and '_' only."""
    name = socket.gethostname().split(".")[0] or "mirror"
    return "".join(c if c.isalnum() or c in "-_" else "_" for c in name)
