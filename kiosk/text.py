"""Every word a visitor reads, from one gettext catalogue per language, overridable per venue.

Painters ask for words by key: `t("attract_title")`, `t("group_count", smiling=2, present=3)`.
The keys are the catalogue's msgids; each shipped language (English included) has a `.po` file
in `kiosk/i18n/<lang>/LC_MESSAGES/smile-mirror.po`, extracted from the code with Babel
(the command is in babel.cfg; then `pybabel update --no-fuzzy-matching -i kiosk/i18n/smile-mirror.pot -d kiosk/i18n
-D smile-mirror` and fill in the new msgstr in every language). The `.po`
files ship in the package and are compiled to `.mo` with Babel the first time a language is
used, into the cache folder (keyed by the `.po` file's digest, so an edited catalogue is
recompiled), or in memory where the cache cannot be written: the same words whether the
mirror runs from a clone, a pip install or the Pi installer. A venue's `[text]` table replaces
any string by its key; placeholders such as `{score}` must be the catalogue's own.
"""

from __future__ import annotations

import gettext
import hashlib
import io
import logging
import os
import string
import tempfile
from pathlib import Path
from typing import Mapping

from core.errors import ConfigError
from core.types import SmileKind

log = logging.getLogger(__name__)

DOMAIN = "smile-mirror"
LOCALE_DIR = Path(__file__).with_name("i18n")
SOURCE_LANGUAGE = "en"


def po_path(language: str) -> Path:
    return LOCALE_DIR / language / "LC_MESSAGES" / f"{DOMAIN}.po"


def languages() -> tuple[str, ...]:
    """The shipped languages (those with a catalogue), sorted."""
    return tuple(sorted(p.parent.parent.name for p in LOCALE_DIR.glob(f"*/LC_MESSAGES/{DOMAIN}.po")))


def _compile(po: Path, cache: Path | None) -> gettext.GNUTranslations:
    """The `.po` file as gettext translations, through a `.mo` compiled by Babel into the cache."""
    from babel.messages.mofile import write_mo
    from babel.messages.pofile import read_po

    data = po.read_bytes()
    mo: Path | None = None
    if cache is not None:
        mo = cache / "i18n" / f"{po.parent.parent.name}-{hashlib.sha256(data).hexdigest()[:16]}.mo"
        try:
            with open(mo, "rb") as fh:
                return gettext.GNUTranslations(fh)
        except FileNotFoundError:
            pass
        except Exception as exc:  # a damaged cached file: compile it again
            log.info("recompiling %s (%s)", mo, exc)
    buf = io.BytesIO()
    write_mo(buf, read_po(io.BytesIO(data), locale=po.parent.parent.name, domain=DOMAIN))
    if mo is not None:
        try:
            mo.parent.mkdir(parents=True, exist_ok=True)
            fd, tmp = tempfile.mkstemp(prefix=".tmp-", suffix=".mo", dir=mo.parent)
            with os.fdopen(fd, "wb") as fh:
                fh.write(buf.getvalue())
            os.replace(tmp, mo)
            log.debug("compiled %s to %s", po, mo)
        except OSError as exc:  # a read-only cache: the words still work, compiled in memory
            log.info("cannot keep the compiled catalogue in %s (%s); compiling it in memory", mo.parent,
                     exc.strerror or exc)
    buf.seek(0)
    return gettext.GNUTranslations(buf)


def placeholders(text: str) -> set[str]:
    """The `{name}` fields of a catalogue string."""
    return {name for _, name, _, _ in string.Formatter().parse(text) if name}


class Catalogue:
    """The words of one language, with a venue's overrides on top; call it with a key."""

    def __init__(self, language: str = SOURCE_LANGUAGE, overrides: Mapping[str, str] | None = None, *,
                 cache: Path | None = None) -> None:
        shipped = languages()
        if language not in shipped:
            raise ConfigError(f"display.language = {language!r} is not shipped; choose one of {', '.join(shipped)}.")
        self.language = language
        self._source = _compile(po_path(SOURCE_LANGUAGE), cache)
        self._words = self._source if language == SOURCE_LANGUAGE else _compile(po_path(language), cache)
        if self._words is not self._source:
            self._words.add_fallback(self._source)
        self.overrides = dict(overrides or {})
        check_overrides(self.overrides, self._source)

    def keys(self) -> set[str]:
        return {k for k in self._source._catalog if isinstance(k, str) and k}  # type: ignore[attr-defined]

    def __call__(self, key: str, **values: object) -> str:
        text = self.overrides.get(key) or self._words.gettext(key)
        return text.format(**values) if values else text


def check_overrides(overrides: Mapping[str, object], source: gettext.GNUTranslations | None = None) -> None:
    """A `[text]` table: every key a catalogue key, every value a string using only that key's
    placeholders; raise ConfigError naming the first that is not."""
    source = source or _compile(po_path(SOURCE_LANGUAGE), None)
    known = sorted(k for k in source._catalog if isinstance(k, str) and k)  # type: ignore[attr-defined]
    for key, value in overrides.items():
        if key not in known:
            raise ConfigError(f"unknown key text.{key}; the words that can be replaced are: {', '.join(known)}.")
        if not isinstance(value, str):
            raise ConfigError(f"text.{key} must be a string, not {type(value).__name__}.")
        try:
            fields = placeholders(value)
        except ValueError as exc:
            raise ConfigError(f"text.{key} = {value!r} is not a valid text ({exc}; write {{{{ and }}}} for braces).") \
                from None
        allowed = placeholders(source.gettext(key))
        if not fields <= allowed:
            raise ConfigError(f"text.{key} uses {', '.join('{' + f + '}' for f in sorted(fields - allowed))}, which "
                              f"it cannot fill; it may use {', '.join('{' + f + '}' for f in sorted(allowed)) or 'none'}.")


_active: Catalogue | None = None  # set once at start by use(); English until then


def use(catalogue: Catalogue | None) -> Catalogue | None:
    """Make `catalogue` the one `t()` reads (the app builder does this once, on the main
    thread, before the first frame); returns the previous one so tests can put it back."""
    global _active
    previous, _active = _active, catalogue
    return previous


def t(key: str, **values: object) -> str:
    """The words for `key` in the active language, with `values` filled into its placeholders."""
    global _active
    if _active is None:
        _active = Catalogue()
    return _active(key, **values)


def active_language() -> str:
    """The language `t()` answers in (for a page's `lang` attribute)."""
    return _active.language if _active is not None else SOURCE_LANGUAGE


def N_(key: str) -> str:
    """Marks a key that is looked up later (`t(key)` with a variable), so Babel still extracts it."""
    return key


def kind_label(kind: SmileKind) -> str:
    """The words for a smile kind."""
    if kind is SmileKind.GENUINE:
        return t("kind_genuine")
    if kind is SmileKind.POSED:
        return t("kind_posed")
    return t("kind_none")
