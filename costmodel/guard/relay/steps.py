"""A relayed session's ladder and hang-up timers: what the relay does besides metering, the
policy's wrap-up and its cut (`costmodel.guard.ladder`, `costmodel.guard.idle`).

`SessionSteps` is made for a session only when the relay has a ladder or a timer, so a relay
without them does no more per frame than before. It reads the provider's parsed events (never
the client's) for what the ladder and the timers need: the user's speech as the provider's
VAD reports it, whether the session detects speech at all, the conversation's items (for
``drop_turns``) and whether the session speaks the beta protocol. After each decision it
takes the ladder's due steps (a session update, item deletes, the wrap-up, or the end once
the response in flight is done), records each in the spend log's ``ladder`` list with what
it is expected to save, and ends a silent, held or over-long call with its own ``end`` and
close code (`costmodel.guard.actions.END_CLOSES`).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from typing import TYPE_CHECKING, Any

from websockets.exceptions import ConnectionClosed

from ..actions import END_CLOSES
from ..idle import Hangup, Quiet
from ..ladder import Climb, Ladder, LadderStep, StepDecision
from ..policy import Decision
from ..spendlog import now_iso

if TYPE_CHECKING:
    from .session import Session

log = logging.getLogger("costmodel.relay")

_MESSAGES = {
    "silence": "costmodel guard ended the call: no speech",
    "hold": "costmodel guard ended the call: only non-speech audio (on hold?)",
    "max_length": "costmodel guard ended the call: it reached its maximum length",
    "ladder_end": "costmodel guard ended the call: its budget ladder wound it down",
}


class SessionSteps:
    """The ladder's climb and the hang-up clock of one relayed session (see the module
    docstring); the session calls `server_event` for each parsed provider event, `after`
    with each decision, and runs `watch` while it lasts."""

    def __init__(self, session: Session, ladder: Ladder | None, hangup: Hangup | None,
                 clock: Any = time.monotonic) -> None:
        self.session, self.clock = session, clock
        self.climb: Climb | None = None if ladder is None else ladder.climb(
            session.guard, cannot=self._cannot)
        # The conversation's items, oldest first (only kept for a ladder that drops turns).
        self.items: dict[str, None] | None = \
            {} if ladder is not None and ladder.drops_turns else None
        self.quiet = Quiet(hangup, clock()) if hangup is not None and hangup.any else None
        self.tick = hangup.tick_seconds if hangup is not None else 1.0
        self.taken: list[dict[str, Any]] = []   # the spend log's "ladder"
        self.beta = False
        self.end_pending = False
        self._frames_seen = 0
        self._answering = False

    def _cannot(self, step: LadderStep) -> str | None:
        return self.session.protocol.cannot(step, self.beta)

    def server_event(self, event: dict[str, Any]) -> None:
        """What the ladder and the timers read from one parsed provider event."""
        protocol = self.session.protocol
        beta = protocol.beta(event)
        if beta is not None:
            self.beta = beta
        quiet = self.quiet
        if quiet is not None:
            spoke = protocol.speech(event)
            if spoke is not None:
                quiet.speech(spoke, self.clock())
            else:
                detects = protocol.detects_speech(event)
                if detects is not None:
                    quiet.detects_speech(detects)
            # The agent answering (up to the event that ends its response) is not silence.
            answering = self.session.guard.awaiting > 0
            if answering or self._answering:
                quiet.answered(self.clock())
            self._answering = answering
        items = self.items
        if items is not None:
            added, deleted = protocol.items(event)
            if added is not None:
                items[added] = None
            elif deleted is not None:
                items.pop(deleted, None)

    async def after(self, decision: Decision) -> None:
        """Take the ladder's steps due at `decision` (before the client sees its event)."""
        if self.climb is not None and not self.session.end:
            held = None if self.items is None else len(self.items)
            for taken in self.climb.check(decision, held):
                await self._take(taken)

    async def settle(self) -> None:
        """End the call if the ladder's end step waits for nothing more: no response (the
        goodbye included) asked for or in flight (after the client has had its last event)."""
        s = self.session
        if self.end_pending and not s.guard.awaiting and not s.wrap_pending and not s.end:
            await self.end_call("ladder_end")

    async def _take(self, taken: StepDecision) -> None:
        s = self.session
        step = taken.step
        self.taken.append(taken.json(now_iso()))
        s.metrics.ladder_steps.labels(step.kind, str(taken.applied).lower()).inc()
        saving = taken.expected_saving_usd
        log.info("session %s: ladder: %s%s%s", s.id, step.describe(),
                 "" if taken.applied else f" not taken ({taken.note})",
                 "" if saving is None else f", expected to save ${saving:.6f} over "
                 f"{taken.horizon_responses} responses")
        if not taken.applied:
            return
        if step.kind == "wrap_up":
            await s.ask_wrap_up()
        elif step.kind == "end":
            self.end_pending = True
        else:
            drop: list[str] = []
            if step.kind == "drop_turns" and self.items is not None:
                ids = list(self.items)
                drop = ids[:max(0, len(ids) - (step.keep_items or 0))]
                for item_id in drop:
                    del self.items[item_id]
            # Deleting items edits the cached prefix: the guard hears of it as of any client
            # delete. A session update changes no prompt, so it busts nothing.
            await s.send_upstream(s.protocol.step(step, beta=self.beta, drop=drop),
                                  observe=step.kind == "drop_turns")

    async def watch(self) -> None:
        """The hang-up clock, checked every `tick` seconds until the session ends."""
        s, quiet = self.session, self.quiet
        if quiet is None:
            return
        while not s.end:
            await asyncio.sleep(self.tick)
            frames = s.client_frames
            streaming, self._frames_seen = frames != self._frames_seen, frames
            verdict = quiet.check(self.clock(), streaming=streaming,
                                  answering=s.guard.awaiting > 0)
            if verdict is None or s.end:
                continue
            if verdict == "wrap_up":
                await s.ask_wrap_up()
                continue
            await self.end_call(verdict)
            return

    async def end_call(self, end: str) -> None:
        """End the call for `end` (a key of `END_CLOSES`): tell the client why (when the
        protocol can) and close it with the end's code; the session then drains what is in
        flight (cancelled) and writes its spend-log line."""
        s = self.session
        s.end = end
        code, reason = END_CLOSES[end]
        log.info("session %s: ended (%s) at $%s", s.id, end, s.guard.spent_usd)
        notice = s.protocol.end_notice(end, _MESSAGES[end])
        with contextlib.suppress(ConnectionClosed):
            if notice is not None:
                await s.client.send(notice)
            await s.client.close(code, reason)
