"""The upstream leg: the provider URL a client's request maps to and the headers passed on.
(Credentials are kept out of everything printed by `costmodel._redact`.)
"""

from __future__ import annotations

from collections.abc import Iterable
from urllib.parse import unquote, urlsplit, urlunsplit

from websockets.datastructures import Headers
from websockets.frames import EXTERNAL_CLOSE_CODES

from ..._redact import MASK, Redactor, mask_url, url_secrets
from ...errors import InputError

__all__ = ["HOP_HEADERS", "MASK", "Redactor", "close_code", "forward_headers", "mask_url",
           "path_problem", "upstream_url", "url_secrets", "websocket_url"]

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
        raise InputError(f"--upstream {mask_url(upstream)!r}: expected a ws:// or wss:// URL")
    return upstream


def path_problem(request_path: str) -> str | None:
    """Why a client's request path could step outside the upstream's own path, else None.

    Refused: a path that does not start with a single ``/`` (``//host/x`` reads as a host), a
    backslash, and any segment that is ``.`` or ``..`` or holds a ``/`` or ``\\`` once
    percent-decoded (up to three times: proxies and servers each decode once), with its
    ``;params`` dropped (some servers read ``..;`` as ``..``).

    >>> path_problem("/v1/realtime?model=m") is None
    True
    >>> path_problem("/v1/%2e%2e/admin"), path_problem("/v1/..%2fadmin"), path_problem("//x/y")
    ('a dot segment', 'an encoded slash', 'not a path')
    """
    path = request_path.split("?", 1)[0]
    if not path.startswith("/") or path.startswith("//"):
        return "not a path"
    if "\\" in path:
        return "a backslash"
    for segment in path.split("/"):
        for _ in range(4):  # as sent, then decoded up to three times
            if segment.split(";", 1)[0] in (".", ".."):
                return "a dot segment"
            decoded = unquote(segment)
            if decoded == segment:
                break
            if "/" in decoded or "\\" in decoded:
                return "an encoded slash"
            segment = decoded
    return None


def upstream_url(base: str, request_path: str) -> str:
    """Join the client's request path and query onto the upstream URL (see the package doc).
    InputError for a path that could leave the upstream's own (`path_problem`).

    >>> upstream_url("wss://api.openai.com", "/v1/realtime?model=gpt-realtime")
    'wss://api.openai.com/v1/realtime?model=gpt-realtime'
    """
    problem = path_problem(request_path)
    if problem is not None:
        raise InputError(f"request path {mask_url(request_path)!r}: {problem}")
    b, r = urlsplit(base), urlsplit(request_path)
    path = b.path.rstrip("/") + r.path if r.path not in ("", "/") else (b.path or "/")
    query = "&".join(q for q in (b.query, r.query) if q)
    return urlunsplit((b.scheme, b.netloc, path or "/", query, ""))


def forward_headers(headers: Headers, drop: Iterable[str] = ()) -> list[tuple[str, str]]:
    """The client's end-to-end request headers, in order (hop-by-hop ones and `drop` left out:
    names, any case)."""
    listed = {t.strip().lower() for v in headers.get_all("Connection") for t in v.split(",")}
    listed.update(h.lower() for h in drop)
    return [(k, v) for k, v in headers.raw_items()
            if k.lower() not in HOP_HEADERS and k.lower() not in listed]


def close_code(code: int | None, abnormal: int) -> int:
    """A close code that may be sent on: the peer's own, else `abnormal`.

    >>> close_code(1006, 1014), close_code(4002, 1014)
    (1014, 4002)
    """
    return code if code is not None and (code in EXTERNAL_CLOSE_CODES
                                         or 3000 <= code < 5000) else abnormal
