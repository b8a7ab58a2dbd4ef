"""Configuration: one TOML file (plus command-line overrides) validated before anything starts.

Every option of `smile-mirror run` has a key here, and every key is checked: an unknown key, a
wrong type or a value out of range stops the start with the file, the key and what is allowed,
so a typo in /etc/smile-mirror/config.toml never silently does nothing.
"""

from __future__ import annotations

import dataclasses
import logging
import math
import os
import re
import tomllib
from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import Any, Mapping

from core.errors import ConfigError
from core.safe_io import UnreadableFile, read_regular, shown

log = logging.getLogger(__name__)

SYSTEM_CONFIG = Path("/etc/smile-mirror/config.toml")
CONFIG_ENV = "SMILE_MIRROR_CONFIG"
MAX_CONFIG_BYTES = 1 << 20  # the commented default file is about 5 KB


def _opt(default: Any, help: str, *, choices: tuple = (), lo: float | None = None,
         hi: float | None = None, flag: str = "", pattern: str = "", shape: str = "") -> Any:
    """One option: its default, its meaning, what is allowed (choices, a range, or a regular
    expression the whole string must match, described to the user as `shape`) and, for `run`,
    its command-line flag (a bool flag spelled `--no-...` turns the option off). Validation,
    error messages, the default file and the `run` flags are all generated from this."""
    return field(default=default, metadata={"help": help, "choices": choices, "lo": lo, "hi": hi, "flag": flag,
                                            "pattern": pattern, "shape": shape})


LANGUAGES = ("de", "en", "es", "fr")  # the shipped catalogues (kiosk/i18n); a test keeps them in step


@dataclass(frozen=True, slots=True)
class SourceConfig:
    spec: str = _opt("auto", "auto, picamera2, webcam[:N|:/dev/videoN], video:PATH, images:GLOB, demo", flag="--source")
    width: int = _opt(640, "capture width for inference (pixels)", lo=64, hi=4096, flag="--width")
    height: int = _opt(480, "capture height for inference (pixels)", lo=48, hi=4096, flag="--height")
    fps: int = _opt(30, "camera frame rate asked for", lo=1, hi=120, flag="--fps")
    pace: bool = _opt(True, "play video files at their own frame rate (false: as fast as possible)", flag="--no-pace")
    loop: bool = _opt(False, "restart a video file or image list at its end", flag="--loop")
    still_width: int = _opt(1920, "photo booth: a webcam's still resolution (the Pi camera uses its full sensor)",
                            lo=64, hi=8192)
    still_height: int = _opt(1080, "photo booth: a webcam's still resolution", lo=48, hi=8192)


@dataclass(frozen=True, slots=True)
class DisplayConfig:
    mode: str = _opt("auto", "where the mirror is shown", choices=("auto", "fullscreen", "window", "headless"), flag="--display")
    diagnostics: bool = _opt(False, "show fps, inference ms and skipped frames (toggle with d)", flag="--diagnostics")
    rotate: int = _opt(0, "rotate the picture for portrait screens (degrees)", choices=(0, 90, 180, 270), flag="--rotate")
    width: int = _opt(1280, "window size when not fullscreen", lo=160, hi=7680, flag="--window-width")
    height: int = _opt(720, "window size when not fullscreen", lo=120, hi=4320, flag="--window-height")
    language: str = _opt("en", "language of every word on screen ([text] replaces single strings)",
                         choices=LANGUAGES, flag="--language")
    logo: str = _opt("", "the venue's logo, an image file (PNG with transparency, or JPEG); empty: none")
    accent: str = _opt("#ffce54", "the venue's accent colour (genuine smiles, highlights)",
                       pattern=r"#[0-9a-fA-F]{6}", shape='a colour "#rrggbb" such as "#ffce54"')


@dataclass(frozen=True, slots=True)
class ModelConfig:
    path: str = _opt("", "an explicit face_landmarker.task (verified by checksum); empty: the cache", flag="--model")
    dir: str = _opt("", "model cache folder; empty: per-user cache, or the system path for the kiosk", flag="--model-dir")
    # written by `smile-mirror model tune` (the fastest variant that passed the gate here); see core/VARIANTS.md
    variant: str = _opt("official", "Face Landmarker variant built by `model build` and chosen by `model tune`; "
                        "one that is missing, altered or failed the accuracy gate falls back to official",
                        choices=("official", "float32", "int8-weights", "int8-dynamic", "int8"))
    backend: str = _opt("auto", "what runs the Face Landmarker: litert (LiteRT, runs on every Pi, opens no "
                        "socket), mediapipe (the Tasks API, the reference), auto (litert when installed)",
                        choices=("auto", "litert", "mediapipe"), flag="--backend")


@dataclass(frozen=True, slots=True)
class PipelineConfig:
    score_hz: float = _opt(15.0, "target score updates per second while a face is present", lo=1.0, hi=120.0, flag="--score-hz")
    idle_hz: float = _opt(4.0, "score updates per second while nobody is there", lo=0.5, hi=60.0)
    max_cpu: float = _opt(0.5, "largest share of one core that inference may use", lo=0.05, hi=1.0, flag="--max-cpu")
    max_faces: int = _opt(1, "faces tracked at once (group mode: 4 when this is left at 1)", lo=1, hi=4, flag="--max-faces")
    threads: int = _opt(2, "CPU threads the LiteRT backend's models may use (the CPU budget counts them all)",
                        lo=1, hi=4, flag="--threads")
    zoom: bool = _opt(True, "find and track a face too small for the face detector (under ~12% of the frame "
                      "width: beyond about 1 m from a Camera Module 3) in a zoomed window; one face only", flag="--no-zoom")


@dataclass(frozen=True, slots=True)
class RunConfig:
    mode: str = _opt("lobby", "what the mirror does", choices=("lobby", "photobooth", "group", "coach", "contagion"), flag="--mode")
    state_dir: str = _opt("", "where the photo booth keeps photos and counters, group mode its counts per "
                              "hour and contagion mode its counts per day (lobby and coach write nothing); "
                              "empty: $XDG_STATE_HOME/smile-mirror or ~/.local/state/smile-mirror", flag="--state-dir")
    frames: int = _opt(0, "stop after this many displayed frames (0: run until quit)", lo=0, hi=10**12, flag="--frames")
    readings: str = _opt("", "write one JSON line per scored frame to this file", flag="--readings")
    log_level: str = _opt("INFO", "logging level", choices=("DEBUG", "INFO", "WARNING", "ERROR"), flag="--log-level")


@dataclass(frozen=True, slots=True)
class BoothConfig:
    sensitivity: str = _opt("medium", "smile needed for a photo: low = a big smile, high = a slight one",
                            choices=("low", "medium", "high"))
    genuine_only: bool = _opt(False, "take the photo only for an eye-engaged (genuine) smile")
    hold_ms: int = _opt(400, "how long the smile must hold before the photo", lo=0, hi=5000)
    countdown: int = _opt(3, "seconds of 3-2-1 countdown after the smile holds, so the guest sees the photo "
                          "coming (0: none)", lo=0, hi=10)
    review_s: float = _opt(4.0, "how long the photo is shown afterwards", lo=0.5, hi=60.0)
    cooldown_s: float = _opt(3.0, "pause after the review before the next photo", lo=0.0, hi=600.0)
    quota_mb: float = _opt(0.0, "delete the oldest photos beyond this many MB (0: keep all)", lo=0.0, hi=1e9)
    min_free_mb: float = _opt(50.0, "never fill the disk beyond this much free space", lo=0.0, hi=1e9)
    slideshow: bool = _opt(True, "show the latest photos while nobody is there")
    event_text: str = _opt("", "the event's words on the share page and the prints (empty: none)")
    logo: str = _opt("", "the event's logo (PNG or JPEG) on the share page and the prints (empty: none)")
    share: bool = _opt(False, "show a QR code that opens the photo on the booth's own web server "
                              "(the installer then opens share_port in the kiosk's sandbox)")
    share_host: str = _opt("127.0.0.1", "the one address the share server listens on (the Pi's address "
                                        "on the venue's network or its hotspot, e.g. 10.42.0.1)")
    share_port: int = _opt(8080, "the share server's port", lo=1024, hi=65535)
    share_url: str = _opt("", "the address in the QR code, e.g. http://10.42.0.1:8080 "
                              "(empty: http://share_host:share_port)")
    share_hours: float = _opt(24.0, "how long a photo's link works", lo=0.1, hi=24.0 * 90)
    print: str = _opt("off", "print photos through CUPS: off, ask (Print on the review screen) or auto",
                      choices=("off", "ask", "auto"))
    printer: str = _opt("", "the CUPS queue to print on (see lpstat -p); needed when print is not off")
    print_pin: int = _opt(0, "GPIO (BCM) pin of a Print button, wired to ground (0: none)", lo=0, hi=27)
    photo_pin: int = _opt(0, "GPIO (BCM) pin of a button that takes a photo without a smile (0: none)", lo=0, hi=27)


@dataclass(frozen=True, slots=True)
class ContagionConfig:
    stimuli: str = _opt("", "a folder of the venue's own stimulus clips with labels.csv (file,kind,onset_frame); "
                        "empty: the faces the mirror draws (a genuine and a mouth-only smile)")
    margin: float = _opt(15.0, "score points over the visitor's baseline that count as smiling back", lo=3.0, hi=60.0)
    trials_per_visit: int = _opt(2, "stimuli shown to one visitor before they are asked to make room", lo=1, hi=10)
    min_trials: int = _opt(20, "trials of each kind today before the attract screen shows the running result",
                           lo=1, hi=10000)


@dataclass(frozen=True, slots=True)
class MetricsConfig:
    enabled: bool = _opt(False, "serve anonymous counts and health as Prometheus metrics (never an image, a position "
                                "or an identity)", flag="--metrics")
    address: str = _opt("127.0.0.1", "address the metrics endpoint listens on (0.0.0.0: every interface)")
    port: int = _opt(9723, "TCP port of the metrics endpoint (/metrics)", lo=1, hi=65535, flag="--metrics-port")
    allow_from: str = _opt("", "IP addresses or networks (space-separated) of the Prometheus servers that may "
                               "scrape; the console kiosk's firewall admits exactly these (empty: localhost)")


@dataclass(frozen=True, slots=True)
class MqttConfig:
    enabled: bool = _opt(False, "publish anonymous counts and health to an MQTT broker, with Home Assistant "
                                "discovery", flag="--mqtt")
    host: str = _opt("", "the broker's IP address (the console kiosk's firewall admits exactly it)", flag="--mqtt-host")
    port: int = _opt(1883, "the broker's TCP port (8883 for TLS)", lo=1, hi=65535)
    username: str = _opt("", "user name at the broker (empty: anonymous)")
    password: str = _opt("", "password at the broker (then make config.toml readable by root and the mirror only: "
                                 "chown root:smile-mirror, chmod 0640)")
    tls: bool = _opt(False, "connect with TLS")
    ca_file: str = _opt("", "CA certificate file for TLS (empty: the system's)")
    prefix: str = _opt("smile-mirror", "topic prefix: <prefix>/<node>/state and /availability")
    node: str = _opt("", "this mirror's name in topics (empty: the host name)")
    discovery_prefix: str = _opt("homeassistant", "Home Assistant discovery prefix")
    interval_s: float = _opt(10.0, "seconds between state messages", lo=0.2, hi=3600.0)


@dataclass(frozen=True, slots=True)
class Config:
    source: SourceConfig = field(default_factory=SourceConfig)
    display: DisplayConfig = field(default_factory=DisplayConfig)
    model: ModelConfig = field(default_factory=ModelConfig)
    pipeline: PipelineConfig = field(default_factory=PipelineConfig)
    run: RunConfig = field(default_factory=RunConfig)
    booth: BoothConfig = field(default_factory=BoothConfig)
    contagion: ContagionConfig = field(default_factory=ContagionConfig)
    metrics: MetricsConfig = field(default_factory=MetricsConfig)
    mqtt: MqttConfig = field(default_factory=MqttConfig)
    # [text]: a venue's words, by catalogue key (kiosk.text checks the keys and placeholders)
    text: Mapping[str, str] = field(default_factory=dict)

    def replace(self, overrides: Mapping[str, Any], origin: str = "command line") -> "Config":
        """A copy with dotted-key overrides (`{"source.spec": "demo"}`) applied and checked."""
        nested: dict[str, dict[str, Any]] = {}
        for dotted, value in overrides.items():
            section, _, key = dotted.partition(".")
            nested.setdefault(section, {})[key] = value
        return _apply(self, nested, origin)


FREE_TABLES = ("text",)  # tables of free keys (strings only), not declared with _opt
SECTIONS: dict[str, type] = {f.name: f.default_factory for f in fields(Config)  # type: ignore[misc]
                             if f.name not in FREE_TABLES}


def flagged_options() -> list[tuple[str, dataclasses.Field]]:
    """(dotted key, field) of every option that `run` takes on the command line."""
    return [(f"{section}.{f.name}", f) for section, cls in SECTIONS.items() for f in fields(cls)
            if f.metadata.get("flag")]


def describe(f: dataclasses.Field) -> str:
    """What a field allows, in words ("one of 'low', 'medium'", "a number from 0 to 1")."""
    meta = f.metadata
    if meta.get("choices"):
        return "one of " + ", ".join(repr(c) for c in meta["choices"])
    if meta.get("shape"):
        return meta["shape"]
    kind = {int: "an integer", float: "a number", bool: "true or false", str: "a string"}[type_of(f)]
    lo, hi = meta.get("lo"), meta.get("hi")
    if lo is not None and hi is not None:
        return f"{kind} from {lo:g} to {hi:g}"
    if lo is not None:
        return f"{kind} of at least {lo:g}"
    return kind


def type_of(f: dataclasses.Field) -> type:
    return {"int": int, "float": float, "bool": bool, "str": str}[str(f.type)]


def _check(section: str, f: dataclasses.Field, value: Any, origin: str) -> Any:
    want = type_of(f)
    ok = isinstance(value, want) and not (want is int and isinstance(value, bool))
    if want is float and isinstance(value, int) and not isinstance(value, bool):
        try:
            value, ok = float(value), True
        except OverflowError:  # an integer too large for a float is a mistake to name, not a crash
            ok = False
    meta = f.metadata
    if ok and meta.get("choices") and value not in meta["choices"]:
        ok = False
    if ok and meta.get("pattern") and not re.fullmatch(meta["pattern"], value):
        ok = False
    if ok and want in (int, float):
        lo, hi = meta.get("lo"), meta.get("hi")
        finite = not isinstance(value, float) or math.isfinite(value)  # TOML allows inf and nan
        ok = finite and (lo is None or value >= lo) and (hi is None or value <= hi)
    if not ok:
        shown = repr(value) if len(repr(value)) <= 60 else repr(value)[:57] + "..."
        raise ConfigError(f"{origin}: {section}.{f.name} = {shown} is not allowed; it must be {describe(f)}.")
    return value


def _shown(name: str) -> str:
    """A name from the file as it can be printed on one line (a quoted TOML key may hold
    newlines or control characters, which would split the error message)."""
    return name if name.isprintable() and len(name) <= 40 else repr(name)[:40]


def _apply(base: Config, data: Mapping[str, Any], origin: str) -> Config:
    if not isinstance(data, Mapping):
        raise ConfigError(f"{origin}: expected a TOML table at the top level.")
    sections: dict[str, Any] = {}
    for section, values in data.items():
        if section in FREE_TABLES:
            sections[section] = {**getattr(base, section), **_free_table(section, values, origin)}
            continue
        if section not in SECTIONS:
            raise ConfigError(f"{origin}: unknown section [{_shown(section)}]; known sections: "
                              f"{', '.join((*SECTIONS, *FREE_TABLES))}.")
        if not isinstance(values, Mapping):
            raise ConfigError(f"{origin}: [{section}] must be a table of keys, not {type(values).__name__}.")
        known = {f.name: f for f in fields(SECTIONS[section])}
        checked = {}
        for key, value in values.items():
            if key not in known:
                raise ConfigError(
                    f"{origin}: unknown key {section}.{_shown(key)}; keys in [{section}]: {', '.join(known)}.")
            checked[key] = _check(section, known[key], value, origin)
        sections[section] = dataclasses.replace(getattr(base, section), **checked)
    return dataclasses.replace(base, **sections)


def _free_table(section: str, values: Any, origin: str) -> dict[str, str]:
    """A table of free keys whose values are all strings (which keys exist is for its user to say)."""
    if not isinstance(values, Mapping):
        raise ConfigError(f"{origin}: [{section}] must be a table of keys, not {type(values).__name__}.")
    for key, value in values.items():
        if not isinstance(value, str):
            shown = repr(value) if len(repr(value)) <= 60 else repr(value)[:57] + "..."
            raise ConfigError(f"{origin}: {section}.{_shown(key)} = {shown} is not allowed; it must be a string.")
    return dict(values)


def state_dir(config: Config) -> Path:
    """The photo booth's folder: the configured one, else the per-user XDG state folder."""
    if config.run.state_dir:
        return Path(config.run.state_dir)
    base = os.environ.get("XDG_STATE_HOME") or os.path.join(os.path.expanduser("~"), ".local", "state")
    return Path(base) / "smile-mirror"


def load_config(path: str | os.PathLike | None = None) -> Config:
    """Defaults, then the file: `path`, else $SMILE_MIRROR_CONFIG, else the system file if present.

    An explicitly named file must exist; the system default is optional.
    """
    explicit = path or os.environ.get(CONFIG_ENV)
    target = Path(explicit) if explicit else SYSTEM_CONFIG
    if not explicit and not target.exists():
        return Config()
    try:
        # a regular file of bounded size only: a FIFO would hang the start, /dev/zero exhaust memory
        text = read_regular(target, limit=MAX_CONFIG_BYTES, what="config file").decode("utf-8")
    except FileNotFoundError:
        raise ConfigError(f"config file {shown(target)} does not exist; create it or drop --config.") from None
    except UnreadableFile as exc:
        raise ConfigError(f"{exc}.") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigError(f"config file {shown(target)} cannot be read: {exc}.") from None
    text = text.removeprefix("\ufeff")  # a byte-order mark, as some Windows editors write
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"{shown(target)}: not valid TOML ({exc}).") from None
    except RecursionError:
        raise ConfigError(f"{shown(target)}: not a config file (its tables or arrays nest too deeply).") from None
    log.info("config loaded from %s", target)
    return _apply(Config(), data, shown(target))


def to_toml(config: Config) -> str:
    """The config as a commented TOML document (used to write the kiosk's default file)."""
    lines = ["# Smile Mirror configuration. Every key is optional; unknown keys are rejected.", ""]
    for section in SECTIONS:
        lines.append(f"[{section}]")
        values = getattr(config, section)
        for f in fields(values):
            lines.append(f"# {f.metadata['help']} ({describe(f)})")
            lines.append(f"{f.name} = {_toml_value(getattr(values, f.name))}")
        lines.append("")
    lines += ["# The venue's own words: any visitor-facing string by its key (the msgids in",
              "# kiosk/i18n/en/LC_MESSAGES/smile-mirror.po), e.g. attract_title = \"Welcome to the museum\"",
              "[text]"]
    lines += [f"{key} = {_toml_value(value)}" for key, value in config.text.items()]
    lines.append("")
    return "\n".join(lines)


def _toml_value(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, str):
        return '"' + value.replace("\\", "\\\\").replace('"', '\\"') + '"'
    return repr(value)


def write_option(path: Path, dotted: str, value: Any) -> bool:
    """Set one key (`"model.variant"`) in a TOML config file, keeping its comments and every
    other line as they are; the value is checked first, and the whole new file is validated
    before it replaces the old one, so a kiosk is never left with a config it cannot start on.
    Returns whether the file changed (provisioning reports it)."""
    section, _, key = dotted.partition(".")
    known = {f.name: f for f in fields(SECTIONS[section])} if section in SECTIONS else {}
    if key not in known:
        raise ConfigError(f"{dotted} is not a config key; see `smile-mirror config default`.")
    value = _check(section, known[key], value, str(path))
    text = path.read_text(encoding="utf-8") if path.exists() else ""
    lines = text.splitlines()
    line = f"{key} = {_toml_value(value)}"
    current = None
    start = end = None
    for i, raw in enumerate(lines):
        head = re.match(r"\s*\[([^\]]+)\]\s*(#.*)?$", raw)
        if head:
            if current == section and end is None:
                end = i
            current = head.group(1).strip()
            if current == section:
                start = i
            continue
        if current == section and re.match(rf"\s*{re.escape(key)}\s*=", raw):
            lines[i] = line
            break
    else:
        if start is None:
            lines += ([""] if lines and lines[-1].strip() else []) + [f"[{section}]", line]
        else:
            at = end if end is not None else len(lines)
            while at > start + 1 and not lines[at - 1].strip():
                at -= 1  # after the section's last key, not after its trailing blank lines
            lines.insert(at, line)
    if "\n".join(lines) + "\n" == text:
        return False
    tmp = path.with_name(path.name + ".part")
    tmp.write_text("\n".join(lines) + "\n", encoding="utf-8")
    try:
        load_config(tmp)
    except ConfigError:
        tmp.unlink()
        raise
    tmp.replace(path)
    return True
