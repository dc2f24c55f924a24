"""Client access control: relay tokens, each naming a tenant scope and a per-session limit.

A token file has one ``TOKEN SCOPE LIMIT_USD`` per line (``#`` comments, blank lines), or, for a
``.yaml`` / ``.yml`` file, a list under ``tokens:`` of ``{token, scope, limit_usd}``. Tokens are
at least 16 characters of ``A-Z a-z 0-9 . _ ~ -`` (``secrets.token_urlsafe(32)`` makes one).

>>> table = TokenTable({"tok-acme-0123456789abcdef": ("acme", "0.50")})
>>> table.check("tok-acme-0123456789abcdef")
Grant(scope='acme', limit_usd=Decimal('0.50'), where='<tokens>')
>>> table.check("tok-acme-0123456789abcdeX") is None
True

Clients present a token as ``Authorization: Bearer <token>`` or, from a browser (which cannot
set headers), as the websocket subprotocol ``costmodel-token.<token>``.
"""

from __future__ import annotations

import hashlib
import hmac
import logging
import os
import re
import stat
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path
from typing import Any

from websockets.datastructures import Headers

from ...errors import CostModelError, InputError
from .limits import session_limit

log = logging.getLogger("costmodel.relay")

TOKEN_SUBPROTOCOL = "costmodel-token."
MIN_TOKEN_CHARS = 16
# Characters valid both in a header and in a subprotocol name (an HTTP token).
_TOKEN_RE = re.compile(r"[A-Za-z0-9._~-]+")
_SCOPE_RE = re.compile(r"[^\s\x00-\x1f\x7f]{1,128}")
_COMMENT_RE = re.compile(r"(^|\s)#.*")
_EXPECTED = "expected TOKEN SCOPE LIMIT_USD, e.g. 'Xk3...Qz acme 0.50'"


@dataclass(frozen=True)
class Grant:
    """What a valid token gives a session: its tenant scope and its per-session USD limit.

    `where` names the token's line (``tokens.txt:3``): the relay logs it when a session starts,
    so the log says which token was used without printing it.
    """

    scope: str
    limit_usd: Decimal
    where: str = ""


@dataclass(frozen=True)
class Presented:
    """The relay token a client presented, and how (``header`` or ``subprotocol``)."""

    token: str
    via: str
    subprotocol: str | None = None   # the offered subprotocol that carried it


class AmbiguousCredentials(ValueError):
    """A handshake with two ``Authorization`` headers or two token subprotocols: refused, so
    that one handshake is one guess, and no two parties disagree on which one counts."""


@dataclass(frozen=True)
class Authentication:
    """What a handshake's credentials come to: a grant (None: refuse, `refusal` says why), the
    token subprotocol the valid token came in, and whether the ``Authorization`` header was
    read as a relay token (then it is never sent upstream, valid or not)."""

    grant: Grant | None
    refusal: str = ""
    subprotocol: str | None = None
    bearer: bool = False


def presented_tokens(headers: Headers) -> list[Presented]:
    """Relay tokens in a handshake request: the bearer token, then the token subprotocol.

    Raises `AmbiguousCredentials` for more than one ``Authorization`` header or more than one
    ``costmodel-token.`` subprotocol.

    >>> h = Headers([("Sec-WebSocket-Protocol", "realtime, costmodel-token.abc")])
    >>> [(p.token, p.via) for p in presented_tokens(h)]
    [('abc', 'subprotocol')]
    """
    found = []
    values = headers.get_all("Authorization")
    if len(values) > 1:
        raise AmbiguousCredentials(f"{len(values)} Authorization headers")
    for value in values:
        scheme, credential = [*value.split(None, 1), "", ""][:2]
        if scheme.lower() == "bearer" and credential.strip():
            found.append(Presented(credential.strip(), "header"))
    protos = [proto.strip() for value in headers.get_all("Sec-WebSocket-Protocol")
              for proto in value.split(",") if proto.strip().startswith(TOKEN_SUBPROTOCOL)]
    if len(protos) > 1:
        raise AmbiguousCredentials(f"{len(protos)} token subprotocols")
    found += [Presented(p[len(TOKEN_SUBPROTOCOL):], "subprotocol", p) for p in protos]
    return found


def _digest(token: str) -> bytes:
    return hashlib.sha256(token.encode("utf-8", "surrogatepass")).digest()


class TokenTable:
    """Valid relay tokens -> `Grant`. Build from a mapping or `TokenTable.load(path)`.

    Only SHA-256 digests are kept, and `check` looks up the digest of what was presented:
    how long the lookup takes depends on that digest, which tells an attacker nothing about
    how close a guess came to a valid token (comparing the tokens themselves byte by byte
    would). The final match is `hmac.compare_digest`.
    """

    def __init__(self, tokens: Mapping[str, Grant | tuple[str, Decimal | str | float]],
                 source: str = "<tokens>") -> None:
        self.source = source
        self._grants: dict[bytes, tuple[bytes, Grant]] = {}
        for token, grant in tokens.items():
            if not isinstance(grant, Grant):
                scope, limit = grant
                grant = Grant(scope, _limit(str(limit), source), source)
            else:
                _limit(str(grant.limit_usd), grant.where or source)
            _check_token(token, source)
            _check_scope(grant.scope, source)
            digest = _digest(token)
            self._grants[digest] = (digest, grant)
        if not self._grants:
            raise InputError(f"{source}: no tokens (every client would be refused)")

    def __len__(self) -> int:
        return len(self._grants)

    def check(self, token: str | None) -> Grant | None:
        """The grant of a valid token, else None."""
        if not token:
            return None
        digest = _digest(token)
        entry = self._grants.get(digest)
        if entry is not None and hmac.compare_digest(entry[0], digest):
            return entry[1]
        return None

    def authenticate(self, headers: Headers) -> Authentication:
        """Check a handshake request's relay token(s); the first valid one wins."""
        try:
            presented = presented_tokens(headers)
        except AmbiguousCredentials as exc:
            return Authentication(None, str(exc), bearer=True)
        bearer = any(p.via == "header" for p in presented)
        for p in presented:
            grant = self.check(p.token)
            if grant is not None:
                return Authentication(grant, subprotocol=p.subprotocol, bearer=bearer)
        return Authentication(None, "invalid token" if presented else "no token", bearer=bearer)

    @classmethod
    def load(cls, path: str | Path) -> TokenTable:
        """Read a token file (see the module doc); InputError naming file:line on a mistake.

        Warns when others can read the file (group or world permissions).
        """
        path = Path(path)
        try:
            text = path.read_text(encoding="utf-8")
            mode = path.stat().st_mode
        except UnicodeDecodeError:
            raise InputError(f"{path}: not UTF-8 text") from None
        except OSError as exc:
            raise InputError(f"--auth-tokens {path}: {exc.strerror or exc}") from None
        if stat.S_IMODE(mode) & 0o077 and os.name == "posix":
            log.warning("token file %s is readable by others (mode %03o): chmod 600 %s",
                        path, stat.S_IMODE(mode), path)
        rows = (_yaml_rows(text, str(path)) if path.suffix.lower() in (".yaml", ".yml")
                else _text_rows(text, str(path)))
        grants: dict[str, Grant] = {}
        lines: dict[str, int] = {}
        for line, token, scope, limit in rows:
            where = f"{path}:{line}"
            _check_token(token, where)
            _check_scope(scope, where)
            if token in grants:
                raise InputError(f"{where}: the same token as line {lines[token]} (each token "
                                 f"must name one scope and limit)")
            grants[token], lines[token] = Grant(scope, _limit(limit, where), where), line
        return cls(grants, source=str(path))


def _text_rows(text: str, path: str) -> Iterable[tuple[int, str, str, str]]:
    for n, raw in enumerate(text.splitlines(), 1):
        line = _COMMENT_RE.sub("", raw).strip()
        if not line:
            continue
        fields = line.split()
        if len(fields) != 3:  # (never echo the line: it holds a token)
            raise InputError(f"{path}:{n}: {len(fields)} field(s); {_EXPECTED}")
        yield n, fields[0], fields[1], fields[2]


def _yaml_rows(text: str, path: str) -> Iterable[tuple[int, str, str, str]]:
    from ..._yamlmarks import line_of, load_with_marks

    try:
        data, node = load_with_marks(text, path)
    except CostModelError as exc:
        raise InputError(str(exc)) from None
    key: list[Any] = []
    if isinstance(data, dict) and set(data) == {"tokens"}:
        data, key = data["tokens"], ["tokens"]
    if not isinstance(data, list):
        raise InputError(f"{path}:{line_of(node, key) or 1}: expected a list under 'tokens:' of "
                         f"{{token, scope, limit_usd}}")
    for i, item in enumerate(data):
        line = line_of(node, [*key, i]) or 1
        if not isinstance(item, dict) or set(item) != {"token", "scope", "limit_usd"}:
            got = sorted(map(str, item)) if isinstance(item, dict) else type(item).__name__
            raise InputError(f"{path}:{line}: expected the keys token, scope and limit_usd, "
                             f"got {got}")
        for k in ("token", "scope"):
            if not isinstance(item[k], str):
                raise InputError(f"{path}:{line_of(node, [*key, i, k]) or line}: {k} must be "
                                 f"a string")
        if isinstance(item["limit_usd"], bool) or not isinstance(item["limit_usd"],
                                                                 int | float | str):
            raise InputError(f"{path}:{line}: limit_usd must be a number")
        yield line, item["token"], item["scope"], str(item["limit_usd"])


def _check_token(token: str, where: str) -> None:
    if not isinstance(token, str) or len(token) < MIN_TOKEN_CHARS \
            or not _TOKEN_RE.fullmatch(token):
        raise InputError(f"{where}: a token must be at least {MIN_TOKEN_CHARS} characters of "
                         "A-Z a-z 0-9 . _ ~ - (make one with: python -c \"import secrets; "
                         "print(secrets.token_urlsafe(32))\")")


def _check_scope(scope: str, where: str) -> None:
    if not isinstance(scope, str) or not _SCOPE_RE.fullmatch(scope):
        raise InputError(f"{where}: the scope must be 1-128 printable characters without "
                         "spaces, e.g. acme")


def _limit(text: str, where: str) -> Decimal:
    return session_limit(text, f"{where}: the limit")
