"""The runtime budget guard: meter live sessions and cut them before they overspend.

`SessionGuard` meters one session (`session`), from three parts: a protocol tracker reads one
provider's events into signals (`trackers`: OpenAI Realtime, Gemini Live, Nova Sonic), the
projector prices the next response (`projector`), the policy decides (`policy`); spend goes to
the ledger through `ledger_link`; `spendlog` writes and reads the line each finished session
leaves. `actions` holds the events that ask an agent to wrap up or cut a response; `replay`
says what the guard would have done to a recorded session; `costmodel.guard.relay` is a
metering websocket relay (imported on its own: it needs `websockets`).

Saving before cutting: a `Ladder` (`ladder`) of steps between warn and cut (shorter replies,
a tighter context, fewer old turns, a goodbye, the end), each priced by the projector; `idle`
hangs up on silence, hold and over-long calls (`Hangup`); `setup` tells the per-call fixed
cost of a session's instructions and tools; `policyfile` reads a ladder and timers from YAML
(imported on its own: it builds pydantic models).
"""

from .actions import (
    CLOSE_CODE_BUDGET,
    CLOSE_REASON_BUDGET,
    WRAP_UP_INSTRUCTIONS,
    client_budget_error,
    openai_cut_events,
    openai_wrap_up_events,
)
from .idle import Hangup, Quiet
from .ladder import DEFAULT_LADDER, Climb, Ladder, LadderStep, StepDecision
from .policy import MAX_LIMIT_USD, Decision, Policy, usd_limit
from .projector import ModelFacts, Outlook, Projector, Truncation
from .replay import ReplayResult, replay
from .session import SessionGuard, Source
from .setup import SetupCost, setup_cost
from .spendlog import SessionRecord, SpendLog, is_spend_log_line, read_spend_log, session_record
from .trackers import TRACKERS, Meter, Tracker

__all__ = ["CLOSE_CODE_BUDGET", "CLOSE_REASON_BUDGET", "DEFAULT_LADDER", "MAX_LIMIT_USD",
           "TRACKERS", "WRAP_UP_INSTRUCTIONS", "Climb", "Decision", "Hangup",
           "Ladder", "LadderStep", "Meter", "ModelFacts", "Outlook", "Policy", "Projector",
           "Quiet", "ReplayResult", "SessionGuard", "SessionRecord", "SetupCost", "Source",
           "SpendLog", "StepDecision", "Tracker", "Truncation", "client_budget_error",
           "is_spend_log_line", "openai_cut_events", "openai_wrap_up_events",
           "read_spend_log", "replay", "session_record", "setup_cost",
           "usd_limit"]
