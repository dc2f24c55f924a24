"""The runtime budget guard: meter live sessions and cut them before they overspend.

`SessionGuard` meters one session (see `costmodel.guard.session`); `actions` holds the
provider events that ask an agent to wrap up or cut a response; `replay` says what the guard
would have done to a recorded session; `costmodel.guard.relay` is a metering websocket relay
(imported on its own: it needs `websockets`).
"""

from .actions import (
    CLOSE_CODE_BUDGET,
    CLOSE_REASON_BUDGET,
    WRAP_UP_INSTRUCTIONS,
    client_budget_error,
    openai_cut_events,
    openai_wrap_up_events,
)
from .replay import ReplayResult, replay
from .session import MAX_LIMIT_USD, Decision, SessionGuard, Source, usd_limit

__all__ = ["CLOSE_CODE_BUDGET", "CLOSE_REASON_BUDGET", "MAX_LIMIT_USD", "WRAP_UP_INSTRUCTIONS",
           "Decision", "ReplayResult", "SessionGuard", "Source", "client_budget_error",
           "openai_cut_events", "openai_wrap_up_events", "replay", "usd_limit"]
