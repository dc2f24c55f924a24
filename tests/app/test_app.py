"""The Streamlit dashboard, driven headless with `streamlit.testing.v1.AppTest`.

Widgets are set by key, the script re-run, and the figures read back from the results table:
the tests check the app loads every example without an exception, that figures move the right
way when inputs change, and that every view renders.
"""

from __future__ import annotations

import time
from pathlib import Path

import pytest

pytest.importorskip("streamlit")
from streamlit.testing.v1 import AppTest

from costmodel.estimation.scenario import load_scenario, stack_id

ROOT = Path(__file__).resolve().parents[2]
APP = str(ROOT / "app.py")
EXAMPLES = sorted(p.stem for p in (ROOT / "examples").glob("*.yaml"))
VIEWS = ["Monthly cost", "Cost breakdown", "Cost per minute vs call length",
         "Per-call distribution", "Sensitivity", "Capacity", "Self-hosting break-even", "Catalog"]
REALTIME, FLAT = "openai/gpt-realtime-1.5", "xai/grok-voice-agent"


def run(at: AppTest) -> AppTest:
    at.run()
    assert not at.exception, [e.value for e in at.exception]
    return at


def monthly(at: AppTest) -> dict[str, float]:
    df = at.dataframe[0].value  # the results table of the default view
    return dict(zip(df["Stack id"], df["Monthly (USD)"], strict=True))


@pytest.fixture
def app() -> AppTest:
    return run(AppTest.from_file(APP, default_timeout=60))


@pytest.fixture
def small(app: AppTest) -> AppTest:
    """support-line narrowed to a re-billing, a flat-rate and one chained stack."""
    app.multiselect(key="w_singles").set_value([REALTIME, FLAT])
    app.multiselect(key="w_pipeline_sel").set_value(app.multiselect(key="w_pipeline_sel").value[:1])
    return run(app)


@pytest.mark.parametrize("example", EXAMPLES)
def test_every_example_loads_without_exception(app, example):
    app.selectbox(key="example").select(example)
    run(app)
    assert not app.error, [e.value for e in app.error]
    sc = load_scenario(ROOT / "examples" / f"{example}.yaml")
    assert set(monthly(app)) == {stack_id(s) for s in sc.stacks}
    assert all(v > 0 for v in monthly(app).values())


def test_hit_ratio_lowers_realtime_not_flat_rate(small):
    before = monthly(small)
    small.slider(key="w_hit_ratio").set_value(0.9)
    after = monthly(run(small))
    assert after[REALTIME] < before[REALTIME] * 0.9
    assert after[FLAT] == pytest.approx(before[FLAT], rel=1e-12)


def test_volume_and_call_length_move_costs(small):
    before = monthly(small)
    small.number_input(key="w_calls_per_month").set_value(120_000)
    doubled = monthly(run(small))
    assert doubled[FLAT] == pytest.approx(2 * before[FLAT], rel=1e-9)
    small.radio(key="w_dist").set_value("fixed")
    run(small)
    small.number_input(key="w_fixed_min").set_value(30.0)
    long = monthly(run(small))
    assert long[REALTIME] > doubled[REALTIME] and long[FLAT] > doubled[FLAT]


def test_hidden_inputs_keep_their_values(small):
    for dist in ("fixed", "lognormal"):
        small.radio(key="w_dist").set_value(dist)
        run(small)
    assert (small.number_input(key="w_ln_mean").value, small.number_input(key="w_ln_p95").value) \
        == (6.0, 18.0)


def test_every_view_renders(small):
    for view in VIEWS:
        small.radio(key="view").set_value(view)
        run(small)
        assert not small.error, (view, [e.value for e in small.error])


def test_chained_builder_adds_a_stack(small):
    small.selectbox(key="b_stt").select("deepgram/nova-3")
    small.selectbox(key="b_llm").select("openai/gpt-5.4-nano")
    small.selectbox(key="b_tts").select("deepgram/aura-2")
    small.selectbox(key="b_tel").select("twilio/us-inbound")
    small.button(key="b_add").click()
    new = "deepgram/nova-3+openai/gpt-5.4-nano+deepgram/aura-2+twilio/us-inbound"
    assert new in monthly(run(small))
    small.radio(key="b_mode").set_value("Realtime + phone line")
    run(small).selectbox(key="b_realtime").select("xai/grok-voice-agent")
    small.selectbox(key="b_tel").select("twilio/us-outbound")
    small.button(key="b_add").click()
    costs = monthly(run(small))
    assert costs["xai/grok-voice-agent+twilio/us-outbound"] > costs[FLAT]


def test_edited_scenario_yaml_round_trips(small, tmp_path):
    small.slider(key="w_hit_ratio").set_value(0.25)
    small.number_input(key="w_system_tokens").set_value(1234)
    run(small)
    path = tmp_path / "edited.yaml"
    path.write_text(small.code[0].value, encoding="utf-8")
    sc = load_scenario(path)
    assert sc.cache.hit_ratio == 0.25 and sc.prompt.system_tokens == 1234
    assert {stack_id(s) for s in sc.stacks} == set(monthly(small))


def test_bad_input_is_an_error_message_not_an_exception(small):
    small.number_input(key="w_agent_speech_s").set_value(30.0)  # no longer fits a 15 s turn
    run(small)
    assert any("must fit in one exchange" in e.value for e in small.error)
    small.number_input(key="w_agent_speech_s").set_value(7.0)
    small.radio(key="w_dist").set_value("empirical")
    run(small)
    assert any("upload a CSV" in e.value for e in small.error)


def test_rerun_after_a_change_is_fast(app, capsys):
    """5 stacks x 100,000 simulated calls: time a re-run after changing the hit ratio (nothing
    cached for the new value) and after changing it back (cached). Prints the figures."""
    app.multiselect(key="w_singles").set_value(
        [REALTIME, "openai/gpt-realtime-mini", "google/gemini-3.1-flash-live", FLAT])
    app.multiselect(key="w_pipeline_sel").set_value(app.multiselect(key="w_pipeline_sel").value[:1])
    run(app)
    assert len(monthly(app)) == 5
    uncached, cached = [], []
    for hit in (0.55, 0.65, 0.75):
        app.slider(key="w_hit_ratio").set_value(hit)
        t = time.perf_counter()
        run(app)
        uncached.append(time.perf_counter() - t)
        app.slider(key="w_hit_ratio").set_value(0.5)
        t = time.perf_counter()
        run(app)
        cached.append(time.perf_counter() - t)
    with capsys.disabled():
        print(f"\nrerun, 5 stacks x 100k calls: uncached {min(uncached) * 1000:.0f} ms, "
              f"cached {min(cached) * 1000:.0f} ms")
    assert min(cached) < 0.3
    assert min(uncached) < 1.5  # 0.3 s on the reference machine; CI runners are slower
