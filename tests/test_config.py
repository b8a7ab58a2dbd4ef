"""Config: every key checked, every mistake named with file, key and the allowed values."""

from __future__ import annotations

import tomllib
from pathlib import Path

import pytest

from core.config import Config, ConfigError, load_config, to_toml, write_option


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "config.toml"
    path.write_text(text, encoding="utf-8")
    return path


def test_defaults_round_trip_through_the_commented_file(tmp_path: Path) -> None:
    text = to_toml(Config())
    assert load_config(write(tmp_path, text)) == Config()
    assert "[pipeline]" in text and "# " in text
    tomllib.loads(text)


def test_values_are_read(tmp_path: Path) -> None:
    config = load_config(write(tmp_path, '[source]\nspec = "video:/x.mp4"\n[pipeline]\nmax_cpu = 0.3\nscore_hz = 10\n'))
    assert config.source.spec == "video:/x.mp4"
    assert config.pipeline.max_cpu == 0.3
    assert config.pipeline.score_hz == 10.0 and isinstance(config.pipeline.score_hz, float)


@pytest.mark.parametrize("text, words", [
    ("[source]\nspecc = 'demo'\n", ["source.specc", "unknown key", "spec, width"]),
    ("[camera]\nspec = 'demo'\n", ["unknown section [camera]", "source"]),
    ("[pipeline]\nmax_cpu = 'half'\n", ["pipeline.max_cpu", "a number from 0.05 to 1"]),
    ("[pipeline]\nmax_faces = 9\n", ["pipeline.max_faces", "from 1 to 4"]),
    ("[display]\nmode = 'tv'\n", ["display.mode", "'fullscreen'"]),
    ("[run]\nframes = true\n", ["run.frames", "an integer"]),
    ("[booth]\nquota_mb = inf\n", ["booth.quota_mb", "from 0 to 1e+09"]),
    ("[pipeline]\nscore_hz = nan\n", ["pipeline.score_hz", "from 1 to 120"]),
    ("source = 3\n", ["[source] must be a table"]),
    ("[source\nspec=1", ["not valid TOML"]),
])
def test_mistakes_are_named(tmp_path: Path, text: str, words: list[str]) -> None:
    path = write(tmp_path, text)
    with pytest.raises(ConfigError) as info:
        load_config(path)
    message = str(info.value)
    assert str(path) in message
    for word in words:
        assert word in message


def test_an_explicit_missing_file_is_an_error_but_the_system_default_is_optional(tmp_path: Path,
                                                                                 monkeypatch: pytest.MonkeyPatch) -> None:
    with pytest.raises(ConfigError, match="does not exist"):
        load_config(tmp_path / "nope.toml")
    monkeypatch.delenv("SMILE_MIRROR_CONFIG", raising=False)
    monkeypatch.setattr("core.config.SYSTEM_CONFIG", tmp_path / "absent.toml")
    assert load_config() == Config()


def test_environment_variable_names_the_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SMILE_MIRROR_CONFIG", str(write(tmp_path, "[run]\nmode = 'photobooth'\n")))
    assert load_config().run.mode == "photobooth"


def test_unreadable_file(tmp_path: Path) -> None:
    path = tmp_path / "bin.toml"
    path.write_bytes(b"\xff\xfe\x00garbage")
    with pytest.raises(ConfigError, match="cannot be read|not valid TOML"):
        load_config(path)


def test_command_line_overrides_are_checked_too() -> None:
    assert Config().replace({"source.spec": "demo"}).source.spec == "demo"
    with pytest.raises(ConfigError, match="command line: unknown key source.widht"):
        Config().replace({"source.widht": 3})


def test_write_option_keeps_the_rest_of_the_config(tmp_path: Path) -> None:
    cfg = write(tmp_path, '# mine\n[display]\nmode = "headless"\n\n[model]\ndir = "/var/cache/x"\n\n'
                          '[pipeline]\nmax_faces = 2\n')
    write_option(cfg, "model.variant", "int8-weights")
    c = load_config(cfg)
    assert (c.model.variant, c.model.dir, c.display.mode, c.pipeline.max_faces) == ("int8-weights", "/var/cache/x",
                                                                                    "headless", 2)
    assert cfg.read_text().startswith("# mine\n")
    assert cfg.read_text().index("variant") < cfg.read_text().index("[pipeline]"), "inside [model], not after it"
    write_option(cfg, "model.variant", "official")
    assert load_config(cfg).model.variant == "official" and cfg.read_text().count("variant") == 1
    write_option(cfg, "pipeline.max_cpu", 0.25)
    write_option(cfg, "display.diagnostics", True)
    c = load_config(cfg)
    assert (c.pipeline.max_cpu, c.display.diagnostics, c.pipeline.max_faces) == (0.25, True, 2)
    fresh = tmp_path / "new.toml"
    write_option(fresh, "model.variant", "float32")
    assert load_config(fresh).model.variant == "float32"


@pytest.mark.parametrize("key, value, words", [
    ("model.variant", "int4", ["model.variant", "int4", "official"]),
    ("pipeline.max_cpu", 7.0, ["pipeline.max_cpu", "0.05 to 1"]),
    ("model.colour", "red", ["model.colour", "config default"]),
])
def test_write_option_refuses_a_bad_value_and_leaves_the_file_alone(tmp_path: Path, key: str, value: object,
                                                                   words: list[str]) -> None:
    cfg = write(tmp_path, '[model]\nvariant = "float32"\n')
    with pytest.raises(ConfigError) as err:
        write_option(cfg, key, value)
    assert all(w in str(err.value) for w in words), str(err.value)
    assert cfg.read_text() == '[model]\nvariant = "float32"\n'
    assert [p.name for p in tmp_path.iterdir()] == ["config.toml"]
