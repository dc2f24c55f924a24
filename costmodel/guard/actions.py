"""Ready actions for OpenAI Realtime sessions: close politely at wrap-up, cut at the limit.

The events below are the client events a relay (or an app) sends to the provider, and the
final error event it sends to its own client, so a client can tell a budget cut from a
network failure.

>>> [e["type"] for e in openai_cut_events()]
['response.cancel']
"""

from __future__ import annotations

import uuid

from .policy import Decision

# Private-use websocket close code (4000-4999): the session was closed for its budget.
CLOSE_CODE_BUDGET = 4002
CLOSE_REASON_BUDGET = "budget exceeded"

WRAP_UP_INSTRUCTIONS = (
    "This call is about to reach its time and budget limit. In one or two short sentences, "
    "tell the caller you need to end the call now, summarise what was agreed, and say goodbye. "
    "Do not ask any new question.")


def openai_wrap_up_events(instructions: str = WRAP_UP_INSTRUCTIONS) -> list[dict]:
    """Ask the agent to close the call politely: one response with closing instructions.

    ``response.instructions`` applies to this response only, so the session's own
    instructions stay as they were.
    """
    return [{"type": "response.create", "event_id": f"guard_{uuid.uuid4().hex[:12]}",
             "response": {"instructions": instructions}}]


def openai_cut_events() -> list[dict]:
    """Stop spending now: cancel the response in flight (a no-op when there is none)."""
    return [{"type": "response.cancel", "event_id": f"guard_{uuid.uuid4().hex[:12]}"}]


def client_budget_error(decision: Decision) -> dict:
    """The final server event a relay sends its client before closing the socket."""
    return {
        "type": "error",
        "event_id": f"guard_{uuid.uuid4().hex[:12]}",
        "error": {
            "type": "budget_exceeded",
            "code": "session_budget_exceeded",
            "message": f"costmodel guard closed the session: {decision.reason}",
            "param": None,
            "spent_usd": str(decision.spent_usd),
            "limit_usd": str(decision.limit_usd),
        },
    }
