"""The budget guard: predictive cuts within one projection of the limit, and failure modes."""

from __future__ import annotations

import json
import logging
from decimal import Decimal as D

import pytest

from costmodel import Usage, price
from costmodel.guard import SessionGuard
from costmodel.guard.replay import replay
from costmodel.ledger import LedgerError, MemoryLedger

from ..sessions import openai_session


def _run(guard, events):
    """Feed events until the guard cuts; return (decision, index of the cutting event)."""
    for i, ev in enumerate(events):
        d = guard.observe(ev)
        if d.action == "cut":
            return d, i
    return guard.last, None


def _response_costs(events, catalog):
    from costmodel.adapters.openai_realtime import usage_from_response_done
    return [price(usage_from_response_done(e, "openai/gpt-realtime-1.5"), catalog).total_usd
            for e in events if e["type"] == "response.done"]


@pytest.mark.parametrize("limit", ["0.25", "1", "3", "7.5"])
@pytest.mark.parametrize("hit_ratio", [0.0, 0.8])
def test_long_sessions_are_cut_within_one_projection_of_the_limit(builtin, limit, hit_ratio):
    events = openai_session(builtin, turns=200, hit_ratio=hit_ratio)
    costs = _response_costs(events, builtin)
    guard = SessionGuard(limit, catalog=builtin)
    decision, at = _run(guard, events)
    assert at is not None, "a 200-turn session must be cut at these limits"
    n = decision.responses            # responses that did happen
    spent = sum(costs[:n], D(0))
    assert decision.spent_usd == spent
    assert spent <= D(limit)          # the crossing response was never requested
    # ...and the guard did not stop more than one projection error early:
    nxt = costs[n]
    error = abs(decision.projected_next_usd - nxt)
    assert spent + nxt > D(limit) - error


def test_cut_happens_before_the_next_response_is_requested(builtin):
    events = openai_session(builtin, turns=60)
    guard = SessionGuard("2", catalog=builtin)
    _, at = _run(guard, events)
    # the cutting event is a response.done or a pre-response event, never mid-response audio
    assert events[at]["type"] in {"response.done", "input_audio_buffer.speech_started",
                                  "input_audio_buffer.speech_stopped",
                                  "input_audio_buffer.committed"}


def test_decisions_escalate_ok_warn_wrap_up_cut_and_call_back(builtin):
    seen = []
    guard = SessionGuard("3", catalog=builtin, callbacks=[seen.append])
    _run(guard, openai_session(builtin, turns=200))
    assert [d.action for d in seen] == [d.action for d in guard.history]
    actions = [d.action for d in guard.history]
    assert actions[-1] == "cut" and "wrap_up" in actions
    assert actions == sorted(actions, key=["ok", "warn", "wrap_up", "cut"].index)


def test_measured_user_audio_refines_the_projection(builtin):
    guard = SessionGuard("100", catalog=builtin, model="openai/gpt-realtime-1.5")
    events = openai_session(builtin, turns=3)
    for ev in events[:events.index(next(e for e in events if e["type"] == "response.done")) + 1]:
        guard.observe(ev)
    before = guard.last.projected_next_usd
    long_turn = guard.observe({"type": "input_audio_buffer.speech_stopped",
                               "audio_start_ms": 0, "audio_end_ms": 60_000})
    assert long_turn.projected_next_usd > before  # a minute of user audio costs more


def _done(audio_in: int, audio_out: int) -> dict:
    """An OpenAI Realtime response.done billing only audio tokens."""
    return {"type": "response.done", "response": {"usage": {
        "input_tokens": audio_in, "output_tokens": audio_out,
        "input_token_details": {"audio_tokens": audio_in},
        "output_token_details": {"audio_tokens": audio_out}}}}


def test_the_projection_includes_the_transcription_each_turn_brings(builtin):
    # gpt-realtime-1.5 bills audio at $32/1M in, $64/1M out; whisper-1 at $0.006 a minute.
    guard = SessionGuard("0.22", catalog=builtin, model="openai/gpt-realtime-1.5",
                         transcription_model="openai/whisper-1")
    first = guard.observe(_done(1000, 200))
    # spent 1000 x 32 + 200 x 64 = $0.0448; next: (1000 + 200 + 100 new) in, 200 out = $0.0544
    assert (first.spent_usd, first.projected_next_usd) == (D("0.0448"), D("0.0544"))
    assert first.action == "ok"
    heard = guard.observe({"type": "conversation.item.input_audio_transcription.completed",
                           "usage": {"type": "duration", "seconds": 600}})
    # 600 s of transcription = 10 min x $0.006 = $0.06 spent, and the next user turn will be
    # transcribed too: the next response is projected at $0.0544 + $0.06 = $0.1144
    assert heard.spent_usd == D("0.1048")
    assert heard.projected_next_usd == D("0.1144")
    assert guard.responses == 1          # a transcription is not a response
    # $0.1048 + $0.1144 fits under $0.22, a second $0.1144 does not: time to wrap up (left
    # out, the projection would say $0.0544 and the session would go on as "ok")
    assert heard.action == "wrap_up"


def test_unknown_events_pass_through_unchanged(builtin):
    guard = SessionGuard("1", catalog=builtin, model="openai/gpt-realtime-1.5")
    d0 = guard.observe({"type": "session.created", "session": {"model": "gpt-realtime-1.5"}})
    assert guard.observe({"type": "some.future.event", "x": 1}) is d0
    assert guard.observe({"no_type": True}) is d0


def test_response_without_usage_is_estimated_from_its_audio_and_flagged(builtin, caplog):
    events = openai_session(builtin, turns=2, with_usage=False)
    guard = SessionGuard("10", catalog=builtin)
    with caplog.at_level(logging.WARNING, logger="costmodel.guard"):
        for ev in events:
            d = guard.observe(ev)
    assert d.estimated and guard.responses == 2 and d.spent_usd > 0
    assert "without usage" in caplog.text
    # 7 s of output audio at 20 tokens/s = 140 audio tokens were counted from the deltas
    assert guard.costs[0].usage.tokens["audio.output"] == 140


def test_usage_objects_are_accepted_directly(builtin):
    guard = SessionGuard("0.5", catalog=builtin, model="openai/gpt-realtime-1.5")
    d = guard.observe(Usage("openai/gpt-realtime-1.5", {"audio.input": 1000}))
    assert d.spent_usd == D("0.032")


def test_time_billed_sessions_are_cut_on_connection_time(builtin):
    now = [0.0]
    guard = SessionGuard("0.10", catalog=builtin, model="xai/grok-voice-agent",
                         clock=lambda: now[0])
    guard.observe({"type": "session.created", "session": {"model": "grok-voice-latest"}})
    now[0] = 96.0  # 96 s x $0.05/min = $0.08; room for one more 15 s turn ($0.0125), not two
    assert guard.observe({"type": "input_audio_buffer.speech_started"}).action == "wrap_up"
    now[0] = 106.0  # $0.0883 + the next $0.0125 would pass $0.10
    d = guard.observe({"type": "input_audio_buffer.speech_started"})
    assert d.action == "cut" and d.spent_usd <= D("0.10")


def test_gemini_and_nova_events_are_metered(builtin):
    from pathlib import Path
    root = Path(__file__).parents[2] / "examples" / "sessions"
    for name, model in (("gemini-live-booking.jsonl", None),
                        ("nova-sonic-turn.jsonl", "amazon/nova-2-sonic")):
        guard = SessionGuard("100", catalog=builtin, model=model)
        for line in (root / name).read_text().splitlines():
            guard.observe(json.loads(line))
        assert guard.spent_usd > 0 and guard.responses >= 4


def test_spend_is_committed_to_the_ledger(builtin):
    ledger = MemoryLedger()
    guard = SessionGuard("100", catalog=builtin, ledger=ledger, session_id="s1", scope="acme")
    for ev in openai_session(builtin, turns=5):
        guard.observe(ev)
    assert ledger.spent(session_id="s1") == guard.spent_usd
    assert ledger.spent(scope="acme") == guard.spent_usd
    assert len(ledger.records(session_id="s1")) == 5


class _BrokenLedger(MemoryLedger):
    def _commit(self, *args, **kwargs):
        raise LedgerError("disk full", path="/nowhere.db", operation="commit")


@pytest.mark.parametrize("policy, action", [("fail_open", "ok"), ("fail_closed", "cut")])
def test_ledger_errors_follow_the_policy_loudly(builtin, caplog, policy, action):
    guard = SessionGuard("100", catalog=builtin, ledger=_BrokenLedger(),
                         on_ledger_error=policy)
    with caplog.at_level(logging.ERROR, logger="costmodel.guard"):
        for ev in openai_session(builtin, turns=2):
            d = guard.observe(ev)
    assert d.action == action
    assert "LEDGER ERROR" in caplog.text


def test_replay_reports_warn_wrap_up_cut_and_savings(builtin):
    lines = [json.dumps(e) for e in openai_session(builtin, turns=80)]
    r = replay(lines, limit_usd="5", catalog=builtin)
    assert r.warned_at_response <= r.wrap_up_at_response <= r.cut_at_response
    assert r.spent_usd <= D(5) < r.unguarded_usd
    assert r.saved_usd == r.unguarded_usd - r.spent_usd
    quiet = replay(lines, limit_usd="1000", catalog=builtin)
    assert quiet.cut_at_response is None and quiet.saved_usd == 0


def test_bad_limits_are_rejected(builtin):
    from costmodel import UsageError
    with pytest.raises(UsageError):
        SessionGuard("0", catalog=builtin)
    with pytest.raises(UsageError):
        SessionGuard("1", warn_at="1.5", catalog=builtin)


# ---- regressions from the review of issue #4 -------------------------------------------------

def _started(builtin, limit="0.10", **kw):
    guard = SessionGuard(limit, catalog=builtin, **kw)
    guard.observe({"type": "session.created", "session": {"model": "gpt-realtime-1.5"}})
    return guard


def test_requests_in_flight_count_against_the_budget(builtin):
    guard = _started(builtin)
    actions = [guard.observe({"type": "response.create", "response": {"conversation": "none"}})
               .action for _ in range(20)]
    # each request is projected at ~$0.023: a few fit under $0.10, then the rest are cut
    assert "cut" in actions and actions.index("cut") <= 4
    assert guard.last.pending >= 1


def test_real_speech_stopped_shape_measures_the_user_turn(builtin):
    guard = _started(builtin, limit="100")
    guard.observe({"type": "input_audio_buffer.speech_started", "audio_start_ms": 1000})
    short = guard.observe({"type": "input_audio_buffer.speech_stopped", "audio_end_ms": 4000})
    guard2 = _started(builtin, limit="100")
    guard2.observe({"type": "input_audio_buffer.speech_started", "audio_start_ms": 1000})
    long = guard2.observe({"type": "input_audio_buffer.speech_stopped",
                           "audio_end_ms": 601_000})
    assert long.projected_next_usd > 10 * short.projected_next_usd


def test_a_session_update_busts_the_cached_share(builtin):
    guard = SessionGuard("100", catalog=builtin)
    for ev in openai_session(builtin, turns=6, hit_ratio=1.0):
        guard.observe(ev)
    cached = guard.last.projected_next_usd
    busted = guard.observe({"type": "session.update", "session": {"instructions": "new"}})
    assert busted.projected_next_usd > 2 * cached


@pytest.mark.parametrize("policy, action", [("fail_closed", "cut"), ("fail_open", "ok")])
def test_a_model_the_catalog_cannot_price_fails_closed_by_default(builtin, caplog, policy,
                                                                  action):
    guard = SessionGuard("1", catalog=builtin, on_unpriced=policy)
    with caplog.at_level(logging.ERROR, logger="costmodel.guard"):
        d = guard.observe({"type": "session.created",
                           "session": {"model": "acme-realtime-unlisted"}})
        d = guard.observe({"type": "response.done", "response": {"usage": {
            "input_tokens": 10, "output_tokens": 0, "input_token_details": {"audio_tokens": 10},
            "output_token_details": {}}}})
    assert d.action == action
    assert "CANNOT METER" in caplog.text


def test_time_billed_spend_reaches_the_ledger_and_the_total(builtin):
    now = [0.0]
    ledger = MemoryLedger()
    guard = SessionGuard("10", catalog=builtin, model="xai/grok-voice-agent", ledger=ledger,
                         session_id="x", clock=lambda: now[0])
    guard.observe({"type": "session.created", "session": {"model": "grok-voice-latest"}})
    now[0] = 60.0
    assert guard.tick().spent_usd == D("0.05")
    assert guard.spent_usd == D("0.05")
    guard.finalize()
    assert ledger.spent(session_id="x") == D("0.05")  # 60 s x $0.05/min, once
    assert guard.finalize().spent_usd == D("0.05")    # idempotent


def test_connection_time_is_counted_from_the_guard_s_start_not_from_clock_zero(builtin):
    # a monotonic clock reads any number at the start: only the 60 s since count
    now = [5000.0]
    ledger = MemoryLedger()
    guard = SessionGuard("10", catalog=builtin, model="xai/grok-voice-agent", ledger=ledger,
                         session_id="x", clock=lambda: now[0])
    guard.observe({"type": "session.created", "session": {"model": "grok-voice-latest"}})
    now[0] = 5060.0
    assert guard.tick().spent_usd == D("0.05")      # 60 s x $0.05/min
    guard.finalize()
    assert ledger.spent(session_id="x") == D("0.05")


def test_a_response_reported_as_two_usages_counts_both(builtin):
    # the trackers' meter interface: one completed response may carry several usages
    guard = SessionGuard("100", catalog=builtin, model="openai/gpt-realtime-1.5")
    d = guard.completed([Usage("openai/gpt-realtime-1.5", {"audio.input": 1000}),
                         Usage("openai/gpt-realtime-1.5", {"audio.input": 2000})])
    assert d.spent_usd == D("0.096")   # 3000 audio tokens in at $32/M
    assert len(guard.costs) == 2


def test_a_refused_request_is_no_longer_awaited(builtin):
    guard = SessionGuard("10", catalog=builtin, model="openai/gpt-realtime-1.5")
    guard.observe({"type": "response.create"}, source="client")
    assert guard.awaiting == 1
    guard.observe({"type": "error", "error": {"type": "invalid_request_error"}})
    assert guard.awaiting == 0


def test_a_session_naming_a_model_the_catalog_cannot_price_is_cut_before_any_usage(builtin, caplog):
    guard = SessionGuard("1", catalog=builtin)
    with caplog.at_level(logging.ERROR, logger="costmodel.guard"):
        guard.observe({"type": "session.created", "session": {"model": "acme-realtime-unlisted"}})
        d = guard.observe({"type": "input_audio_buffer.speech_started"})   # before any usage
        guard.observe({"type": "input_audio_buffer.committed"})
    assert d.action == "cut" and "acme-realtime-unlisted" in d.reason
    assert caplog.text.count("CANNOT METER") == 1          # said once, loudly


def test_a_transcription_billed_in_tokens_is_projected_with_the_next_turn(builtin):
    guard = SessionGuard("10", catalog=builtin, model="openai/gpt-realtime-1.5",
                         transcription_model="openai/gpt-4o-transcribe")
    guard.observe({"type": "session.created", "session": {"model": "gpt-realtime-1.5"}})
    before = guard.projected_next_usd()
    d = guard.observe({"type": "conversation.item.input_audio_transcription.completed",
                       "usage": {"type": "tokens", "input_tokens": 100, "output_tokens": 10,
                                 "input_token_details": {"audio_tokens": 100}}})
    # 100 audio tokens in at $6/1M + 10 text out at $10/1M = $0.0007, spent and expected again
    assert d.spent_usd == D("0.0007")
    assert guard.projected_next_usd() - before == D("0.0007")


def test_a_response_in_flight_at_the_end_is_estimated(builtin):
    guard = SessionGuard("100", catalog=builtin)
    events = openai_session(builtin, turns=2)
    cut_at = max(i for i, e in enumerate(events) if e["type"] == "response.done")
    for ev in events[:cut_at]:  # the second response.done never arrives
        guard.observe(ev)
    assert guard.in_flight == 1
    before = guard.spent_usd
    d = guard.finalize()
    assert d.estimated and guard.spent_usd > before and guard.in_flight == 0


def test_odd_event_types_do_not_crash(builtin):
    guard = _started(builtin)
    for ev in ({"type": ["x"]}, {"type": 7}, {"type": None}, {"type": {"a": 1}}):
        assert guard.observe(ev).action == "ok"


def test_g711_output_is_counted_at_8000_bytes_per_second(builtin):
    guard = SessionGuard("100", catalog=builtin)
    guard.observe({"type": "session.created", "session": {
        "model": "gpt-realtime-1.5", "audio": {"output": {"format": {"type": "audio/pcmu"}}}}})
    import base64
    guard.observe({"type": "response.created"})
    for _ in range(10):  # 10 x 8000 bytes = 10 s of G.711
        guard.observe({"type": "response.output_audio.delta",
                       "delta": base64.b64encode(bytes(8000)).decode()})
    guard.observe({"type": "response.done", "response": {"usage": None}})
    assert guard.costs[-1].usage.tokens["audio.output"] == 200  # 10 s x 20 tokens/s


# ---- shared scope (tenant) budgets (issue #6 item 2) -----------------------------------------

def test_scope_budget_is_shared_and_refuses_the_session_that_would_pass_it(builtin, tmp_path):
    from costmodel.ledger import open_ledger
    ledger = open_ledger(f"sqlite:///{tmp_path / 'l.db'}")
    events = openai_session(builtin, turns=30)
    first = SessionGuard("100", catalog=builtin, ledger=ledger, scope="acme",
                         scope_limit_usd="1.00", session_id="a")
    d, _ = _run(first, events)
    assert d.action == "cut" and "'acme' day budget" in d.reason
    first.finalize()
    spent = ledger.spent(scope="acme")
    assert spent <= D("1.00") and ledger.reserved(scope="acme") == 0
    # a second session of the same tenant is refused before its first response
    second = SessionGuard("100", catalog=builtin, ledger=ledger, scope="acme",
                          scope_limit_usd="1.00", session_id="b")
    d, at = _run(second, events)
    assert d.action == "cut" and second.responses == 0
    # another tenant is not affected
    other = SessionGuard("100", catalog=builtin, ledger=ledger, scope="globex",
                         scope_limit_usd="1.00", session_id="c")
    d, _ = _run(other, events[:200])
    assert d.action == "ok" and other.responses >= 1


def test_the_end_of_a_session_releases_its_hold_on_the_scope_budget(builtin):
    ledger = MemoryLedger()
    guard = SessionGuard("100", catalog=builtin, ledger=ledger, scope="acme",
                         scope_limit_usd="50", session_id="a")
    events = openai_session(builtin, turns=2)
    cut_at = max(i for i, e in enumerate(events) if e["type"] == "response.done")
    for ev in events[:cut_at]:  # the second response is in flight: its projection is held
        guard.observe(ev)
    assert ledger.reserved(scope="acme") > 0
    guard.finalize()
    # nothing is held any more, and the estimate of the cut response is committed as spend
    assert ledger.reserved(scope="acme") == 0
    assert ledger.spent(session_id="a") == guard.spent_usd and guard.ledger_errors == 0


def test_the_end_of_a_session_releases_a_hold_no_response_paid(builtin):
    ledger = MemoryLedger()
    guard = SessionGuard("100", catalog=builtin, ledger=ledger, scope="acme",
                         scope_limit_usd="50", model="openai/gpt-realtime-1.5")
    guard.observe({"type": "session.created", "session": {"model": "gpt-realtime-1.5"}})
    guard.observe({"type": "input_audio_buffer.committed"})   # the next response is held
    assert ledger.reserved(scope="acme") > 0
    guard.finalize()                                          # ...and never came
    assert ledger.reserved(scope="acme") == 0 and guard.ledger is ledger


def test_a_scope_budget_needs_a_ledger(builtin):
    from costmodel import UsageError
    with pytest.raises(UsageError, match="needs a ledger"):
        SessionGuard("1", catalog=builtin, scope_limit_usd="10")


class _UnreachableLedger(MemoryLedger):
    """A shared ledger that has gone away (Redis down): every reservation fails."""

    def _reserve(self, *args, **kwargs):
        raise LedgerError("Error 111 connecting to 127.0.0.1:6379", path="redis://127.0.0.1",
                          operation="reserve")


@pytest.mark.parametrize("policy, action", [("fail_open", "ok"), ("fail_closed", "cut")])
def test_an_unreachable_shared_ledger_follows_the_policy_loudly(builtin, caplog, policy,
                                                                action):
    guard = SessionGuard("100", catalog=builtin, ledger=_UnreachableLedger(), scope="acme",
                         scope_limit_usd="50", on_ledger_error=policy)
    with caplog.at_level(logging.ERROR, logger="costmodel.guard"):
        for ev in openai_session(builtin, turns=2):
            d = guard.observe(ev)
    assert d.action == action
    assert "LEDGER ERROR" in caplog.text and "reserve" in caplog.text


# ---- what mutation testing found untested (issue 10 item 7) ---------------------------------

def test_an_unknown_model_is_refused_when_the_guard_is_made(builtin):
    from costmodel import UnknownModelError
    with pytest.raises(UnknownModelError):
        SessionGuard("1", catalog=builtin, model="acme/voice-9")


def test_a_new_guard_has_spent_nothing_estimated_nothing_and_seen_no_ledger_error(builtin):
    guard = SessionGuard("1", catalog=builtin, model="openai/gpt-realtime-1.5")
    assert (guard.spent_usd, guard.responses, guard.awaiting) == (0, 0, 0)
    assert guard.estimated is False and guard.ledger_errors == 0
    assert guard.spooled_records == 0 and guard.unsaved_usd == 0
    guard.observe(_done(100, 10))
    assert guard.estimated is False and guard.last.estimated is False


def test_a_client_request_before_the_provider_spoke_is_awaited(builtin):
    guard = SessionGuard("100", catalog=builtin, model="openai/gpt-realtime-1.5")
    guard.observe({"type": "session.update", "session": {}}, source="client")
    assert guard.awaiting == 0
    guard.observe({"type": "response.create"}, source="client")
    assert guard.awaiting == 1 and guard.format is None   # a client never picks the format


def test_a_response_without_usage_closes_what_it_answers(builtin):
    guard = _started(builtin, limit="100")
    guard.observe({"type": "response.created"})
    guard.observe({"type": "response.created"})
    assert guard.in_flight == 2
    guard.observe({"type": "response.done", "response": {"usage": None}})
    assert guard.in_flight == 1
    guard.observe({"type": "response.done", "response": {"usage": None}})
    assert (guard.in_flight, guard.awaiting, guard.responses) == (0, 0, 2)
    guard.observe({"type": "response.create"}, source="client")
    assert guard.awaiting == 1
    # done without a created we saw: it answers the request
    guard.observe({"type": "response.done", "response": {"usage": None}})
    assert guard.awaiting == 0


def test_an_estimate_counts_only_the_audio_streamed_since_the_last_usage(builtin):
    guard = _started(builtin, limit="100")
    guard.observe({"type": "response.output_audio.delta", "delta": "A" * 64000})  # 1 s
    guard.observe(_done(100, 20))      # reported: the second of audio belonged to it
    # 6,399 base64 characters are 4,799 bytes: 0.09998 s at 48,000 bytes/s, x 20 tokens/s
    # = 1.9996: 1 audio token (a single byte more would make it 2)
    guard.observe({"type": "response.output_audio.delta", "delta": "A" * 6399})
    guard.observe({"type": "response.done", "response": {"usage": None}})
    assert guard.costs[-1].usage.tokens["audio.output"] == 1
    assert guard.costs[-1].usage.estimated


def test_a_model_changed_mid_session_is_projected_at_its_own_rates(builtin):
    from costmodel.guard.projector import ModelFacts, Projector

    guard = _started(builtin, limit="100")
    guard.observe(_done(1000, 200))
    assert guard.projected_next_usd() == D("0.0544")          # at gpt-realtime-1.5 rates
    guard.observe({"type": "session.updated", "session": {"model": "gpt-realtime-mini"}})
    mini = Projector(ModelFacts.of("openai/gpt-realtime-mini", builtin))
    mini.learn({"audio.input": 1000, "audio.output": 200})     # what was learnt stays
    assert guard.projected_next_usd() == mini.next_usd() == D("0.017")


def test_a_time_billed_session_is_billed_from_its_own_start(builtin):
    now = [1000.0]
    guard = SessionGuard("10", catalog=builtin, model="xai/grok-voice-agent",
                         clock=lambda: now[0])
    # the next 15 s turn: 15 s x $0.05/min = $0.0125
    assert guard.projected_next_usd() == D("0.0125")
    now[0] = 1090.0
    d = guard.finalize()
    assert d.spent_usd == D("0.075")          # 90 s x $0.05/min, from 1000 s to 1090 s
    assert guard.responses == 0                # connection time is not a response


class _FlakyLedger(MemoryLedger):
    down = False

    def _commit(self, *args, **kwargs):
        if self.down:
            raise LedgerError("connection refused", path="memory", operation="commit")
        return super()._commit(*args, **kwargs)


def test_spend_spooled_while_the_ledger_was_down_is_committed_when_the_session_ends(
        builtin, tmp_path):
    ledger = _FlakyLedger()
    ledger.down = True
    guard = SessionGuard("10", catalog=builtin, model="openai/gpt-realtime-1.5",
                         ledger=ledger, spool=tmp_path / "spool", session_id="s1")
    guard.observe(_done(1000, 200))            # $0.0448, spooled
    assert (guard.ledger_errors, guard.spooled_records) == (1, 1)
    assert ledger.spent() == 0
    ledger.down = False
    guard.finalize()                           # its last chance: the spool is committed
    assert ledger.spent(session_id="s1") == D("0.0448")
