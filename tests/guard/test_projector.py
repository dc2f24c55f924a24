"""The projector: the next response's tokens and cost, from what the session's responses were.

The test model bills every bucket at a different rate, so a count or rate put in the wrong
bucket changes the cost. Rates in USD per 1M tokens:

    text:  input 1,  cached 0.1, output 10
    audio: input 20, cached 2,   output 40
    image: input 5,  cached 0.5

with 10 audio tokens a second of user speech, 20 of agent speech, and truncation past 10,000.
"""

from __future__ import annotations

from decimal import Decimal as D

import pytest

from costmodel import Catalog, price
from costmodel.guard.projector import ModelFacts, Projector

from ..conftest import write

PROJ = """
provider: proj
models:
  - id: proj/rt
    kind: realtime
    name: Every bucket at its own rate
    facts:
      audio_tokens_per_second_in: 10
      audio_tokens_per_second_out: 20
      rebills_context: true
      truncation_threshold_tokens: 10000
    prices:
      - effective: 2025-01-01
        checked: 2025-01-02
        source: https://example.com/proj
        tokens:
          text: {input: 1, cached: 0.1, output: 10}
          audio: {input: 20, cached: 2, output: 40}
          image: {input: 5, cached: 0.5}
  - id: proj/slow
    kind: realtime
    name: Fewer than one audio token in ten seconds of speech
    facts:
      audio_tokens_per_second_in: 0.05
      audio_tokens_per_second_out: 20
      rebills_context: true
    prices:
      - effective: 2025-01-01
        checked: 2025-01-02
        source: https://example.com/proj
        tokens:
          text: {input: 1, output: 10}
          audio: {input: 20, output: 40}
  - id: proj/finer
    kind: realtime
    name: A rate finer than a pico-dollar a token
    facts:
      audio_tokens_per_second_in: 10
      audio_tokens_per_second_out: 20
      rebills_context: true
    prices:
      - effective: 2025-01-01
        checked: 2025-01-02
        source: https://example.com/proj
        tokens:
          text: {input: 0.0000015, output: 10}
          audio: {input: 20, output: 40}
"""


@pytest.fixture(scope="module")
def cat(tmp_path_factory) -> Catalog:
    d = tmp_path_factory.mktemp("proj")
    write(d, "proj.yaml", PROJ)
    return Catalog.load([d], include_builtin=False)


@pytest.fixture
def proj(cat) -> Projector:
    return Projector(ModelFacts.of("proj/rt", cat))


def usd(per_million: int | str) -> D:
    return D(per_million) / 10**6


def test_before_any_response_it_assumes_10_s_of_user_and_15_s_of_agent_speech(proj, cat):
    # user 10 s x 10/s = 100 audio in; agent 60 text tokens + 15 s x 20/s = 300 audio out
    assert proj.tokens() == {"audio.input": 100, "text.output": 60, "audio.output": 300}
    # 100 x 20 + 60 x 10 + 300 x 40 = 14,600 per 1M
    assert proj.next_usd() == usd(14_600)


def test_the_next_input_is_the_last_input_and_reply_plus_a_user_turn(proj, cat):
    proj.learn({"text.input": 1000, "audio.input": 500, "image.input": 200,
                "text.output": 40, "audio.output": 300})
    # text 1000 + 40, audio 500 + 300 + 100 (user), image 200; the reply: the largest yet
    assert proj.tokens() == {"text.input": 1040, "audio.input": 900, "image.input": 200,
                             "text.output": 40, "audio.output": 300}
    # 1040 x 1 + 900 x 20 + 200 x 5 + 40 x 10 + 300 x 40 = 32,440 per 1M
    assert proj.next_usd() == usd(32_440)
    assert proj.next_usd() == price(proj.usage(), cat).total_usd


def test_the_cache_serves_the_share_it_served_last_time_text_then_audio_then_image(proj, cat):
    proj.learn({"text.input": 1000, "audio.input": 500, "image.input": 200,
                "text.output": 40, "audio.output": 300})
    # all 1,700 tokens of the last input read from cache: a share of 1.0
    proj.learn({"text.input": 40, "text.cached": 1000, "audio.input": 400,
                "audio.cached": 500, "image.cached": 200, "text.output": 60,
                "audio.output": 50})
    proj.user_turn(D("0.5"))            # 0.5 s x 10/s, + 1 = 6 audio tokens
    # context: text 1040 + 60 = 1100, audio 900 + 50 + 6 = 956, image 200; the cache serves
    # 1.0 x 2,140 (the last input): 1100 text, 956 audio, 84 image; the reply is the largest
    # seen: 60 text, 300 audio
    assert proj.tokens() == {"image.input": 116, "text.cached": 1100, "audio.cached": 956,
                             "image.cached": 84, "text.output": 60, "audio.output": 300}
    # 116 x 5 + 1100 x 0.1 + 956 x 2 + 84 x 0.5 + 60 x 10 + 300 x 40 = 15,244 per 1M
    assert proj.next_usd() == usd(15_244)
    assert proj.next_usd() == price(proj.usage(), cat).total_usd


def test_a_partly_cached_prefix_leaves_the_rest_of_the_text_uncached(proj):
    proj.learn({"text.input": 1000, "audio.input": 1000})
    proj.learn({"text.input": 1500, "text.cached": 500, "audio.input": 1000})   # share 0.25
    # the context: text 2000, audio 1000 + 100; cached int(0.25 x 3000) = 750 text
    assert proj.tokens() == {"text.input": 1250, "text.cached": 750, "audio.input": 1100,
                             "text.output": 60, "audio.output": 300}


def test_the_cached_share_is_at_most_all_of_it(proj):
    proj.learn({"text.input": 1000, "audio.input": 1000})          # 2,000 in
    # 2,500 cached of the last 2,000: a share of 1.25, taken as 1.0
    proj.learn({"text.cached": 1000, "audio.cached": 1500, "audio.input": 100,
                "audio.output": 100})
    # context: text 1000, audio 1600 + 100 + 100 = 1800; cached 1.0 x 2,600: 1000 text, 1600
    # audio (at 1.25: 3,250, all 1,800 audio); the reply: the largest seen, 100 audio
    assert proj.tokens() == {"text.cached": 1000, "audio.input": 200, "audio.cached": 1600,
                             "audio.output": 100}


def test_past_the_truncation_threshold_audio_is_dropped_and_only_text_stays_cached(proj):
    proj.learn({"text.input": 2000, "audio.input": 5000})
    proj.learn({"text.input": 100, "text.cached": 2000, "audio.cached": 5000,
                "audio.input": 1000, "text.output": 100, "audio.output": 1900})
    # context: text 2100 + 100 = 2200, audio 6000 + 1900 + 100 = 8000: 10,200 > 10,000, so
    # 200 audio tokens are dropped; the cache keeps only the text (2,200 of 8,100)
    assert proj.tokens() == {"text.cached": 2200, "audio.input": 7800, "text.output": 100,
                             "audio.output": 1900}


def test_truncation_drops_audio_down_to_none_never_below(proj):
    proj.learn({"text.input": 10_500, "audio.input": 100})
    # context: text 10,500, audio 100 + 100 (user): 10,700, 700 past the threshold; only 200
    # audio tokens can go, so none is left (text is never dropped)
    assert proj.tokens() == {"text.input": 10_500, "text.output": 60, "audio.output": 300}


def test_every_output_is_re_sent_as_context_image_too(proj):
    proj.learn({"image.input": 200, "image.output": 50})
    # context: image 200 + 50; audio: the 100-token user turn; no reply seen: the default one
    assert proj.tokens() == {"audio.input": 100, "image.input": 250, "text.output": 60,
                             "audio.output": 300}


def test_image_context_counts_toward_the_threshold(proj):
    proj.learn({"text.input": 2000, "audio.input": 7000, "image.input": 1000})
    # context: 2,000 text + 7,000 + 100 (user) audio + 1,000 image = 10,100: 100 past it,
    # so 100 audio tokens are dropped
    assert proj.tokens() == {"text.input": 2000, "audio.input": 7000, "image.input": 1000,
                             "text.output": 60, "audio.output": 300}


def test_a_reply_is_not_taken_for_a_cache_read(proj):
    proj.learn({"text.input": 1000})
    proj.learn({"text.input": 1000, "text.output": 500})     # nothing read from cache
    # context: 1,000 + 500 text; audio: the 100-token user turn; no share cached
    assert proj.tokens() == {"text.input": 1500, "audio.input": 100, "text.output": 500}


def test_a_measured_user_turn_is_the_coming_one_only(proj):
    proj.user_turn(D("0.5"))                 # 0.5 s x 10/s + 1 = 6 audio tokens
    proj.learn({"audio.input": 6, "audio.output": 50})
    # the next turn is not measured yet: the largest of the measured (6) and 10 s (100)
    assert proj.tokens()["audio.input"] == 6 + 50 + 100


def test_exactly_at_the_threshold_nothing_is_truncated(proj):
    proj.learn({"text.input": 2000, "audio.input": 5000})
    proj.learn({"text.input": 100, "text.cached": 2000, "audio.cached": 5000,
                "audio.input": 1000, "text.output": 100, "audio.output": 1700})
    # context: 2,200 text + 7,800 audio = 10,000: at the threshold, not past it, so nothing
    # is dropped and the whole share (1.0 of the last 8,100) is cached: 2,200 text, then
    # 5,900 audio
    assert proj.tokens() == {"text.cached": 2200, "audio.input": 1900, "audio.cached": 5900,
                             "text.output": 100, "audio.output": 1700}


def test_a_measured_user_turn_counts_once_then_bounds_the_next(proj):
    proj.user_turn(D(30))                        # 30 s x 10/s + 1 = 301 audio tokens
    assert proj.tokens()["audio.input"] == 301
    proj.learn({"audio.input": 301, "audio.output": 100})
    # after the response, the next turn is assumed as long as the longest measured (301),
    # on top of the context (301 + 100)
    assert proj.tokens()["audio.input"] == 301 + 100 + 301
    proj.user_turn(D(2))                         # 21 tokens: this turn is measured
    assert proj.tokens()["audio.input"] == 301 + 100 + 21


def test_a_reply_of_measured_length_replaces_the_largest_reply(proj):
    proj.learn({"text.input": 10, "text.output": 70, "audio.output": 500})
    # 2.5 s of streamed agent audio x 20/s = 50 audio tokens; text stays the largest seen
    assert proj.tokens(D("2.5")) == {"text.input": 80, "audio.input": 600,
                                     "text.output": 70, "audio.output": 50}
    u = proj.usage(D("2.5"), "estimated")
    assert (u.model, u.label, u.tokens["audio.output"]) == ("proj/rt", "estimated", 50)


def test_a_bust_forgets_the_cached_share(proj):
    proj.learn({"text.input": 1000})
    proj.learn({"text.cached": 1000, "text.output": 10})
    before = proj.tokens()
    assert before["text.cached"] == 1000
    cost = proj.next_usd()
    proj.bust()
    assert "text.cached" not in proj.tokens()
    assert proj.next_usd() > cost


def test_each_new_fact_changes_the_next_cost_at_once(proj, cat):
    # next_usd is memoised: every input to it must clear the memo
    seen = [proj.next_usd()]
    proj.learn({"text.input": 500, "audio.output": 100})
    seen.append(proj.next_usd())
    proj.user_turn(D(12))
    seen.append(proj.next_usd())
    proj.transcription(D("0.01"))
    seen.append(proj.next_usd())
    assert seen[-1] == seen[-2] + D("0.01")      # a transcription a turn, on top
    proj.learn({"text.input": 600, "text.cached": 500, "audio.output": 100})
    seen.append(proj.next_usd())
    proj.bust()
    seen.append(proj.next_usd())
    proj.use(ModelFacts.of("proj/finer", cat))
    seen.append(proj.next_usd())
    assert len(set(seen)) == len(seen), seen


def test_a_zero_transcription_adds_nothing(proj):
    cost = proj.next_usd()
    proj.transcription(D("0.02"))
    assert proj.next_usd() == cost + D("0.02")
    proj.transcription(D(0))                     # the last turn's transcription was free
    assert proj.next_usd() == cost


def test_a_rate_finer_than_a_pico_dollar_is_priced_exactly(cat):
    p = Projector(ModelFacts.of("proj/finer", cat))
    p.learn({"text.input": 1_000_000, "text.output": 10})
    # 1,000,010 text in x $0.0000015/1M + 100 audio in x $20/1M + 10 text out x $10/1M
    assert p.tokens() == {"text.input": 1_000_010, "audio.input": 100, "text.output": 10}
    assert p.next_usd() == D("0.000001500015") + usd(2000) + usd(100)
    assert p.next_usd() == price(p.usage(), cat).total_usd


def test_tokens_the_model_has_no_rate_for_cannot_be_projected(cat, builtin):
    # (gemini-3.1-flash-live, used here before, has an image rate since issue 11)
    p = Projector(ModelFacts.of("google/gemini-2.5-flash-native-audio", builtin))
    p.learn({"image.input": 10, "audio.input": 100})     # it has no image rate
    with pytest.raises(KeyError, match="image.input"):
        p.next_usd()


def test_a_model_that_does_not_rebill_projects_the_turn_bounded_by_its_largest_response(
        builtin):
    # Nova 2 Sonic: audio $3/1M in, $12/1M out, text out $2.75/1M; 25 tokens/s each way
    p = Projector(ModelFacts.of("amazon/nova-2-sonic", builtin))
    # 10 s x 25 = 250 audio in; 60 text + 15 s x 25 = 375 audio out
    assert p.tokens() == {"audio.input": 250, "text.output": 60, "audio.output": 375}
    assert p.next_usd() == usd(250 * 3) + usd("165") + usd(375 * 12)   # $0.005415
    # a usage event that split a turn: the turn cost $0.02 though its tokens say less
    p.learn({"audio.input": 100, "audio.output": 200}, D("0.02"))
    # the context is not re-sent: 250 in, 200 out = $0.00315, bounded by $0.02
    assert p.tokens() == {"audio.input": 250, "audio.output": 200}
    assert p.next_usd() == D("0.02")
    p.learn({"audio.input": 100, "audio.output": 200}, D("0.001"))   # a smaller one
    assert p.next_usd() == D("0.02")


def test_a_text_llm_gets_the_users_turn_as_text(builtin):
    # gpt-4o-mini: $0.15/1M in, $0.60/1M out; no audio: the user's 100 tokens are a transcript
    p = Projector(ModelFacts.of("openai/gpt-4o-mini", builtin))
    assert p.tokens() == {"text.input": 100, "text.output": 60}
    assert p.next_usd() == usd("51")                  # 100 x 0.15 + 60 x 0.60
    p.learn({"text.input": 2000, "text.output": 80})
    assert p.tokens() == {"text.input": 2180, "text.output": 80}


def test_model_facts_come_from_the_catalog(cat, builtin):
    f = ModelFacts.of("proj/rt", cat)
    assert (f.tps_in, f.tps_out, f.rebills, f.limit, f.speech_measured) == (10, 20, True,
                                                                          10000, True)
    assert f.cacheable == {"text", "audio", "image"}
    assert (f.speech_in, f.speech_out, f.time_billed) == (True, True, False)
    assert f.pico == (1_000_000, 20_000_000, 5_000_000, 100_000, 2_000_000, 500_000,
                      10_000_000, 40_000_000, 0)
    assert f.unpriced == (8,)                        # no image output rate
    assert ModelFacts.of("proj/finer", cat).pico is None
    text = ModelFacts.of("openai/gpt-4o-mini", builtin)
    assert (text.speech_in, text.speech_out, text.speech_measured) == (False, False, False)
    assert (text.tps_in, text.tps_out) == (10, 20)      # defaults where the catalog is silent
    nova = ModelFacts.of("amazon/nova-2-sonic", builtin)
    assert (nova.rebills, nova.limit, nova.cacheable) == (False, None, frozenset())
    grok = ModelFacts.of("xai/grok-voice-agent", builtin)
    assert grok.time_billed is True and grok.pico is None


def test_a_first_response_read_from_a_cache_says_nothing_about_the_next_share(proj):
    # no earlier input is known, so no share of it can have been cached
    proj.learn({"text.input": 500, "text.cached": 500, "text.output": 10})
    assert proj.tokens() == {"text.input": 1010, "audio.input": 100, "text.output": 10}


def test_with_no_turn_measured_the_user_turn_is_ten_seconds_even_if_that_is_no_token(cat):
    # 10 s x 0.05 tokens/s = 0.5: no whole token
    p = Projector(ModelFacts.of("proj/slow", cat))
    assert p.tokens() == {"text.output": 60, "audio.output": 300}
