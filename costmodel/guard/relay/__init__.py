"""A metering websocket relay: client <-> relay <-> provider, cut before the budget is spent.

It speaks OpenAI Realtime and Gemini Live (``BidiGenerateContent``); what differs between them
is in `protocols` (chosen from the upstream URL, or named), and the metering is the guard's
tracker for the same protocol. The rest of this note is said for OpenAI Realtime; for Gemini
Live the audio is ``realtimeInput`` (client) and ``serverContent.modelTurn`` (provider, often in
binary frames of JSON), the wrap-up is a client turn asking the model to close, and a cut
closes the session (Gemini has no cancel).

Each client connection gets its own upstream connection and its own `SessionGuard`. Frames go
through unchanged (the exact text or bytes). The relay parses JSON only where it must:

* client ``input_audio_buffer.append`` frames (the bulk of the traffic) are recognised from
  the start of their text and forwarded without parsing (`fast_type`: a frame with a nested,
  repeated or escaped ``"type"`` key, or any backslash, is parsed instead);
* server audio deltas are fed to the guard as a cheap stand-in ``{"type", "delta"}``;
* every other event is parsed and observed; unknown events pass through untouched. A client
  event with two ``"type"`` keys, or too many JSON values to parse without holding up the other
  sessions (50,000; 5,000 objects when it has several ``"type"`` keys or ``\\u`` escapes), is
  refused with an ``invalid_event`` error event and counted, not passed on.

Only the provider's frames are trusted: client frames reach the guard as
``source="client"``, so they can ask for a response or bust the cache, but a client frame shaped
like a server event (``session.updated`` naming a cheaper model, a forged ``response.done``) is
passed on to the provider, which refuses it, and never metered.

On ``wrap_up`` the relay asks the agent to close politely (once, when no response is in
flight); on ``cut`` it cancels the response upstream, drops a client ``response.create`` that
would cross the cap, sends the client a final ``budget_exceeded`` error event and closes it
with code 4002 ("budget exceeded"). Every finished session appends one JSON line to the spend
log, however it ended.

**Upstream URL.** The client's request path and query are joined onto ``upstream``: the path
is appended to the upstream's own path (``wss://host/prefix`` + ``/v1/realtime`` ->
``wss://host/prefix/v1/realtime``; a bare ``/`` from the client keeps the upstream path as is)
and the upstream's query, if any, comes before the client's:

>>> upstream_url("wss://api.openai.com", "/v1/realtime?model=gpt-realtime")
'wss://api.openai.com/v1/realtime?model=gpt-realtime'
>>> upstream_url("wss://gw.example/openai?region=eu", "/v1/realtime?model=m")
'wss://gw.example/openai/v1/realtime?region=eu&model=m'
>>> upstream_url("wss://api.openai.com/v1/realtime", "/?model=m")
'wss://api.openai.com/v1/realtime?model=m'

A request path that could step out of the upstream's path (dot segments, ``%2e%2e`` and other
encodings of them, encoded slashes, backslashes, ``//host``) is refused with HTTP 400.

**Headers.** Every end-to-end request header (``Authorization``, ``api-key``, ``OpenAI-Beta``,
``OpenAI-Organization``, ``X-*``, ``Origin``, ``User-Agent``, cookies...) is passed upstream;
hop-by-hop and handshake headers are not (the relay negotiates its own). The client's
subprotocols are offered upstream as they are (browsers authenticate with
``openai-insecure-api-key.<key>``) and the one the upstream selects is returned to the client.
The upstream is connected during the client's handshake, so an upstream refusal (401, 404...)
reaches the client as the same HTTP status; an unreachable upstream is a 502. When the relay
brings the provider credential (``upstream_auth``, or a key in ``upstream``), an upstream 401
or 403 is a plain 502 too: the provider's answer may quote part of the relay's key.

**Access.** With ``auth=`` (a `TokenTable`), a client must present a relay token, as
``Authorization: Bearer <token>`` or as the subprotocol ``costmodel-token.<token>``; the token
picks the session's scope (tenant) and limit, and is never sent upstream (nor is a bearer
token that is not valid: with auth, ``Authorization: Bearer`` is the relay's). Without a valid
one, or with two ``Authorization`` headers or two token subprotocols (one handshake, one
guess), the client gets HTTP 401 before anything is connected upstream. ``upstream_auth=``
makes the relay bring the provider credential itself (clients' own provider keys are then
dropped).
Credentials in ``upstream`` are masked in everything the relay logs.

**Limits** (`Limits`): sessions at once (HTTP 503 over it), client connections at once, a
handshake timeout, an idle timeout (close code 4008) and a maximum client message size (close
code 1009); the defaults follow the process's file-descriptor limit. `RelayMetrics` counts
sessions, decisions, spend, refusals and rejected frames for Prometheus.

**Saving before cutting** (``ladder=``, ``hangup=``): the ladder's steps between warn and cut
(a lower reply cap, a tighter truncation, old turns deleted, the wrap-up, the end) and the
silence, hold and maximum-length timers (`costmodel.guard.ladder`, `costmodel.guard.idle`),
taken by `steps` from the provider's events only.

The package: `server` (Relay, serve), `session` (one relayed session), `steps` (its ladder and
timers), `upstream` (URL joining, path checks, headers, masking), `auth` (tokens), `limits`
(what a relay accepts, the connection gate), `ratelog` (logs a flood cannot multiply),
`metrics`, `frames` (reading client and server frames).
"""

from __future__ import annotations

from .auth import Grant, TokenTable
from .frames import fast_type
from .limits import Limits
from .metrics import RelayMetrics
from .server import Relay, is_loopback, parse_listen, serve
from .session import Session
from .upstream import Redactor, forward_headers, mask_url, upstream_url, websocket_url

__all__ = ["Grant", "Limits", "Redactor", "Relay", "RelayMetrics", "Session", "TokenTable",
           "fast_type", "forward_headers", "is_loopback", "mask_url", "parse_listen", "serve",
           "upstream_url", "websocket_url"]
