"""Fidelity (issue 14 item 2): sessions generated with known parameters, the way providers
report them (`tests.fit.generate`), are fitted with `costmodel.fit.fit_sessions`; the fit
must give back the parameters, and re-estimating the fitted scenario must give back what the
sessions cost, within 5% (mean per call), for OpenAI Realtime, Gemini Live and a chained
Pipecat stack.

Each stack is 300 sessions of the same population (`TrueParams()`: lognormal calls of mean
5 and p95 15 minutes, 4 s of user and 6 s of agent speech a turn, 12.7 s a turn, 2,500
system tokens, 70% of responses served from the cache where the provider caches) whose
lengths are stratified (`timeline.stratified_seconds`: with independent lengths the mean cost
of 300 re-billing sessions has a 15% relative standard deviation, and no 5% comparison would
mean anything).

Parameters are compared with the sample's own truth (`Truth.of`: what these 300 calls were,
not the distribution they were drawn from), so the tolerances below are the fit's error,
not sampling noise.
"""

from __future__ import annotations

from dataclasses import replace
from decimal import Decimal
from pathlib import Path

import pytest

from costmodel.adapters.recorded import price_events
from costmodel.estimation import estimate
from costmodel.guard.spendlog import read_spend_log
from tests.fit.generate import STACKS, spend_log_supported, write_sessions, write_spend_log
from tests.fit.timeline import TrueParams, Truth, simulate_calls

SESSIONS = 300
PARAMS = TrueParams(seed=1)
CALLS = 100_000  # the estimator's sample: ~0.5% Monte Carlo error on the mean per call


def fit_sessions():
    fit = pytest.importorskip("costmodel.fit")
    if not hasattr(fit, "fit_sessions"):
        pytest.skip("costmodel.fit.fit_sessions is not there yet (issue 14, interface 4)")
    return fit.fit_sessions


def session_usd(path: Path) -> Decimal:
    """One recorded session priced as `costmodel price-events` prices it. A call that ended
    before its first response has no usage at all (price_events: total unknown); the
    provider bills it nothing."""
    report = price_events(path.read_text().splitlines())
    assert (report.skipped_count, report.rejected_count, report.unpriced_count) == (0, 0, 0)
    if report.priced_count == 0:
        return Decimal(0)
    assert report.total_usd is not None
    return report.total_usd


class Run:
    """One stack's sessions, their truth, what they cost, and the fit."""

    def __init__(self, stack: str, sources: list, usd: list[Decimal], params: TrueParams,
                 n: int) -> None:
        self.stack = stack
        self.truth = Truth.of(simulate_calls(params, n, stratified=True))
        self.mean_usd = float(sum(usd)) / len(usd)
        self.fit = fit_sessions()(sources)
        self.value = {k: v.value for k, v in self.fit.parameters.items()}

    def estimate(self, scenario=None) -> float:
        sc = scenario or self.fit.scenario
        return estimate(sc, calls=CALLS).results[0].per_call_usd["mean"]

    def error(self, scenario=None) -> float:
        return self.estimate(scenario) / self.mean_usd - 1


def realtime_run(stack: str, tmp: Path, params: TrueParams = PARAMS,
                 n: int = SESSIONS) -> Run:
    written = write_sessions(stack, params, n, tmp, stratified=True)
    paths = [p for p, _ in written]
    return Run(stack, [str(p) for p in paths], [session_usd(p) for p in paths], params, n)


@pytest.fixture(scope="module")
def openai(tmp_path_factory) -> Run:
    return realtime_run("openai", tmp_path_factory.mktemp("openai"))


@pytest.fixture(scope="module")
def gemini(tmp_path_factory) -> Run:
    return realtime_run("gemini", tmp_path_factory.mktemp("gemini"))


@pytest.fixture(scope="module")
def chained(tmp_path_factory) -> Run:
    pytest.importorskip("pipecat")
    if not spend_log_supported():
        pytest.skip("PipecatBudget(spend_log=..., clock=...) is not there yet (interface 3)")
    log = tmp_path_factory.mktemp("chained") / "spend.jsonl"
    runs = write_spend_log(PARAMS, SESSIONS, log, stratified=True)
    records = read_spend_log(log).records
    assert len(records) == SESSIONS
    # The spend log is what the guard metered: its spent_usd, session by session.
    assert [r.spent_usd for r in records] == [b.guard.spent_usd for _, b, _ in runs]
    return Run("chained", [str(log)], [r.spent_usd for r in records], PARAMS, SESSIONS)


# -- OpenAI Realtime (gpt-realtime-1.5) ---------------------------------------------------------
def test_openai_fit_recovers_the_true_parameters(openai):
    t, v = openai.truth, openai.value
    assert openai.fit.sessions == SESSIONS
    assert openai.fit.scenario.stacks[0] == STACKS["openai"]
    # Read straight off the usage: the instructions are every response's text input.
    assert v["prompt.system_tokens"] == PARAMS.system_tokens
    # Hits over the responses after each session's first (all eligible: 2,500 > 1,024).
    assert v["cache.hit_ratio"] == pytest.approx(t.hit_ratio, abs=0.005)
    assert openai.fit.scenario.cache.hits == "per-response"
    # Output audio at 20 tokens/s and its transcript's tokens: exact up to a token's rounding
    # (0.05 s) per response.
    assert v["turns.agent_speech_s"] == pytest.approx(t.agent_speech_s, rel=0.01)
    assert v["turns.agent_text_tokens_per_s"] == pytest.approx(t.agent_text_tokens_per_s,
                                                               rel=0.01)
    # The user's audio as billed: the speech plus the VAD's 300 ms prefix padding and 500 ms
    # silence (0.8 s a turn, in the committed item), to 0.05 s a turn.
    assert v["turns.user_speech_s"] == pytest.approx(t.user_speech_s + PARAMS.vad_padding_s,
                                                     rel=0.02)
    # Lengths: the events show the session up to its last answer; what follows (at most a
    # turn, ~6 s of ~300 on average) is not seen: 5% on the mean, 8% on the p95.
    assert openai.fit.duration.sample_mean_min == pytest.approx(t.mean_seconds / 60, rel=0.05)
    assert openai.fit.duration.sample_p95_min == pytest.approx(t.p95_seconds / 60, rel=0.08)
    # Seconds per turn is fitted so that the estimator's rule (floor(length / value)
    # responses) gives back the responses seen: within 5% of the true 12.6 s turn.
    assert v["turns.seconds_per_turn"] == pytest.approx(t.seconds_per_turn, rel=0.05)


def test_openai_estimate_reproduces_what_the_sessions_cost(openai):
    assert abs(openai.error()) < 0.05, (openai.estimate(), openai.mean_usd)


def test_cache_as_a_share_of_every_prefix_prices_the_same_sessions_wrong(openai):
    # Same fit, the cache written as "70% of every prefix" instead of "70% of responses hit":
    # the share caches the cheap instructions first and leaves the audio history uncached
    # on every response, where a real miss re-bills it all and a hit caches all of it.
    share = openai.fit.scenario.model_copy(update={"cache": openai.fit.scenario.cache.
                                                   model_copy(update={"hits": "share"})})
    per_response, as_share = abs(openai.error()), abs(openai.error(share))
    assert as_share > 0.10 and as_share > 3 * per_response, (per_response, as_share)


# -- Gemini Live (gemini-3.8-live) ---------------------------------------------------------------
def test_gemini_fit_recovers_the_true_parameters(gemini):
    t, v = gemini.truth, gemini.value
    assert gemini.fit.scenario.stacks[0] == STACKS["gemini"]
    assert v["prompt.system_tokens"] == PARAMS.system_tokens
    # 25 output audio tokens a second: to half a token a response.
    assert v["turns.agent_speech_s"] == pytest.approx(t.agent_speech_s, rel=0.01)
    # Live reports no text output for audio answers: nothing to bill.
    assert v["turns.agent_text_tokens_per_s"] == pytest.approx(0, abs=1e-9)
    assert gemini.fit.duration.sample_mean_min == pytest.approx(t.mean_seconds / 60, rel=0.05)
    assert v["turns.seconds_per_turn"] == pytest.approx(t.seconds_per_turn, rel=0.05)


def test_gemini_estimate_reproduces_what_the_sessions_cost(gemini):
    assert abs(gemini.error()) < 0.05, (gemini.estimate(), gemini.mean_usd)


# -- chained: Deepgram Nova-3 + GPT-5.4 mini + Cartesia Sonic-3 through PipecatBudget ------------
def test_chained_fit_recovers_the_true_parameters(chained):
    t, v = chained.truth, chained.value
    assert chained.fit.sessions == SESSIONS
    assert v["cache.hit_ratio"] == pytest.approx(t.hit_ratio, abs=0.01)
    # The completions are the agent's text: 3.5 tokens a second of speech (the last answer of
    # a call may be cut before it is spoken: 2%).
    assert v["turns.agent_text_tokens_per_s"] == pytest.approx(t.agent_text_tokens_per_s,
                                                               rel=0.02)
    # The spend log's seconds are the calls' own (the replay clock), to the millisecond.
    assert chained.fit.duration.sample_mean_min == pytest.approx(t.mean_seconds / 60, rel=1e-3)
    # The prompt's first request also holds the system message's and the reply's 3 framing
    # tokens each, and the first user turn: within 3% of 2,500.
    assert v["prompt.system_tokens"] == pytest.approx(PARAMS.system_tokens, rel=0.03)
    assert v["turns.seconds_per_turn"] == pytest.approx(t.seconds_per_turn, rel=0.05)


def test_chained_estimate_reproduces_what_the_spend_log_says(chained):
    assert abs(chained.error()) < 0.05, (chained.estimate(), chained.mean_usd)


# -- truncation: long OpenAI calls ---------------------------------------------------------------
def test_openai_truncation_and_its_retention_ratio_are_fitted(tmp_path):
    # 40-minute calls (p95 60) of 15 s answers: ~350 audio tokens a 21.7 s turn (300 out, 48
    # in) overflow 28,224 - 2,500 after ~73 responses (~26 minutes): most sessions truncate,
    # keeping 80% of the conversation after the instructions.
    params = replace(PARAMS, duration_mean_min=40, duration_p95_min=60, agent_speech_s=15,
                     seed=2)
    run = realtime_run("openai", tmp_path, params, n=40)
    assert run.value["truncation.retention_ratio"] == pytest.approx(0.8, abs=0.05)
    assert abs(run.error()) < 0.05, (run.estimate(), run.mean_usd)
