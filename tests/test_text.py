"""Visitor words: one catalogue, every key used in the code translated in every shipped
language, venue overrides, logo and accent checked at start."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from babel.messages.extract import extract_from_dir
from babel.messages.pofile import read_po

from core.config import LANGUAGES, Config, load_config
from core.errors import ConfigError
from core.types import SmileKind
from kiosk import text
from kiosk.branding import load_logo, parse_colour

REPO = Path(__file__).resolve().parents[1]


def used_keys() -> set[str]:
    """Every key the code looks up, extracted as Babel extracts it (babel.cfg's keywords)."""
    found = extract_from_dir(REPO / "kiosk", method_map=[("**.py", "python")], keywords={"t": None, "N_": None})
    return {message for _, _, message, _, _ in found}


def catalogue(language: str):
    with open(text.po_path(language), "rb") as fh:
        return read_po(fh)


@pytest.fixture
def english():
    previous = text.use(text.Catalogue("en"))
    yield
    text.use(previous)


def test_every_key_in_the_code_is_in_the_template_and_nothing_else() -> None:
    used = used_keys()
    assert len(used) >= 30
    with open(REPO / "kiosk" / "i18n" / "smile-mirror.pot", "rb") as fh:
        template = {m.id for m in read_po(fh) if m.id}
    assert used - template == set(), "keys used in the code but missing from the catalogue (run pybabel extract)"
    assert template - used == set(), "keys in the catalogue that no code uses any more"


def test_the_shipped_languages_are_the_config_choices() -> None:
    assert text.languages() == tuple(sorted(LANGUAGES))
    assert len(LANGUAGES) >= 3 and "en" in LANGUAGES


@pytest.mark.parametrize("language", LANGUAGES)
def test_every_language_translates_every_key_with_the_same_placeholders(language: str) -> None:
    english_po = {m.id: m.string for m in catalogue("en") if m.id}
    po = {m.id: m for m in catalogue(language) if m.id}
    for key in used_keys():
        assert key in po, f"{language}: {key} missing"
        message = po[key]
        assert message.string and message.string.strip(), f"{language}: {key} is not translated"
        assert not message.fuzzy, f"{language}: {key} is marked fuzzy"
        assert text.placeholders(message.string) == text.placeholders(english_po[key]), f"{language}: {key}"
    if language != "en":  # a translation, not a copy of the English
        same = [k for k in used_keys() if po[k].string == english_po[k]]
        assert len(same) <= 2, f"{language}: left in English: {same}"


def test_words_in_each_language(tmp_path: Path) -> None:
    assert text.Catalogue("en", cache=tmp_path)("kind_genuine") == "Genuine smile"
    assert text.Catalogue("de", cache=tmp_path)("group_count", smiling=2, present=3) == "2 von 3 lächeln"
    assert text.Catalogue("fr", cache=tmp_path)("kind_none") == "Pas de sourire"
    assert text.Catalogue("es", cache=tmp_path)("photo_saved") == "Foto guardada"
    compiled = sorted(p.name.split("-")[0] for p in (tmp_path / "i18n").glob("*.mo"))
    assert compiled == ["de", "en", "es", "fr"]  # each compiled once, from its .po, by Babel


def test_a_compiled_catalogue_is_reused_and_a_damaged_one_rebuilt(tmp_path: Path) -> None:
    text.Catalogue("de", cache=tmp_path)
    mo = next((tmp_path / "i18n").glob("de-*.mo"))
    mo.write_bytes(b"not a catalogue")
    assert text.Catalogue("de", cache=tmp_path)("kind_posed") == "Höfliches Lächeln"
    assert mo.read_bytes()[:4] in (b"\xde\x12\x04\x95", b"\x95\x04\x12\xde")  # a real .mo again


def test_an_unwritable_cache_still_gives_the_words(tmp_path: Path) -> None:
    blocker = tmp_path / "file"
    blocker.write_text("a file where the cache folder would go")
    assert text.Catalogue("fr", cache=blocker / "cache")("kind_genuine") == "Sourire sincère"


def test_a_fresh_process_without_a_cache_compiles_from_the_shipped_po(tmp_path: Path) -> None:
    """What a fresh clone or a pip install does on first start: no .mo anywhere yet."""
    code = ("from kiosk import text; from pathlib import Path; import sys; "
            "c = text.Catalogue('es', cache=Path(sys.argv[1])); print(c('group_everybody'))")
    out = subprocess.run([sys.executable, "-c", code, str(tmp_path / "new")], capture_output=True, text=True,
                         cwd=tmp_path, check=True).stdout
    assert out.strip() == "¡Todos sonríen!"
    assert list((tmp_path / "new" / "i18n").glob("es-*.mo"))


def test_the_po_files_are_package_data() -> None:
    """A non-editable install (the Pi installer's `pip install .`) ships every catalogue."""
    import tomllib

    patterns = tomllib.loads((REPO / "pyproject.toml").read_text())["tool"]["setuptools"]["package-data"]["kiosk"]
    shipped = {p for pattern in patterns for p in (REPO / "kiosk").glob(pattern)}
    assert {text.po_path(lang) for lang in LANGUAGES} <= shipped


def test_venue_overrides_replace_words(tmp_path: Path) -> None:
    config = tmp_path / "venue.toml"
    config.write_text('[display]\nlanguage = "de"\n[text]\nattract_title = "Willkommen im Museum"\n'
                      'group_count = "{smiling}/{present} lachen"\n', encoding="utf-8")
    c = load_config(config)
    words = text.Catalogue(c.display.language, c.text, cache=tmp_path)
    assert words("attract_title") == "Willkommen im Museum"
    assert words("group_count", smiling=1, present=2) == "1/2 lachen"
    assert words("kind_genuine") == "Echtes Lächeln"  # the rest: the language's own


@pytest.mark.parametrize("table, message", [
    ('attract_titel = "x"', "unknown key text.attract_titel"),
    ('group_count = "{people} smiling"', "uses {people}"),
    ('group_count = "{smiling"', "not a valid text"),
])
def test_bad_overrides_are_clear_config_errors(tmp_path: Path, table: str, message: str) -> None:
    config = tmp_path / "venue.toml"
    config.write_text(f"[text]\n{table}\n", encoding="utf-8")
    with pytest.raises(ConfigError, match=message):
        text.Catalogue("en", load_config(config).text, cache=tmp_path)


def test_a_text_value_must_be_a_string(tmp_path: Path) -> None:
    config = tmp_path / "venue.toml"
    config.write_text("[text]\nattract_title = 3\n", encoding="utf-8")
    with pytest.raises(ConfigError, match="text.attract_title = 3 is not allowed; it must be a string"):
        load_config(config)


def test_painters_read_the_active_catalogue(english, tmp_path: Path) -> None:
    text.use(text.Catalogue("fr", {"kind_genuine": "Vrai sourire"}, cache=tmp_path))
    assert text.kind_label(SmileKind.GENUINE) == "Vrai sourire"
    assert text.kind_label(SmileKind.POSED) == "Sourire poli"
    assert text.t("eye_engagement", value=41) == "Sourire des yeux 41"


def test_the_rendered_screen_shows_the_venues_words(english, tmp_path: Path) -> None:
    """The attract screen, drawn by the real renderer, shows the override (measured as the
    width of the ink where the title goes)."""
    from kiosk.display import RecordingDisplay
    from kiosk.modes.lobby import LobbyMode
    from kiosk.render import Renderer
    from kiosk.view import Screen, View

    frame = np.full((480, 640, 3), 90, np.uint8)

    def headline() -> str:
        display = RecordingDisplay(screen=(1280, 720))
        renderer = Renderer(display.canvas)
        renderer.draw(View(Screen.ATTRACT, frame), LobbyMode())
        return " ".join(d.text for d in renderer.painter.drawn if d.role == "headline")

    assert headline() == "How real is your smile?"
    text.use(text.Catalogue("de", {"attract_title": "Willkommen im Museum"}, cache=tmp_path))
    assert headline() == "Willkommen im Museum"


# ---- logo and accent --------------------------------------------------------------------------

def test_a_logo_is_read_as_rgba(tmp_path: Path) -> None:
    import cv2

    path = tmp_path / "logo.png"
    bgra = np.zeros((40, 120, 4), np.uint8)
    bgra[..., 2], bgra[..., 3] = 255, 200  # red, mostly opaque
    cv2.imwrite(str(path), bgra)
    logo = load_logo(path)
    assert logo.shape == (40, 120, 4) and tuple(logo[0, 0]) == (255, 0, 0, 200)


def test_a_missing_or_broken_logo_is_a_config_error(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="does not exist"):
        load_logo(tmp_path / "nope.png")
    broken = tmp_path / "broken.png"
    broken.write_bytes(b"\x89PNG\r\n\x1a\n" + b"\0" * 40)
    with pytest.raises(ConfigError, match="not an image that can be decoded"):
        load_logo(broken)


@pytest.mark.parametrize("logo", ["missing", "broken"])
def test_run_with_a_bad_logo_stops_with_exit_code_2(tmp_path: Path, logo: str) -> None:
    path = tmp_path / "logo.png"
    if logo == "broken":
        path.write_bytes(b"GIF89a garbage")
    config = tmp_path / "c.toml"
    config.write_text(f'[display]\nlogo = "{path}"\n', encoding="utf-8")
    run = subprocess.run([sys.executable, "-m", "kiosk.cli", "run", "--config", str(config), "--display", "headless",
                          "--source", "demo", "--frames", "2"], capture_output=True, text=True, cwd=REPO, timeout=120)
    assert run.returncode == 2, run.stderr
    assert "display.logo" in run.stderr and "Traceback" not in run.stderr


def test_the_accent_colour_is_validated() -> None:
    assert parse_colour("#FFce54") == (255, 206, 84)
    assert Config().replace({"display.accent": "#102030"}).display.accent == "#102030"
    for bad in ("ffce54", "#fff", "#ggffff", "gold"):
        with pytest.raises(ConfigError, match='display.accent .* a colour "#rrggbb"'):
            Config().replace({"display.accent": bad})


def test_the_logo_is_drawn_on_the_attract_screen() -> None:
    """A pure-blue logo shows at the top of the attract screen, and nowhere without one."""
    from kiosk.display import RecordingDisplay
    from kiosk.modes.lobby import LobbyMode
    from kiosk.render import Renderer
    from kiosk.view import Screen, View

    logo = np.zeros((50, 200, 4), np.uint8)
    logo[..., 2], logo[..., 3] = 255, 255

    def blue_share(with_logo: bool) -> float:
        display = RecordingDisplay(screen=(1280, 720))
        Renderer(display.canvas, logo=logo if with_logo else None).draw(
            View(Screen.ATTRACT, np.full((480, 640, 3), 90, np.uint8)), LobbyMode())
        top = display.canvas.snapshot()[:120]
        return float(((top[..., 2] > 200) & (top[..., 0] < 60) & (top[..., 1] < 60)).mean())

    assert blue_share(False) == 0.0
    assert blue_share(True) > 0.02


@pytest.mark.parametrize("language", LANGUAGES)
@pytest.mark.parametrize("size", [(1920, 1080), (1080, 1920)], ids=lambda s: f"{s[0]}x{s[1]}")
def test_every_language_fits_on_the_lobby_screens(english, language: str, size, tmp_path: Path) -> None:
    """Longer words (German, French, Spanish) still fit: every line drawn lies on the screen."""
    from core.types import SmileReading
    from kiosk.coaching import Cue
    from kiosk.display import RecordingDisplay
    from kiosk.modes.lobby import LobbyMode, LobbyView
    from kiosk.render import Renderer
    from kiosk.view import Screen, View

    text.use(text.Catalogue(language, cache=tmp_path))
    frame = np.full((480, 640, 3), 120, np.uint8)
    box = (0.38, 0.05, 0.62, 0.45)
    views = [View(Screen.ATTRACT, frame, source="demo")]
    for kind, cue in ((SmileKind.NONE, Cue.INVITE), (SmileKind.POSED, Cue.EYES), (SmileKind.GENUINE, Cue.REWARD)):
        score = 12.0 if kind is SmileKind.NONE else 78.0
        views.append(View(Screen.MIRROR, frame, SmileReading(t_ms=0, score=score, kind=kind, eye_engagement=60.0,
                                                             box=box, raw_score=score), mode=LobbyView(cue, 0.3)))
    display = RecordingDisplay(screen=size)
    renderer = Renderer(display.canvas)
    screen = (0, 0, *size)
    for view in views:
        renderer.draw(view, LobbyMode())
        for d in renderer.painter.drawn:
            r = d.rect
            assert r.left >= 0 and r.top >= 0 and r.right <= size[0] and r.bottom <= size[1], \
                f"{language} {size}: {d.text!r} at {tuple(r)} leaves the screen {screen}"


@pytest.mark.parametrize("language", LANGUAGES)
@pytest.mark.parametrize("size", [(1920, 1080), (1080, 1920)], ids=lambda s: f"{s[0]}x{s[1]}")
def test_every_language_fits_on_the_mode_screens(english, language: str, size, astronaut, tmp_path: Path) -> None:
    """The booth's, coach's and contagion's words in every language lie whole on the screen."""
    import cv2

    from kiosk.booth import BoothTrigger, PhotoBooth
    from kiosk.display import RecordingDisplay
    from kiosk.experiment import Trial
    from kiosk.experiment_stats import ExperimentStats
    from kiosk.modes.coach import CoachMode
    from kiosk.modes.contagion import ContagionMode
    from kiosk.modes.photobooth import BoothMode
    from kiosk.photos import PhotoStore
    from kiosk.render import Renderer
    from tests.test_booth_screens import booth_screens
    from tests.test_mode_screens import coach_screens, contagion_screens

    text.use(text.Catalogue(language, cache=tmp_path))
    frame = cv2.resize(astronaut, (640, 480))
    contagion = ContagionMode(Trial(), ExperimentStats(tmp_path / "stats"), min_trials=20)
    booth = BoothMode(PhotoBooth(BoothTrigger(require_genuine=True), PhotoStore(tmp_path / "photos"), slideshow=False))
    views = [*((v, booth) for v in booth_screens(frame).values()),
             *((v, CoachMode()) for v in coach_screens(frame).values()),
             *((v, contagion) for v in contagion_screens(frame, contagion.today_line(), contagion.today_line()).values())]
    display = RecordingDisplay(screen=size)
    renderer = Renderer(display.canvas)
    for view, mode in views:
        renderer.draw(view, mode)
        for d in renderer.painter.drawn:
            r = d.rect
            assert r.left >= 0 and r.top >= 0 and r.right <= size[0] and r.bottom <= size[1], \
                f"{language} {size}: {d.text!r} at {tuple(r)} leaves the screen"
