"""`smile-mirror`: run the mirror, score photos, evaluate, and manage the model.

Every failure we can foresee ends in one sentence on stderr and a non-zero exit code (2 for
bad input or set-up, 1 for anything unexpected), never a traceback on the user's terminal.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import logging
import os
import sys
import time
from pathlib import Path
from typing import Any, Sequence

# MediaPipe's C++ side logs through glog (0.10) or absl (1.x) to fd 2: glog obeys this, absl
# does not, so main() also filters fd 2 (kiosk.native_log) unless --verbose.
os.environ.setdefault("GLOG_minloglevel", "2")
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

from core import assets  # noqa: E402
from core.config import Config, describe, flagged_options, load_config, to_toml, type_of  # noqa: E402
from core.errors import ImageReadError, SmileMirrorError  # noqa: E402
from core.safe_io import OneLineFormatter, shown  # noqa: E402

log = logging.getLogger("smile-mirror")

def frame_size(text: str) -> tuple[int, int]:
    """'640x480' -> (640, 480), for argparse."""
    w, sep, h = text.lower().partition("x")
    if not (sep and w.isdigit() and h.isdigit() and 64 <= int(w) <= 8192 and 48 <= int(h) <= 8192):
        raise argparse.ArgumentTypeError(f"{text!r} is not a frame size such as 640x480 (64-8192 x 48-8192)")
    return int(w), int(h)


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="smile-mirror", description="A smile-score mirror for the Raspberry Pi.",
        epilog="`./mirror [run options]` runs the mirror; `./mirror COMMAND ...` runs a command. "
               "`smile-mirror COMMAND --help` lists a command's options (run's: `./mirror run --help`).")
    sub = p.add_subparsers(dest="command", required=True, metavar="COMMAND")

    run = sub.add_parser("run", help="run the mirror (Pi camera, else a webcam, else the built-in demo)")
    run.add_argument("--config", help="TOML config file (default: $SMILE_MIRROR_CONFIG or /etc/smile-mirror/config.toml)")
    add_config_flags(run)

    score = sub.add_parser("score", help="score photos: one JSON object per image on stdout")
    score.add_argument("paths", nargs="+", type=Path)
    score.add_argument("--max-faces", type=int, default=1, choices=range(1, 5), metavar="N",
                       help="also list up to N (1-4) faces per image")
    score.add_argument("--backend", choices=("auto", "litert", "mediapipe"), help="what runs the Face Landmarker")
    _model_args(score)

    ev = sub.add_parser("eval", help="accuracy, AUC and speed on a folder with labels.csv")
    ev.add_argument("data_dir", type=Path)
    ev.add_argument("--plot", type=Path, help="write score distributions and a reliability curve to this PNG")
    ev.add_argument("--limit", type=int, metavar="N",
                    help="score a fixed random sample of N labelled images (the same N on every run)")
    ev.add_argument("--distant", type=frame_size, metavar="WxH",
                    help="shrink each photo so its face is 64-80 px wide, in a WxH frame (e.g. 640x480: "
                         "a visitor about 1 m from the mirror's camera)")
    ev.add_argument("--no-zoom", dest="zoom", action="store_false", default=None,
                    help="do not zoom in on faces too small for the face detector")
    _model_args(ev)

    bench = sub.add_parser("bench", help="measure the real app loop against a naive one, side by side")
    bench.add_argument("--video", type=Path, help="a face video (default: the demo face recorded at 1280x960)")
    bench.add_argument("--frames", type=int, default=300, help="displayed frames per mode")
    bench.add_argument("--cpus", help="pin every mode to these CPUs, e.g. 0 or 0-1 (a Pi core: use one)")
    bench.add_argument("--no-pace", dest="pace", action="store_false", help="as fast as possible, not real time")
    bench.add_argument("--width", type=int, default=640, help="inference width of the pipeline mode")
    bench.add_argument("--height", type=int, default=480, help="inference height of the pipeline mode")
    bench.add_argument("--json", action="store_true", help="print one JSON object instead of the table")
    bench.add_argument("--screen", type=frame_size, default=(1920, 1080), metavar="WxH",
                       help="the screen size drawn at (default 1920x1080)")
    bench.add_argument("--backends", default="", help="comma-separated backends measured side by side, e.g. "
                       "litert,mediapipe (default: the configured one)")
    bench.add_argument("--threads", type=int, help="LiteRT threads in the app loop (default: pipeline.threads)")
    bench.add_argument("--exporters", action="store_true",
                       help="only the exporters' overhead: the pipeline with Prometheus and MQTT on against off")
    bench.add_argument("--on-screen", action="store_true",
                       help="draw on the real screen, fullscreen, with SDL's own driver and renderer (kmsdrm and "
                            "the GPU on a Pi's console; stop the kiosk first), not SDL's dummy driver")
    bench.add_argument("--share", action="store_true",
                       help="only the share server's overhead: photo booth mode with sharing on (a phone fetching "
                            "every photo each second) against off")
    bench.add_argument("--group", action="store_true",
                       help="also measure group mode (up to 4 faces) on the same video, beside single mode")
    _model_args(bench)

    soak = sub.add_parser("soak", help="run the real app loop for many frames, watching RSS, fds and threads")
    soak.add_argument("--video", type=Path, help="a face video to loop (default: the demo face recorded at 640x480)")
    soak.add_argument("--frames", type=int, default=100_000, help="displayed frames in all")
    soak.add_argument("--every", type=int, default=5_000, help="print RSS, fds and threads every N frames")
    soak.add_argument("--warmup", type=int, help="frames before the baseline sample (default: a tenth, at least --every)")
    soak.add_argument("--max-growth", type=float, default=2.0, help="RSS growth after warm-up that fails (percent)")
    soak.add_argument("--display", choices=("record", "pygame"), default="record",
                      help="off-screen recorder, or a pygame window (SDL's dummy driver when there is no screen)")
    soak.add_argument("--faults", action="store_true", help="also inject camera unplugs and garbage frames")
    _model_args(soak)

    model = sub.add_parser("model", help="provision and check the Face Landmarker model")
    msub = model.add_subparsers(dest="action", required=True)
    for name, text in (("fetch", "obtain and verify the official model (and the demo image)"),
                       ("verify", "check the cached model against its official SHA-256"),
                       ("path", "print the verified model's path")):
        m = msub.add_parser(name, help=text)
        m.add_argument("--dir", type=Path, help="cache folder (default: per-user cache, or model.dir in the config)")
        m.add_argument("--config", help="TOML config file")
    mb = msub.add_parser("build", help="build the float32 / int8-weights / int8-dynamic / int8 variants and gate their accuracy")
    mb.add_argument("variants", nargs="*", metavar="VARIANT", help="float32, int8-weights, int8-dynamic, int8 (default: all)")
    mb.add_argument("--data", type=Path, help="labelled face photos (labels.csv) to gate against the official "
                    "model; without it a build inherits the committed gate result of identical bytes")
    mb.add_argument("--limit", type=int, default=600, help="gate photos (default 600)")
    mb.add_argument("--build-python", help="interpreter with requirements/build.txt (default: .venv/build)")
    mb.add_argument("--record", type=Path, metavar="FILE", help="also add the gate results (needs --data) to this "
                    "record; the committed one that builds inherit is core/offline/variant_gate.json")
    mt = msub.add_parser("tune", help="time the gated variants here and write the fastest into a config")
    mt.add_argument("--write", type=Path, metavar="CONFIG", help="TOML config to set model.variant in")
    mt.add_argument("--seconds", type=float, default=6.0, help="timing budget in total (default 6)")
    mt.add_argument("--cpus", help="pin to these CPUs, e.g. 0 (the kiosk's budget is one core)")
    mt.add_argument("--width", type=int, default=640)
    mt.add_argument("--height", type=int, default=480)
    mp_ = msub.add_parser("parity", help="run the LiteRT and mediapipe backends on the same photos or video "
                          "and print how far apart they are")
    mp_.add_argument("path", type=Path, metavar="DIR|VIDEO", help="a folder of face photos, or a face video")
    mp_.add_argument("--limit", type=int, metavar="N", help="at most N photos (an even spread) or video frames")
    mp_.add_argument("--threads", type=int, default=1, help="LiteRT threads (default 1)")
    mp_.add_argument("--json", action="store_true", help="one JSON object instead of the text")
    for m in (mb, mt, mp_):
        m.add_argument("--dir", type=Path, help="cache folder (default: per-user cache, or model.dir in the config)")
        m.add_argument("--config", help="TOML config file")

    st = sub.add_parser("stats", help="export the anonymous counts: group mode's per hour (visitors, smiles, "
                        "chains), or the contagion experiment's per day and stimulus kind")
    st.add_argument("--format", choices=("json", "csv"), default="json")
    st.add_argument("--counts", choices=("group", "contagion"), default="group", help="which counts (default group)")
    add_config_flags(st, ["run.state_dir"])
    st.add_argument("--config", help="TOML config file")

    cfg = sub.add_parser("config", help="show or check configuration")
    csub = cfg.add_subparsers(dest="action", required=True)
    csub.add_parser("default", help="print a commented default config.toml")
    chk = csub.add_parser("check", help="validate a config file")
    chk.add_argument("file", nargs="?")
    cs = csub.add_parser("set", help="set one key in a config file (checked; comments kept); prints "
                                     "changed or unchanged")
    cs.add_argument("file", type=Path)
    cs.add_argument("key", help="section.key, e.g. mqtt.host")
    cs.add_argument("value", help='a TOML value: 10, true, "text" (a bare word is taken as text)')
    net = csub.add_parser("network", help="print the console unit's network drop-in for the exporters "
                                          "(nothing when [metrics] and [mqtt] are off)")
    net.add_argument("file", nargs="?")
    net.add_argument("--desktop", action="store_true", help="for the desktop session's user unit")
    _add_verbose(p)
    return p


def _add_verbose(parser: argparse.ArgumentParser) -> None:
    """Every command (each leaf of the command tree) takes --verbose."""
    children = [a for a in parser._actions if isinstance(a, argparse._SubParsersAction)]
    if children:
        for child in children[0].choices.values():
            _add_verbose(child)
    elif not any("--verbose" in a.option_strings for a in parser._actions):
        parser.add_argument("--verbose", action="store_true", help="also show MediaPipe's native log")


def add_config_flags(p: argparse.ArgumentParser, keys: Sequence[str] | None = None) -> None:
    """The config's options as flags, each with the config's own help and choices (ranges are
    checked by the config, so a flag and the file accept exactly the same values)."""
    for dotted, f in flagged_options():
        if keys is not None and dotted not in keys:
            continue
        meta, kind, dest = f.metadata, type_of(f), dotted.replace(".", "__")
        flag, text = meta["flag"], meta["help"].replace("%", "%%")
        if kind is bool:
            action = "store_false" if flag.startswith("--no-") else "store_true"
            p.add_argument(flag, dest=dest, action=action, default=None, help=f"{text} (config: {dotted})")
        else:
            p.add_argument(flag, dest=dest, type=kind, default=None, choices=meta["choices"] or None,
                           metavar=None if meta["choices"] else dotted.rpartition(".")[2].upper(),
                           help=f"{text}; {describe(f)} (config: {dotted})")


def _model_args(p: argparse.ArgumentParser) -> None:
    p.add_argument("--model", help="an explicit face_landmarker.task (verified by checksum)")
    p.add_argument("--model-dir", type=Path, help="model cache folder")
    p.add_argument("--config", help="TOML config file")


def config_from_args(args: argparse.Namespace) -> Config:
    config = load_config(getattr(args, "config", None))
    overrides = {key: value for key, _ in flagged_options()
                 if (value := getattr(args, key.replace(".", "__"), None)) is not None}
    return config.replace(overrides) if overrides else config


def model_cache(config: Config, override: Path | None = None) -> Path:
    return Path(override) if override else (Path(config.model.dir) if config.model.dir else assets.default_cache_dir())


def verified_model(config: Config, explicit: str | None = None, cache: Path | None = None,
                   variant: bool = True) -> Path:
    """The model the config names, verified; raises ModelError with the fixing command.
    With `model.variant` set, the built variant if it is intact and passed the gate (issue 5)."""
    path = explicit or config.model.path
    if path:
        return assets.verify(assets.MODEL, Path(path))
    folder = model_cache(config, cache)
    if variant and config.model.variant != "official":
        from core import variants

        return variants.resolve(config.model.variant, folder)
    return assets.verify(assets.MODEL, assets.cached_path(assets.MODEL, folder), folder)


# ---- commands -------------------------------------------------------------------------------

def check_start(config: Config) -> Path:
    """Everything a start needs that can be checked before it: the source named, the files the
    config names, the model. `run` and `config check` both call this, so a config that passes
    the check starts. Returns the verified model; raises one sentence."""
    from core import preflight, sources
    from kiosk.branding import branding_from
    from kiosk.text import check_overrides

    cache = model_cache(config)
    src = config.source
    preflight.check_source(src.spec, cache)
    if src.spec.startswith("video:"):  # a video that never decodes stops the start (images are skipped one by one)
        sources.check_source(src.spec, width=src.width, height=src.height, fps=src.fps, cache=cache)
    preflight.check_readings(config.run.readings)
    check_overrides(config.text)
    branding_from(config.display)  # a missing or undecodable logo stops here
    return verified_model(config)


def cmd_run(args: argparse.Namespace) -> int:
    config = config_from_args(args)
    if not os.environ.get(DEBUG_ENV):
        logging.getLogger().setLevel(config.run.log_level)
    model = check_start(config)
    from kiosk import text
    from kiosk.app import open_readings
    from kiosk.branding import branding_from
    from kiosk.build import build_app
    from kiosk.display import open_display
    from kiosk.notify import SystemdNotifier

    cache = model_cache(config)
    text.use(text.Catalogue(config.display.language, config.text, cache=cache))
    branding = branding_from(config.display)  # a missing or undecodable logo stops here
    with contextlib.ExitStack() as cleanup:  # until the App owns them: a failed start releases all
        display = open_display(config.display.mode, window=(config.display.width, config.display.height),
                               rotate=config.display.rotate)
        cleanup.callback(display.close)
        readings = open_readings(config.run.readings)
        if readings is not None:
            cleanup.callback(readings.close)
        app = build_app(config, model, display=display, cache=cache, notifier=SystemdNotifier(),
                        readings=readings, accent=branding.accent, logo=branding.logo)
        return app.run()


def score_record(path: Path, faces: list, max_faces: int) -> dict[str, Any]:
    from core.scoring import score_face
    from core.types import reading_record

    readings = [score_face(o) for o in faces[:max_faces]]
    record: dict[str, Any] = {"path": shown(path), "face": bool(readings),
                              **reading_record(readings[0] if readings else None)}
    if max_faces > 1:
        record["faces"] = [{"box": [round(v, 4) for v in r.box], **reading_record(r)} for r in readings]
    return record


def score_one(lm, path: Path, max_faces: int) -> dict[str, Any]:
    """One image's JSON record, or {"path", "error"} when it cannot be read or scored. Never
    raises for a bad file (issue 7: a decodable image under 16 px, e.g. a 1x1 PNG, raised
    FrameError and ended the whole batch; so did any other failure inside the model)."""
    import cv2

    from core.errors import FrameError
    from core.image_guard import read_image

    name = shown(path)  # valid JSON and one line, whatever bytes the file name holds
    try:
        decoded = read_image(path)
        record = score_record(path, lm.detect(cv2.cvtColor(decoded.bgr, cv2.COLOR_BGR2RGB), 0.0), max_faces)
        if decoded.warnings:  # libjpeg filled the missing part with grey: say so beside the score
            record["damaged"] = "; ".join(decoded.warnings)
        return record
    except ImageReadError as exc:
        return {"path": name, "error": str(exc)}
    except FrameError as exc:
        return {"path": name, "error": f"{name}: cannot be scored ({exc})"}
    except Exception as exc:  # one bad photo must not end the batch
        log.debug("scoring %s failed", name, exc_info=True)
        return {"path": name, "error": f"{name}: cannot be scored ({type(exc).__name__}: {exc})"}


def cmd_score(args: argparse.Namespace) -> int:
    from core.zoom import face_landmarker

    config = load_config(args.config)
    model = verified_model(config, args.model, args.model_dir)
    failures = 0
    backend = args.backend or config.model.backend
    with contextlib.closing(face_landmarker(model, max_faces=max(1, args.max_faces), still=True,
                                            zoom=config.pipeline.zoom, backend=backend,
                                            threads=config.pipeline.threads)) as lm:
        for path in args.paths:
            record = score_one(lm, path, args.max_faces)
            failures += "error" in record
            print(json.dumps(record), flush=True)
    return 0 if failures == 0 else 3


def cmd_eval(args: argparse.Namespace) -> int:
    from core.offline.evaluate import run_eval

    config = load_config(args.config)
    model = verified_model(config, args.model, args.model_dir)
    zoom = config.pipeline.zoom if args.zoom is None else args.zoom
    return run_eval(args.data_dir, model, plot=args.plot, limit=args.limit, zoom=zoom, distant=args.distant,
                    backend=config.model.backend)


def cmd_bench(args: argparse.Namespace) -> int:
    from kiosk.bench import ON_SCREEN_ENV, run_bench

    if args.on_screen:
        os.environ[ON_SCREEN_ENV] = "1"  # the children inherit it

    config = load_config(args.config)
    model = verified_model(config, args.model, args.model_dir)
    if args.exporters or args.share:
        from kiosk.bench import run_pair_bench

        return run_pair_bench("exporters" if args.exporters else "share", video=args.video, model=model,
                              cache=model_cache(config, args.model_dir), frames=args.frames, pace=args.pace,
                              cpus=args.cpus, width=args.width, height=args.height, screen=args.screen,
                              as_json=args.json)
    return run_bench(video=args.video, model=model, cache=model_cache(config, args.model_dir), frames=args.frames,
                     pace=args.pace, cpus=args.cpus, width=args.width, height=args.height, as_json=args.json,
                     group=args.group, screen=args.screen, backends=bench_backends(args.backends, config),
                     threads=args.threads or config.pipeline.threads)


def bench_backends(text: str, config: Config) -> tuple[str, ...]:
    """`--backends litert,mediapipe` as a tuple of concrete names; empty: the configured one."""
    from core.backends import BACKENDS, resolve
    from core.errors import ConfigError

    names = [n.strip() for n in text.split(",") if n.strip()] or [config.model.backend]
    for n in names:
        if n not in BACKENDS:
            raise ConfigError(f"--backends: {n!r} is not a backend; use {', '.join(BACKENDS[1:])}.")
    return tuple(dict.fromkeys(resolve(n) for n in names))


def cmd_soak(args: argparse.Namespace) -> int:
    from kiosk.soak import run_soak

    config = load_config(args.config)
    model = verified_model(config, args.model, args.model_dir)
    return run_soak(model=model, cache=model_cache(config, args.model_dir), video=args.video, frames=args.frames,
                    every=args.every, warmup=args.warmup, max_growth_pct=args.max_growth, display=args.display,
                    faults=args.faults)


def cmd_model(args: argparse.Namespace) -> int:
    config = load_config(args.config)
    folder = model_cache(config, args.dir)
    if args.action == "fetch":
        progress = _Progress()
        path = assets.ensure(assets.MODEL, folder, progress=progress)
        progress.done()
        assets.ensure(assets.ASTRONAUT, folder)
        print(path)
        return 0
    if args.action == "parity":
        from core.parity import cmd_parity

        return cmd_parity(args.path, verified_model(config, None, folder, variant=False), limit=args.limit,
                          threads=args.threads, as_json=args.json)
    if args.action in ("build", "tune"):
        from core.offline import model_tools

        from core.backends import resolve

        backend = resolve(config.model.backend)  # gate and time on the runtime this device runs
        if args.action == "build":
            return model_tools.cmd_build(folder, args.variants, data=args.data, limit=args.limit,
                                         python=args.build_python, record=args.record, backend=backend)
        return model_tools.cmd_tune(folder, args.write, seconds=args.seconds, cpus=args.cpus,
                                    size=(args.width, args.height), backend=backend,
                                    threads=config.pipeline.threads)
    path = verified_model(config, None, folder, variant=args.action == "path")
    print(path if args.action == "path" else f"OK {path} sha256 {assets.MODEL.sha256}")
    return 0


def cmd_config(args: argparse.Namespace) -> int:
    if args.action == "default":
        print(to_toml(Config()), end="")
        return 0
    if args.action == "set":
        import tomllib

        from core.config import write_option

        try:
            value = tomllib.loads(f"v = {args.value}")["v"]
        except tomllib.TOMLDecodeError:
            value = args.value
        print("changed" if write_option(args.file, args.key, value) else "unchanged")
        return 0
    if args.action == "network":
        from kiosk.netpolicy import network_dropin

        print(network_dropin(load_config(args.file), desktop=args.desktop), end="")
        return 0
    check_start(load_config(args.file))  # what a start would refuse, the check refuses
    print("config OK")
    return 0


class _Progress:
    """A one-line download progress meter on stderr (only when it is a terminal)."""

    def __init__(self) -> None:
        self._shown = False
        self._last = 0.0

    def __call__(self, done: int, total: int) -> None:
        if not sys.stderr.isatty() or time.monotonic() - self._last < 0.1:
            return
        self._last = time.monotonic()
        pct = f"{100 * done / total:5.1f}%" if total else ""
        sys.stderr.write(f"\rdownloading model {done / 1e6:6.1f} MB {pct}")
        self._shown = True

    def done(self) -> None:
        if self._shown:
            sys.stderr.write("\n")


def cmd_stats(args: argparse.Namespace) -> int:
    """Group mode's counts per hour, or the contagion experiment's per day, as JSON or CSV on stdout."""
    from core.config import state_dir

    if getattr(args, "counts", "group") == "contagion":
        from kiosk.experiment_stats import export
    else:
        from kiosk.group_stats import export
    config = config_from_args(args)
    sys.stdout.write(export(state_dir(config), args.format))
    return 0


def _one_line(text: str) -> str:
    return text if text.isprintable() else "".join(c if c.isprintable() else repr(c)[1:-1] for c in text)


COMMANDS = {"run": cmd_run, "score": cmd_score, "eval": cmd_eval, "bench": cmd_bench, "soak": cmd_soak,
            "model": cmd_model, "stats": cmd_stats, "config": cmd_config}
DEBUG_ENV = "SMILE_MIRROR_DEBUG"


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    verbose = getattr(args, "verbose", False)
    if not verbose:
        from kiosk.native_log import silence_native_log

        silence_native_log()
    if verbose and args.command == "run" and not getattr(args, "run__log_level", None):
        args.run__log_level = "DEBUG"
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(OneLineFormatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
    logging.basicConfig(level=logging.DEBUG if os.environ.get(DEBUG_ENV) or verbose else logging.INFO,
                        handlers=[handler])
    try:
        return COMMANDS[args.command](args)
    except SmileMirrorError as exc:
        print(f"smile-mirror: {_one_line(str(exc))}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        return 130
    except Exception as exc:  # unexpected: full detail to the log, one line to the person
        log.debug("unexpected error", exc_info=True)
        print(f"smile-mirror: unexpected error: {type(exc).__name__}: {_one_line(str(exc))} (set {DEBUG_ENV}=1 for the "
              f"traceback)", file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main())
