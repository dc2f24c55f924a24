"""Prometheus metrics of a relay, in a registry of its own (several relays may share a process).

>>> m = RelayMetrics()
>>> m.refused.labels("unauthorized").inc()
>>> b'costmodel_relay_refused_handshakes_total{reason="unauthorized"} 1.0' in m.render()
True
"""

from __future__ import annotations

import logging
from typing import Any

from prometheus_client import CollectorRegistry, Counter, Gauge, generate_latest, start_http_server

log = logging.getLogger("costmodel.relay")

# Listed up front so each series exists (at 0) from the first scrape: a rate() over a series
# that appears only on its first event misses that event.
REFUSAL_REASONS = ("unauthorized", "bad_path", "over_capacity", "connection_limit",
                   "handshake_timeout", "upstream_refused", "upstream_unreachable")
REJECTED_FRAME_REASONS = ("server_event", "duplicate_type", "too_complex", "too_big")
ACTIONS = ("warn", "wrap_up", "cut")


class RelayMetrics:
    """The relay's counters and gauges; `serve(host, port)` exposes them over HTTP.

    Names (all prefixed ``costmodel_relay_``): ``sessions`` (live), ``connections`` (client
    sockets open, handshakes included), ``sessions_started_total``, ``sessions_ended_total
    {end}``, ``decisions_total{action}``, ``spend_usd_total{scope,model}``,
    ``ledger_errors_total``, ``spooled_records_total``, ``rejected_client_frames_total
    {reason}``, ``refused_handshakes_total{reason}``, ``accept_errors_total``,
    ``ladder_steps_total{step,applied}`` (the ladder's steps taken, `costmodel.guard.ladder`).
    """

    def __init__(self, registry: CollectorRegistry | None = None) -> None:
        self.registry = registry if registry is not None else CollectorRegistry()
        r = self.registry
        self.sessions = Gauge("costmodel_relay_sessions", "Sessions being relayed now.",
                              registry=r)
        self.connections = Gauge("costmodel_relay_connections",
                                 "Client connections open, handshakes included.", registry=r)
        self.sessions_started = Counter("costmodel_relay_sessions_started",
                                        "Sessions that completed their handshake.", registry=r)
        self.sessions_ended = Counter("costmodel_relay_sessions_ended",
                                      "Finished sessions, by how they ended.", ["end"],
                                      registry=r)
        self.decisions = Counter("costmodel_relay_decisions",
                                 "Guard decisions that escalated a session, by action.",
                                 ["action"], registry=r)
        self.spend = Counter("costmodel_relay_spend_usd", "Metered spend in USD.",
                             ["scope", "model"], registry=r)
        self.ledger_errors = Counter("costmodel_relay_ledger_errors",
                                     "Spend the ledger could not take.", registry=r)
        self.spooled = Counter("costmodel_relay_spooled_records",
                               "Spend records written to the local spool.", registry=r)
        self.rejected_frames = Counter(
            "costmodel_relay_rejected_client_frames",
            "Client frames not metered or not relayed: server-shaped events (passed on, never "
            "metered), duplicate 'type' keys, too many JSON values, oversized messages.",
            ["reason"], registry=r)
        self.refused = Counter("costmodel_relay_refused_handshakes",
                               "Client connections refused before a session, by reason.",
                               ["reason"], registry=r)
        self.ladder_steps = Counter("costmodel_relay_ladder_steps",
                                    "Ladder steps taken, by step and whether the provider "
                                    "could take it.", ["step", "applied"], registry=r)
        self.accept_errors = Counter("costmodel_relay_accept_errors",
                                     "Failed accept() calls (out of file descriptors).",
                                     registry=r)
        for reason in REFUSAL_REASONS:
            self.refused.labels(reason)
        for reason in REJECTED_FRAME_REASONS:
            self.rejected_frames.labels(reason)
        for action in ACTIONS:
            self.decisions.labels(action)
        self._http: Any = None

    def value(self, name: str, **labels: str) -> float:
        """One sample's current value (0 when it has none yet), e.g.
        ``value("costmodel_relay_refused_handshakes_total", reason="unauthorized")``."""
        v = self.registry.get_sample_value(name, labels)
        return 0.0 if v is None else v

    def render(self) -> bytes:
        """The metrics in the Prometheus text format."""
        return generate_latest(self.registry)

    def serve(self, host: str = "127.0.0.1", port: int = 0) -> tuple[str, int]:
        """Serve ``/metrics`` over HTTP (a daemon thread); returns the bound (host, port)."""
        if self._http is None:
            self._http, _thread = start_http_server(port, host, registry=self.registry)
        addr = self._http.server_address
        return addr[0], addr[1]

    def close(self) -> None:
        """Stop serving over HTTP (the counters stay readable)."""
        if self._http is not None:
            self._http.shutdown()
            self._http.server_close()
            self._http = None
