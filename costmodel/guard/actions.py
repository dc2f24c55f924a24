"""Ready actions for OpenAI Realtime sessions: close politely at wrap-up, cut at the limit,
and the ladder's steps in between (`costmodel.guard.ladder`).

The events below are the client events a relay (or an app) sends to the provider, and the
final error event it sends to its own client, so a client can tell a budget cut from a
network failure. Shapes: OpenAI's client events
(https://platform.openai.com/docs/api-reference/realtime-client-events).

>>> [e["type"] for e in openai_cut_events()]
['response.cancel']
>>> openai_session_update_events(max_output_tokens=300)[0]["session"]
{'type': 'realtime', 'max_output_tokens': 300}
"""

from __future__ import annotations

import uuid
from typing import Any

from .policy import Decision
from .projector import Truncation

# Private-use websocket close code (4000-4999): the session was closed for its budget.
CLOSE_CODE_BUDGET = 4002
CLOSE_REASON_BUDGET = "budget exceeded"

#: How a guard ends a call, by the spend log's ``end``: the close code the client gets (private
#: use, 4000-4999) and its reason.
END_CLOSES: dict[str, tuple[int, str]] = {
    "cut": (CLOSE_CODE_BUDGET, CLOSE_REASON_BUDGET),
    "ladder_end": (CLOSE_CODE_BUDGET, "budget: the call was wound down"),
    "silence": (4009, "no speech"),
    "hold": (4010, "only non-speech audio"),
    "max_length": (4011, "maximum call length"),
}

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


def openai_session_update_events(*, max_output_tokens: int | None = None,
                                 truncation: Truncation | None = None,
                                 beta: bool = False) -> list[dict[str, Any]]:
    """A ``session.update`` setting only what is given (the rest of the session stays as it
    is): replies capped at `max_output_tokens` (GA ``max_output_tokens``, beta
    ``max_response_output_tokens``), and the ``truncation`` (GA only: the beta API has none).
    """
    session: dict[str, Any] = {} if beta else {"type": "realtime"}
    if max_output_tokens is not None:
        session["max_response_output_tokens" if beta else "max_output_tokens"] = \
            max_output_tokens
    if truncation is not None:
        if truncation.disabled:
            session["truncation"] = "disabled"
        else:
            t: dict[str, Any] = {"type": "retention_ratio", "retention_ratio":
                                 float(truncation.retention_ratio or 1)}
            if truncation.post_instructions_tokens is not None:
                t["token_limits"] = {"post_instructions": truncation.post_instructions_tokens}
            session["truncation"] = t
    return [{"type": "session.update", "event_id": f"guard_{uuid.uuid4().hex[:12]}",
             "session": session}]


def openai_delete_events(item_ids: list[str]) -> list[dict[str, Any]]:
    """``conversation.item.delete`` for each of `item_ids` (the provider answers each with
    ``conversation.item.deleted``)."""
    return [{"type": "conversation.item.delete", "event_id": f"guard_{uuid.uuid4().hex[:12]}",
             "item_id": item_id} for item_id in item_ids]


def client_end_notice(end: str, message: str) -> dict[str, Any]:
    """The last server event a relay sends its client before ending the call for `end` (a key
    of `END_CLOSES` other than ``cut``, which has `client_budget_error`)."""
    return {"type": "error", "event_id": f"guard_{uuid.uuid4().hex[:12]}",
            "error": {"type": "session_ended", "code": end, "message": message,
                      "param": None}}


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
