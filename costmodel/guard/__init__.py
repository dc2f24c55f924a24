"""The runtime budget guard: meter live sessions and cut them before they overspend.

`SessionGuard` meters one session (`session`), from three parts: a protocol tracker reads one
provider's events into signals (`trackers`: OpenAI Realtime, Gemini Live, Nova Sonic), the
projector prices the next response (`projector`), the policy decides (`policy`); spend goes to
the ledger through `ledger_link`; `spendlog` writes and reads the line each finished session
leaves. `actions` holds the events that ask an agent to wrap up or cut a response; `replay`
says what the guard would have done to a recorded session; `costmodel.guard.relay` is a
metering websocket relay (imported on its own: it needs `websockets`).
"""

from .actions import (
    CLOSE_CODE_BUDGET,
    CLOSE_REASON_BUDGET,
    WRAP_UP_INSTRUCTIONS,
    client_budget_error,
    openai_cut_events,
    openai_wrap_up_events,
)
from .policy import MAX_LIMIT_USD, Decision, Policy, usd_limit
from .projector import ModelFacts, Projector
from .replay import ReplayResult, replay
from .session import SessionGuard, Source
from .spendlog import SessionRecord, SpendLog, is_spend_log_line, read_spend_log, session_record
from .trackers import TRACKERS, Meter, Tracker

__all__ = ["CLOSE_CODE_BUDGET", "CLOSE_REASON_BUDGET", "MAX_LIMIT_USD", "TRACKERS",
           "WRAP_UP_INSTRUCTIONS", "Decision", "Meter", "ModelFacts", "Policy", "Projector",
           "ReplayResult", "SessionGuard", "SessionRecord", "Source", "SpendLog", "Tracker",
           "client_budget_error", "is_spend_log_line", "openai_cut_events",
           "openai_wrap_up_events", "read_spend_log", "replay", "session_record", "usd_limit"]
