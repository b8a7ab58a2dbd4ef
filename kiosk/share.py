"""Share by QR code: the booth's own small web server and the QR code that points at it.

The server (waitress, a WSGI server made for production, in its own thread) answers exactly
three kinds of request for a live token, and a plain 404 for anything else: no index, no
listing, no other file of the state folder. Paths are matched whole against a token pattern,
never joined to the file system, so `..`, encoded variants and directory requests cannot
reach a file; the photo's name comes from the token store, not from the URL.

  GET /p/<token>            a small phone-friendly page: the photo, a download button, the event text
  GET /p/<token>/photo.jpg  the photo's exact bytes
  GET /p/<token>/logo       the event's logo (when configured)
"""

from __future__ import annotations

import html
import logging
import re
import threading
from pathlib import Path
from typing import Any, Callable, Iterable

from kiosk.share_tokens import TokenStore
from kiosk.text import active_language, t

log = logging.getLogger(__name__)

ROUTE = re.compile(r"/p/([A-Za-z0-9_-]{22,64})(/photo\.jpg|/logo)?")
NOT_FOUND = b"Not found\n"

PAGE = """<!doctype html>
<html lang="{lang}"><head><meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta name="referrer" content="no-referrer">
<title>{title}</title>
<style>
body{{margin:0;font-family:system-ui,sans-serif;background:#14161c;color:#f4f1ea;text-align:center}}
main{{max-width:40rem;margin:0 auto;padding:1.2rem}}
img.photo{{width:100%;border-radius:.6rem;box-shadow:0 .3rem 1.2rem #000a}}
img.logo{{max-height:4rem;max-width:60%;margin:.4rem auto 1rem;display:block}}
h1{{font-size:1.4rem;font-weight:600;margin:.2rem 0 1rem}}
a.button{{display:inline-block;margin:1.2rem 0;padding:.9rem 2.2rem;border-radius:2rem;background:#f2b632;
color:#14161c;font-weight:700;text-decoration:none;font-size:1.15rem}}
p{{color:#a9a7a0;font-size:.9rem}}
</style></head><body><main>
{logo}<h1>{title}</h1>
<img class="photo" src="{base}/photo.jpg" alt="{alt}">
<a class="button" href="{base}/photo.jpg" download="{filename}">{download}</a>
<p>{expires}</p>
</main></body></html>
"""


class ShareApp:
    """The WSGI application: pages and photos by token, 404 for everything else."""

    def __init__(self, tokens: TokenStore, photo_dir: Path, *, event_text: str = "", logo: Path | None = None,
                 hours: float = 24.0) -> None:
        self.tokens, self.photo_dir = tokens, Path(photo_dir)
        self.event_text = event_text
        self.logo = logo if logo and Path(logo).is_file() else None
        self.hours = hours

    def __call__(self, environ: dict[str, Any], start_response: Callable) -> Iterable[bytes]:
        try:
            return self._answer(environ, start_response)
        except Exception:  # never a traceback to a guest's phone
            log.exception("share server: request failed")
            return _plain(start_response, "500 Internal Server Error", b"Something went wrong\n")

    def _answer(self, environ: dict[str, Any], start_response: Callable) -> Iterable[bytes]:
        if environ.get("REQUEST_METHOD") not in ("GET", "HEAD"):
            return _plain(start_response, "404 Not Found", NOT_FOUND)
        route = ROUTE.fullmatch(environ.get("PATH_INFO", ""))
        name = self.tokens.lookup(route.group(1)) if route else None
        if route is None or name is None:
            return _plain(start_response, "404 Not Found", NOT_FOUND)
        token, what = route.group(1), route.group(2)
        if what == "/photo.jpg":
            return self._file(start_response, self.photo_dir / name, "image/jpeg")
        if what == "/logo":
            if self.logo is None:
                return _plain(start_response, "404 Not Found", NOT_FOUND)
            kind = "image/png" if self.logo.suffix.lower() == ".png" else "image/jpeg"
            return self._file(start_response, self.logo, kind)
        logo = f'<img class="logo" src="/p/{token}/logo" alt="">' if self.logo else ""
        e = html.escape
        body = PAGE.format(title=e(self.event_text or t("share_title")), logo=logo, base=f"/p/{token}",
                           filename=e(name), lang=e(active_language()), alt=e(t("share_photo_alt")),
                           download=e(t("share_download")), expires=e(t("share_expires", hours=f"{self.hours:g}"))
                           ).encode()
        start_response("200 OK", [("Content-Type", "text/html; charset=utf-8"), ("Content-Length", str(len(body))),
                                  ("Cache-Control", "no-store"), ("X-Content-Type-Options", "nosniff"),
                                  ("Content-Security-Policy", "default-src 'none'; img-src 'self'; "
                                                              "style-src 'unsafe-inline'")])
        return [body]

    @staticmethod
    def _file(start_response: Callable, path: Path, kind: str) -> Iterable[bytes]:
        try:
            data = path.read_bytes()
        except OSError:  # pruned by the quota, or the disk went away
            return _plain(start_response, "404 Not Found", NOT_FOUND)
        start_response("200 OK", [("Content-Type", kind), ("Content-Length", str(len(data))),
                                  ("Cache-Control", "no-store"), ("X-Content-Type-Options", "nosniff")])
        return [data]


def _plain(start_response: Callable, status: str, body: bytes) -> Iterable[bytes]:
    start_response(status, [("Content-Type", "text/plain; charset=utf-8"), ("Content-Length", str(len(body)))])
    return [body]


class ShareServer:
    """waitress serving a ShareApp from its own thread, bound only to `host:port`."""

    def __init__(self, app: ShareApp, *, host: str, port: int, public_url: str = "") -> None:
        import waitress  # only when sharing is on

        self.app = app
        self._server = waitress.create_server(app, host=host, port=port, threads=2, ident=None,
                                              expose_tracebacks=False, clear_untrusted_proxy_headers=True)
        self.port = int(self._server.effective_port)  # type: ignore[union-attr]
        self.public_url = (public_url or f"http://{host}:{self.port}").rstrip("/")
        self._thread = threading.Thread(target=self._server.run, name="share-server", daemon=True)
        self._thread.start()
        log.info("share server listening on %s:%d (links: %s)", host, self.port, self.public_url)

    def url_for(self, token: str) -> str:
        return f"{self.public_url}/p/{token}"

    def close(self) -> None:
        """Stops serving. The sockets are closed by the server's own thread (through waitress's
        trigger): closed from here, its loop would select on a closed descriptor and die with
        EBADF. Then its request threads are stopped."""
        if self._thread.is_alive():
            self._server.trigger.pull_trigger(self._close_sockets)
            self._thread.join(timeout=5)
        else:
            self._close_sockets()
        self._server.task_dispatcher.shutdown()

    def _close_sockets(self) -> None:
        """Every socket of the loop (open connections, the trigger, the listener): the loop then
        has nothing left to watch and returns."""
        for channel in list(self._server._map.values()):  # type: ignore[union-attr]
            channel.close()


class Sharing:
    """Tokens, server and URLs for the booth: `share(photo)` gives the URL for its QR code."""

    def __init__(self, tokens: TokenStore, server: ShareServer) -> None:
        self.tokens, self.server = tokens, server

    @classmethod
    def from_config(cls, config: Any, state_dir: Path) -> "Sharing":
        b = config.booth
        tokens = TokenStore(state_dir, hours=b.share_hours)
        app = ShareApp(tokens, Path(state_dir) / "photos", event_text=b.event_text,
                       logo=Path(b.logo) if b.logo else None, hours=b.share_hours)
        return cls(tokens, ShareServer(app, host=b.share_host, port=b.share_port, public_url=b.share_url))

    def share(self, photo: Path) -> str:
        return self.server.url_for(self.tokens.add(photo.name))

    def close(self) -> None:
        self.server.close()


def qr_surface(url: str, size: int) -> Any:
    """The URL's QR code as a pygame Surface about `size` pixels square (quiet zone included),
    dark modules on white, each module a whole number of pixels so it stays sharp."""
    import numpy as np
    import pygame
    import segno

    qr = segno.make(url, error="m", micro=False)
    matrix = np.array([list(row) for row in qr.matrix_iter(scale=1, border=4)], dtype=bool)
    modules = matrix.shape[0]
    scale = max(1, size // modules)
    grey = np.where(matrix, 0, 255).astype(np.uint8).repeat(scale, 0).repeat(scale, 1)
    rgb = np.stack([grey] * 3, axis=-1)
    return pygame.surfarray.make_surface(rgb.transpose(1, 0, 2))
