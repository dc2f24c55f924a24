"""The upstream leg: the provider URL a client's request maps to, the headers passed on, and
credentials kept out of everything printed.

>>> mask_url("wss://user:pw@gw.example/v1?model=m&api-key=sk-123")
'wss://***@gw.example/v1?model=m&api-key=***'
"""

from __future__ import annotations

import logging
import re
from collections.abc import Iterable
from urllib.parse import unquote, unquote_plus, urlsplit, urlunsplit

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


# Query parameters that carry credentials: key, api-key, api_key, token, access_token,
# client_secret, password, sig (Azure SAS)... A false positive only hides a value in a log.
_CREDENTIAL_PARAM = re.compile(r"key|token|secret|passw|pwd|auth|sig|credential", re.IGNORECASE)
MASK = "***"


def _credential_values(query: str) -> list[str]:
    out = []
    for pair in query.split("&"):
        name, eq, value = pair.partition("=")
        if eq and value and _CREDENTIAL_PARAM.search(unquote_plus(name)):
            out.append(value)
    return out


def mask_url(url: str) -> str:
    """The URL with its userinfo and credential query values replaced by ``***``.

    Works on a request path too: ``mask_url("/v1/realtime?key=sk-1")`` ->
    ``'/v1/realtime?key=***'``.
    """
    parts = urlsplit(url)
    netloc = parts.netloc
    if "@" in netloc:
        netloc = f"{MASK}@{netloc.rpartition('@')[2]}"
    query = "&".join(
        f"{p.partition('=')[0]}={MASK}" if _credential_values(p) else p
        for p in parts.query.split("&")) if parts.query else ""
    return urlunsplit((parts.scheme, netloc, parts.path, query, ""))


def url_secrets(url: str) -> list[str]:
    """The credentials in a URL (userinfo, credential query values), raw and decoded."""
    parts = urlsplit(url)
    found = []
    if "@" in parts.netloc:
        userinfo = parts.netloc.rpartition("@")[0]
        found += [s for s in userinfo.split(":", 1) if s]
    found += _credential_values(parts.query)
    return found + [unquote_plus(s) for s in found if unquote_plus(s) != s]


class Redactor:
    """Replaces known secrets in text with ``***``; also a `logging.Filter` doing the same to
    every record it sees (attach it to a handler to cover third-party log lines too).

    >>> Redactor(["sk-live-123456"]).redact("GET wss://x?key=sk-live-123456 failed")
    'GET wss://x?key=*** failed'
    """

    def __init__(self, secrets: Iterable[str]) -> None:
        # Longest first, so a secret that contains another is replaced whole; very short
        # strings are left alone (masking "a" everywhere would garble every message).
        self.secrets = sorted({s for s in secrets if s and len(s) >= 4}, key=len, reverse=True)

    def redact(self, text: str) -> str:
        for secret in self.secrets:
            if secret in text:
                text = text.replace(secret, MASK)
        return text

    def filter(self, record: logging.LogRecord) -> bool:
        if self.secrets:
            msg = record.getMessage()
            clean = self.redact(msg)
            if record.exc_info and record.exc_text is None:
                record.exc_text = logging.Formatter().formatException(record.exc_info)
            if record.exc_text:
                record.exc_text = self.redact(record.exc_text)
            if clean != msg:
                record.msg, record.args = clean, None
        return True


def close_code(code: int | None, abnormal: int) -> int:
    """A close code that may be sent on: the peer's own, else `abnormal`.

    >>> close_code(1006, 1014), close_code(4002, 1014)
    (1014, 4002)
    """
    return code if code is not None and (code in EXTERNAL_CLOSE_CODES
                                         or 3000 <= code < 5000) else abnormal
