"""Relay access control, attacked with real parts: a real relay on loopback in front of the fake
upstream, real websocket clients, and `costmodel guard serve` as a subprocess.

Measured on main before this: anyone who could reach the port was relayed upstream on the
operator's credentials, and the banner and every warning printed the upstream URL with its key.
"""

from __future__ import annotations

import asyncio
import json
import logging
import os
import signal
import subprocess
import sys
import urllib.request
from decimal import Decimal
from pathlib import Path

import pytest
from typer.testing import CliRunner
from websockets.asyncio.client import connect
from websockets.asyncio.server import serve as ws_serve
from websockets.exceptions import InvalidStatus

from costmodel.cli import app
from costmodel.errors import InputError
from costmodel.guard.relay import Relay, TokenTable, mask_url
from costmodel.guard.relay.upstream import url_secrets
from costmodel.ledger import open_ledger

from .fake_upstream import FakeUpstream
from .test_relay import (
    PATH,
    cost_of,
    recv,
    relay_stack,
    run,
    spend_log,
    talk_until_closed,
    turn,
    wait_for,
)

ACME = "acme-tok-0123456789abcdefXYZ"
GLOBEX = "globex-tok-9876543210fedcbaQRS"
TOKENS = TokenTable({ACME: ("acme", "5.00"), GLOBEX: ("globex", "0.10")})
PROVIDER_KEY = "sk-from-env-PROVIDERSECRET42"


def ws(url: str, token: str | None = None, *, how: str = "header", headers=None,
       subprotocols=None, **kw):
    headers = dict(headers or {})
    protos = list(subprotocols or [])
    if token is not None and how == "header":
        headers["Authorization"] = f"Bearer {token}"
    elif token is not None:
        protos.append(f"costmodel-token.{token}")
    return connect(url + PATH, additional_headers=headers, subprotocols=protos or None,
                   open_timeout=3, proxy=None, **kw)


async def refused(url: str, token: str | None, **kw) -> tuple[int, str, dict]:
    with pytest.raises(InvalidStatus) as info:
        async with ws(url, token, **kw):
            pass
    res = info.value.response
    return res.status_code, (res.body or b"").decode(), dict(res.headers.raw_items())


# -- refusals ----------------------------------------------------------------------------

def test_clients_without_a_valid_token_are_refused_with_401(tmp_path, caplog):
    caplog.set_level(logging.WARNING, "costmodel.relay")

    async def main():
        async with relay_stack(tmp_path, limit=None, auth=TOKENS) as (up, relay, url):
            results = [await refused(url, None),
                       await refused(url, ACME[:-1] + "Q"),             # one character off
                       await refused(url, "x" * 40, how="subprotocol"),
                       await refused(url, None, headers={"Authorization": f"Basic {ACME}"})]
            # ...and the key in a client's query is masked in the refusal log
            async with asyncio.timeout(3):
                with pytest.raises(InvalidStatus):
                    async with connect(url + PATH + "&api_key=sk-CLIENTKEY-1", proxy=None):
                        pass
            return up.conns, results, relay.metrics

    conns, results, metrics = run(main())
    assert conns == []  # nothing was connected upstream for any of them
    for status, body, headers in results:
        assert status == 401
        assert body == "costmodel relay: a valid token is required\n"  # no hint of any token
        assert headers["WWW-Authenticate"].startswith("Bearer")
    assert metrics.value("costmodel_relay_refused_handshakes_total", reason="unauthorized") == 5
    logged = "\n".join(r.getMessage() for r in caplog.records)
    assert "refused 127.0.0.1" in logged and "unauthorized" in logged
    for secret in (ACME, GLOBEX, ACME[:-1] + "Q", "sk-CLIENTKEY-1"):
        assert secret not in logged


def test_a_token_picks_the_scope_and_the_limit(tmp_path):
    ledger = open_ledger(f"sqlite:///{tmp_path / 'spend.db'}")

    async def main():
        async with relay_stack(tmp_path, limit=None, auth=TOKENS, ledger=ledger) as (
                up, relay, url):
            async with ws(url, ACME) as client:       # $5 a session: two turns, no cut
                await recv(client)
                await turn(client, [])
                await turn(client, [])
            async with ws(url, GLOBEX) as client:     # $0.10 a session: cut
                await recv(client)
                seen = await talk_until_closed(client)
                code = client.close_code
            await wait_for(lambda: relay.sessions_done == 2)
            return up.conns, seen, code

    try:
        conns, seen, code = run(main())
        acme, globex = spend_log(tmp_path)
        assert (acme["scope"], acme["limit_usd"], acme["end"]) == ("acme", "5.00",
                                                                   "client_closed")
        assert (globex["scope"], globex["limit_usd"], globex["end"]) == ("globex", "0.10", "cut")
        assert code == 4002 and seen[-1]["error"]["type"] == "budget_exceeded"
        spent = Decimal(globex["spent_usd"])
        assert spent == cost_of(conns[1].responses) and Decimal(0) < spent <= Decimal("0.10")
        # The ledger's records carry the token's scope.
        assert ledger.spent(scope="acme") == Decimal(acme["spent_usd"]) == cost_of(2)
        assert ledger.spent(scope="globex") == spent
        assert {r.scope for r in ledger.records(session_id=globex["session_id"])} == {"globex"}
        # The relay token was never sent upstream (no provider key either: none was given).
        for conn in conns:
            assert "authorization" not in conn.headers
            assert not any(ACME in v or GLOBEX in v for v in conn.headers.values())
    finally:
        ledger.close()


def test_browser_subprotocol_token_is_stripped_and_never_sent_upstream(tmp_path):
    async def main():
        async with relay_stack(tmp_path, limit=None, auth=TOKENS) as (up, _relay, url):
            async with ws(url, ACME, how="subprotocol", subprotocols=["realtime"],
                          headers={"api-key": "sk-client-own-key"}) as a:
                await recv(a)
                first = a.subprotocol
            # Offered nothing else: the relay selects the token's subprotocol, since a
            # browser fails a handshake in which none of its offers was selected.
            async with ws(url, ACME, how="subprotocol") as b:
                await recv(b)
                second = b.subprotocol
            return up.conns, first, second

    conns, first, second = run(main())
    assert first == "realtime" and conns[0].subprotocols == ["realtime"]
    assert conns[0].headers["api-key"] == "sk-client-own-key"  # the client's own provider key
    assert second == f"costmodel-token.{ACME}" and conns[1].subprotocols == []
    for conn in conns:
        assert not any(ACME in v for v in conn.headers.values())


def test_a_bearer_token_the_relay_read_is_never_forwarded(tmp_path):
    """Measured before: a wrong (say, rotated) relay token in ``Authorization`` next to a valid
    token subprotocol was passed on to the provider."""
    rotated = "acme-OLD-tok-rotated-0000000000"

    async def main():
        async with relay_stack(tmp_path, limit=None, auth=TOKENS) as (up, _relay, url):
            async with ws(url, ACME, how="subprotocol", subprotocols=["realtime"],
                          headers={"Authorization": f"Bearer {rotated}"}) as a:
                await recv(a)
            async with ws(url, ACME, how="subprotocol", subprotocols=["realtime"],
                          headers={"Authorization": "Basic dXNlcjpwdw=="}) as b:
                await recv(b)  # (not a bearer token: not the relay's, passed on)
            return up.conns

    wrong, basic = run(main())
    assert "authorization" not in wrong.headers
    assert not any(rotated in v or ACME in v for v in wrong.headers.values())
    assert basic.headers["authorization"] == "Basic dXNlcjpwdw=="


def test_two_authorization_headers_or_token_subprotocols_are_refused_401(tmp_path, caplog):
    """Measured before: two ``Authorization`` headers made the handshake fail with HTTP 500 and
    a traceback per request, unauthenticated; a handshake could offer any number of token
    subprotocols (one guess each)."""
    caplog.set_level(logging.INFO)
    guesses = [f"costmodel-token.guess-{i:02d}-0123456789abcdef" for i in range(50)]

    async def two_headers(url: str) -> int:
        with pytest.raises(InvalidStatus) as info:
            async with connect(url + PATH, proxy=None, open_timeout=3, additional_headers=[
                    ("Authorization", f"Bearer {ACME}"), ("Authorization", "Bearer x")]):
                pass
        return info.value.response.status_code

    async def main():
        async with relay_stack(tmp_path, limit=None, auth=TOKENS) as (up, relay, url):
            results = [(await two_headers(url), "", {}) for _ in range(3)]
            results.append(await refused(url, ACME, how="subprotocol",
                                         subprotocols=[*guesses, "realtime"]))
            results.append(await refused(url, ACME, how="subprotocol",
                                         subprotocols=[f"costmodel-token.{GLOBEX}"]))
            return up.conns, results, relay.metrics

    conns, results, metrics = run(main())
    assert conns == []
    assert [status for status, _, _ in results] == [401] * 5
    assert metrics.value("costmodel_relay_refused_handshakes_total", reason="unauthorized") == 5
    assert not [r for r in caplog.records if r.exc_info or r.levelno > logging.WARNING]
    refusals = [r.getMessage() for r in caplog.records if "refused" in r.getMessage()]
    assert len(refusals) == 1 and "2 Authorization headers" in refusals[0]  # rate-limited


def test_upstream_auth_from_the_relay_replaces_client_credentials(tmp_path):
    async def main():
        async with relay_stack(tmp_path, limit=None, auth=TOKENS,
                               upstream_auth=f"Bearer {PROVIDER_KEY}") as (up, _relay, url):
            async with ws(url, ACME, headers={"api-key": "sk-client-azure-key",
                                              "OpenAI-Beta": "realtime=v1"},
                          subprotocols=["realtime", "openai-insecure-api-key.sk-client-2"]) as c:
                await recv(c)
                await turn(c, [])
            return up.conns[0]

    conn = run(main())
    assert conn.headers["authorization"] == f"Bearer {PROVIDER_KEY}"
    assert "api-key" not in conn.headers
    assert conn.headers["openai-beta"] == "realtime=v1"
    assert conn.subprotocols == ["realtime"]
    assert ACME not in json.dumps(conn.headers) and conn.responses == 1


@pytest.mark.parametrize("where", ["upstream_auth", "query", "userinfo"])
def test_a_refused_relay_key_is_not_quoted_to_clients(tmp_path, caplog, where):
    """Whenever the relay brings the provider key, an upstream 401 reaches the client as a
    plain 502. Measured before: with the key in --upstream (``?api-key=``, ``user:key@``) the
    provider's answer, which quoted most of the key, was passed on to the client."""
    async def refuse(conn, request):
        return conn.respond(401, f"Incorrect API key provided: {PROVIDER_KEY[:8]}****"
                                 f"{PROVIDER_KEY[-4:]}; also {PROVIDER_KEY[3:]}\n")

    async def main():
        async with ws_serve(lambda ws: None, "127.0.0.1", 0, process_request=refuse) as srv:
            port = next(iter(srv.sockets)).getsockname()[1]
            url, kw = f"ws://127.0.0.1:{port}/v1", {}
            if where == "upstream_auth":
                kw["upstream_auth"] = f"Bearer {PROVIDER_KEY}"
            elif where == "query":
                url += f"?api-key={PROVIDER_KEY}"
            else:
                url = f"ws://relay:{PROVIDER_KEY}@127.0.0.1:{port}/v1"
            relay = Relay(url, auth=TOKENS, proxy=None, **kw)
            _, rport = await relay.start("127.0.0.1:0")
            try:
                return await refused(f"ws://127.0.0.1:{rport}", ACME)
            finally:
                await relay.close()

    status, body, _ = run(main())
    assert (status, body) == (502, "costmodel relay: the upstream refused the relay\n")
    assert any("refused the relay's credentials" in r.getMessage() for r in caplog.records)


def test_listening_beyond_loopback_without_auth_warns_loudly(tmp_path, caplog):
    caplog.set_level(logging.WARNING, "costmodel.relay")

    async def main():
        async with FakeUpstream() as up:
            for auth in (None, TOKENS):
                relay = Relay(up.url, None if auth else "1", auth=auth, proxy=None)
                await relay.start("0.0.0.0:0")
                await relay.close()
            relay = Relay(up.url, "1", proxy=None)
            await relay.start("127.0.0.1:0")
            await relay.close()

    run(main())
    warnings = [r.getMessage() for r in caplog.records if "AUTHENTICATION" in r.getMessage()]
    assert len(warnings) == 1 and "0.0.0.0" in warnings[0]


# -- token files ---------------------------------------------------------------------------

def write_tokens(tmp_path: Path, name: str, text: str, mode: int = 0o600) -> Path:
    path = tmp_path / name
    path.write_text(text)
    path.chmod(mode)
    return path


def test_token_files_text_and_yaml(tmp_path, caplog):
    text = write_tokens(tmp_path, "tokens.txt", f"""# token  scope  limit
{ACME}   acme    0.50   # the support line
\t{GLOBEX} globex 2
""")
    table = TokenTable.load(text)
    assert len(table) == 2 and table.check(GLOBEX).scope == "globex"
    grant = table.check(ACME)
    assert (grant.scope, grant.limit_usd, grant.where) == ("acme", Decimal("0.50"),
                                                           f"{text}:2")
    yml = write_tokens(tmp_path, "tokens.yaml", f"""tokens:
  - {{token: {ACME}, scope: acme, limit_usd: 0.5}}
  - token: {GLOBEX}
    scope: globex
    limit_usd: "1.25"
""")
    table = TokenTable.load(yml)
    assert table.check(GLOBEX).limit_usd == Decimal("1.25")
    assert table.check(GLOBEX).where == f"{yml}:3"
    assert not caplog.records  # 0600: no warning


def test_a_session_start_names_its_token_line_never_the_token(tmp_path, caplog):
    caplog.set_level(logging.INFO, "costmodel.relay")
    path = write_tokens(tmp_path, "tokens.txt", f"# tenants\n{ACME} acme 0.50\n")

    async def main():
        async with relay_stack(tmp_path, limit=None, auth=TokenTable.load(path)) as (
                _up, relay, url):
            async with ws(url, ACME) as c:
                await recv(c)
            await wait_for(lambda: relay.sessions_done == 1)

    run(main())
    messages = [r.getMessage() for r in caplog.records]
    assert any(m.endswith(f"started: scope acme (token {path}:2), limit $0.50")
               for m in messages), messages
    assert not any(ACME in m for m in messages)


@pytest.mark.parametrize("name, text, expected", [
    ("t.txt", f"{ACME} acme\n", "t.txt:1: 2 field(s); expected TOKEN SCOPE LIMIT_USD"),
    ("t.txt", f"# c\n\n{ACME} acme 0.5 extra\n", "t.txt:3: 4 field(s)"),
    ("t.txt", "short acme 0.5\n", "t.txt:1: a token must be at least 16 characters"),
    ("t.txt", f"{ACME}/+= acme 0.5\n", "t.txt:1: a token must be at least 16 characters"),
    ("t.txt", f"{ACME} acme -1\n", "t.txt:1: the limit must be a positive amount in USD"),
    ("t.txt", f"{ACME} acme lots\n", "t.txt:1: the limit must be a positive amount"),
    ("t.txt", f"{ACME} acme NaN\n", "t.txt:1: the limit must be a positive amount"),
    ("t.txt", f"{ACME} acme 1e999999999\n", "t.txt:1: the limit must be a positive amount in "
                                          "USD, at most 1000000"),
    ("t.txt", f"{ACME} acme 1\n{ACME} globex 2\n", "t.txt:2: the same token as line 1"),
    ("t.txt", "# nothing yet\n", "t.txt: no tokens"),
    ("t.yaml", f"tokens:\n  - {{token: {ACME}, scope: acme}}\n",
     "t.yaml:2: expected the keys token, scope and limit_usd"),
    ("t.yaml", f"tokens:\n  - {{token: {ACME}, scope: [a], limit_usd: 1}}\n",
     "t.yaml:2: scope must be a string"),
    ("t.yaml", "tokens: {a: 1}\n", "t.yaml:1: expected a list under 'tokens:'"),
    ("t.yaml", "tokens: [\n", "t.yaml:2: invalid YAML"),
])
def test_bad_token_files_name_file_and_line(tmp_path, name, text, expected):
    path = write_tokens(tmp_path, name, text)
    with pytest.raises(InputError) as info:
        TokenTable.load(path)
    assert str(info.value).startswith(str(tmp_path / expected.split(":")[0]))
    assert expected.split(":", 1)[1] in str(info.value)
    assert ACME not in str(info.value)  # a token is never echoed back


def test_cli_token_file_errors_exit_2_and_loose_modes_warn(tmp_path, caplog):
    runner = CliRunner()
    bad = write_tokens(tmp_path, "bad.txt", f"{ACME} acme\n")
    r = runner.invoke(app, ["guard", "serve", "--upstream", "ws://127.0.0.1:9",
                            "--auth-tokens", str(bad)], env={"COLUMNS": "200"})
    assert r.exit_code == 2 and "bad.txt:1: 2 field(s)" in r.output
    assert "Traceback" not in r.output and ACME not in r.output
    for args in (["--auth-tokens", str(tmp_path / "missing.txt")],
                 ["--limit-usd", "1", "--upstream-auth-env", "COSTMODEL_TEST_NO_SUCH_VAR"],
                 ["--auth-tokens", str(bad), "--limit-usd", "1"],
                 []):
        r = runner.invoke(app, ["guard", "serve", "--upstream", "ws://127.0.0.1:9", *args],
                          env={"COLUMNS": "200"})
        assert r.exit_code == 2 and "Traceback" not in r.output, (args, r.output)
    loose = write_tokens(tmp_path, "loose.txt", f"{ACME} acme 1\n", mode=0o644)
    caplog.set_level(logging.WARNING, "costmodel.relay")
    TokenTable.load(loose)
    assert any("readable by others" in r.getMessage() and "chmod 600" in r.getMessage()
               for r in caplog.records)


# -- credentials never printed -----------------------------------------------------------

def test_mask_url_and_secrets():
    url = "wss://svc:PASSWORD1@gw.example/v1?region=eu&key=K1&api-key=K2&api_key=K3&token=K4"
    assert mask_url(url) == ("wss://***@gw.example/v1?region=eu&key=***&api-key=***"
                             "&api_key=***&token=***")
    assert set(url_secrets(url)) >= {"svc", "PASSWORD1", "K1", "K2", "K3", "K4"}
    assert mask_url("/v1/realtime?model=m&access_token=abc") == "/v1/realtime?model=m&" \
                                                                "access_token=***"
    assert mask_url("wss://api.openai.com") == "wss://api.openai.com"


def test_guard_serve_never_prints_upstream_credentials(tmp_path):
    """`costmodel guard serve` as a subprocess: the upstream URL carries a password and a key,
    the provider key comes from the environment; the banner, the warnings and the error lines
    of a failing upstream are captured, and no secret appears in any of them."""
    secrets = ["URLPASSWORD77", "QUERYKEY-5551234", PROVIDER_KEY]
    # Port 9 (discard) is closed on loopback: every upstream connect fails and is logged.
    upstream = f"wss://operator:{secrets[0]}@127.0.0.1:9/openai?api-key={secrets[1]}&region=eu"
    tokens = write_tokens(tmp_path, "tokens.txt", f"{ACME} acme 1\n")
    env = {**os.environ, "COSTMODEL_TEST_PROVIDER_KEY": PROVIDER_KEY, "COLUMNS": "300"}
    proc = subprocess.Popen(
        [sys.executable, "-m", "costmodel", "guard", "serve", "--upstream", upstream,
         "--listen", "0.0.0.0:0", "--auth-tokens", str(tokens), "--verbose",
         "--upstream-auth-env", "COSTMODEL_TEST_PROVIDER_KEY", "--metrics-port", "0"],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env)
    try:
        banner = ""
        for _ in range(50):  # (log lines may come first)
            line = proc.stderr.readline()
            if not line or line.startswith("costmodel guard: ws://"):
                banner = line
                break
        port = int(banner.split("ws://0.0.0.0:")[1].split()[0])

        async def clients():
            url = f"ws://127.0.0.1:{port}"
            return [(await refused(url, ACME))[0], (await refused(url, None))[0]]

        assert asyncio.run(asyncio.wait_for(clients(), 10)) == [502, 401]
        metrics_url = banner.split("metrics ")[1].split()[0]
        with urllib.request.urlopen(metrics_url, timeout=5) as res:
            metrics = res.read().decode()
    finally:
        proc.send_signal(signal.SIGINT)
        out, err = proc.communicate(timeout=10)
    printed = banner + out + err + metrics
    assert 'refused_handshakes_total{reason="unauthorized"} 1.0' in metrics
    assert 'refused_handshakes_total{reason="upstream_unreachable"} 1.0' in metrics
    assert "wss://***@127.0.0.1:9/openai?api-key=***&region=eu" in banner
    assert "upstream_unreachable" in printed and "unauthorized" in printed
    for secret in secrets + [ACME, "operator"]:
        assert secret not in printed, secret


def test_guard_serve_sends_the_key_from_the_environment_and_never_the_relay_token(tmp_path):
    """`costmodel guard serve --upstream-auth-env` as a subprocess in front of the fake
    upstream: the provider sees the key from the environment, not the client's relay token."""
    tokens = write_tokens(tmp_path, "tokens.txt", f"{ACME} acme 1\n")

    async def main():
        async with FakeUpstream() as up:
            proc = await asyncio.create_subprocess_exec(
                sys.executable, "-m", "costmodel", "guard", "serve", "--upstream", up.url,
                "--listen", "127.0.0.1:0", "--auth-tokens", str(tokens),
                "--upstream-auth-env", "COSTMODEL_TEST_PROVIDER_KEY",
                stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE,
                env={**os.environ, "COSTMODEL_TEST_PROVIDER_KEY": PROVIDER_KEY,
                     "COLUMNS": "300"})
            try:
                while not (line := (await asyncio.wait_for(proc.stderr.readline(), 10))
                           .decode()).startswith("costmodel guard: ws://"):
                    assert line, "the relay exited"
                url = line.split()[2]
                async with ws(url, ACME) as c:
                    await recv(c)
                    await turn(c, [])
            finally:
                proc.send_signal(signal.SIGINT)
                out, err = await asyncio.wait_for(proc.communicate(), 10)
            return up.conns, (line + out.decode() + err.decode())

    conns, printed = run(main(), timeout=20)
    [conn] = conns
    assert conn.headers["authorization"] == f"Bearer {PROVIDER_KEY}"
    assert ACME not in json.dumps(conn.headers) and conn.subprotocols == []
    assert conn.responses == 1
    assert PROVIDER_KEY not in printed and ACME not in printed
