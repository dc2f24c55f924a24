"""Credentials kept out of everything printed: URLs with their secrets masked, and a log
filter that masks known secrets in every record (ours and third-party libraries').

>>> mask_url("wss://user:pw@gw.example/v1?model=m&api-key=sk-123")
'wss://***@gw.example/v1?model=m&api-key=***'
>>> mask_url("redis://:s3cret@cache:6379/0?password=x")
'redis://***@cache:6379/0?password=***'
"""

from __future__ import annotations

import logging
import re
from collections.abc import Iterable
from urllib.parse import unquote_plus, urlsplit, urlunsplit

__all__ = ["MASK", "Redactor", "mask_url", "url_secrets"]

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
    if netloc == parts.netloc and query == parts.query:
        # Nothing to mask: the URL as given (urlunsplit would drop an empty authority of a
        # scheme it does not know: "sqlite:///spend.db" would come back "sqlite:/spend.db").
        return url.partition("#")[0]
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
