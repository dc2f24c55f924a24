"""The upstream leg: the provider URL a client's request maps to, and the headers passed on."""

from __future__ import annotations

from urllib.parse import urlsplit, urlunsplit

from websockets.datastructures import Headers
from websockets.frames import EXTERNAL_CLOSE_CODES

from ..errors import InputError

# Not forwarded: hop-by-hop headers and the ones the relay's own handshake sets.
HOP_HEADERS = frozenset(h.lower() for h in (
    "Host", "Connection", "Upgrade", "Keep-Alive", "Proxy-Connection", "Proxy-Authorization",
    "Proxy-Authenticate", "TE", "Trailer", "Transfer-Encoding", "Content-Length",
    "Sec-WebSocket-Key", "Sec-WebSocket-Version", "Sec-WebSocket-Extensions",
    "Sec-WebSocket-Protocol", "Sec-WebSocket-Accept"))


def websocket_url(upstream: str) -> str:
    """``http(s)://`` -> ``ws(s)://``; InputError for anything but a websocket URL.

    >>> websocket_url("https://api.openai.com")
    'wss://api.openai.com'
    """
    scheme = urlsplit(upstream).scheme
    if scheme in ("http", "https"):
        return upstream.replace(scheme, "ws" if scheme == "http" else "wss", 1)
    if scheme not in ("ws", "wss"):
        raise InputError(f"--upstream {upstream!r}: expected a ws:// or wss:// URL")
    return upstream


def upstream_url(base: str, request_path: str) -> str:
    """Join the client's request path and query onto the upstream URL (see the package doc).

    >>> upstream_url("wss://api.openai.com", "/v1/realtime?model=gpt-realtime")
    'wss://api.openai.com/v1/realtime?model=gpt-realtime'
    """
    b, r = urlsplit(base), urlsplit(request_path)
    path = b.path.rstrip("/") + r.path if r.path not in ("", "/") else (b.path or "/")
    query = "&".join(q for q in (b.query, r.query) if q)
    return urlunsplit((b.scheme, b.netloc, path or "/", query, ""))


def forward_headers(headers: Headers) -> list[tuple[str, str]]:
    """The client's end-to-end request headers, in order (hop-by-hop ones dropped)."""
    listed = {t.strip().lower() for v in headers.get_all("Connection") for t in v.split(",")}
    return [(k, v) for k, v in headers.raw_items()
            if k.lower() not in HOP_HEADERS and k.lower() not in listed]


def close_code(code: int | None, abnormal: int) -> int:
    """A close code that may be sent on: the peer's own, else `abnormal`.

    >>> close_code(1006, 1014), close_code(4002, 1014)
    (1014, 4002)
    """
    return code if code is not None and (code in EXTERNAL_CLOSE_CODES
                                         or 3000 <= code < 5000) else abnormal
