"""The dashboard's behaviour of issue 12, driven with AppTest: inputs that survive, errors
beside their field with the last good results kept (stale), the headline, the breakdown by
component, the new inputs (platform fee, retention_ratio, telephony on every stack), the
exports and the scenario in the URL."""

from __future__ import annotations

import pytest

pytest.importorskip("streamlit")
from streamlit.testing.v1 import AppTest

from costmodel.dashboard.model import export_rows, from_query, to_query
from costmodel.estimation import load_scenario
from costmodel.estimation.breakdown import COMPONENTS

from .test_app import APP, FLAT, REALTIME, ROOT, monthly, run


@pytest.fixture
def app() -> AppTest:
    at = run(AppTest.from_file(APP, default_timeout=60))
    at.multiselect(key="w_singles").set_value([REALTIME, FLAT, "amazon/nova-2-sonic"])
    at.multiselect(key="w_pipeline_sel").set_value(
        at.multiselect(key="w_pipeline_sel").value[:1])
    return run(at)


def inputs(at: AppTest) -> dict:
    return {k: at.session_state["v"][k]
            for k in ("system_tokens", "tool_tokens", "hit_ratio", "singles", "pipeline_sel",
                      "calls_per_month")}


def test_inputs_survive_an_empirical_pick_without_a_file(app):
    before, costs = inputs(app), monthly(app)
    app.radio(key="w_dist").set_value("empirical")
    run(app)
    assert any("upload a CSV" in e.value for e in app.error)
    assert monthly(app) == costs                      # last good results stay on screen
    assert any("Stale results" in w.value for w in app.warning)
    app.radio(key="w_dist").set_value("lognormal")
    run(app)
    assert inputs(app) == before and monthly(app) == costs
    assert not any("Stale" in w.value for w in app.warning)


def test_impossible_lognormal_is_a_plain_error_beside_the_field(app):
    costs = monthly(app)
    app.number_input(key="w_ln_mean").set_value(3.5)
    run(app)
    errors = [e.value for e in app.error]
    assert errors == ["p95 must be at most 3.87 × the mean (at most 13.5 minutes here)"]
    assert monthly(app) == costs and "pydantic" not in str(app)
    app.number_input(key="w_ln_p95").set_value(13.0)
    run(app)
    assert not app.error and monthly(app) != costs


def test_headline_names_the_cheapest_and_compares_with_the_baseline(app):
    costs = monthly(app)
    cheapest = min(costs, key=costs.get)
    metrics = {m.label: m.value for m in app.metric}
    assert metrics["Cheapest stack"] == cheapest.split("/")[-1]
    assert metrics["Per month"] == f"${costs[cheapest]:,.0f}"
    app.selectbox(key="baseline").select(REALTIME)
    run(app)
    text = " ".join(m.value for m in app.markdown)
    ratio = costs[REALTIME] / costs[cheapest]
    assert f"{ratio:.1f}× cheaper than gpt-realtime-1.5" in text
    assert "session limit" in text                     # nova-2-sonic's caveat as a badge


def test_breakdown_splits_cost_per_minute_by_component(app):
    app.radio(key="view").set_value("Cost breakdown")
    run(app)
    df = app.dataframe[0].value
    parts = [c for c in df.columns if c in COMPONENTS]
    assert {"realtime audio", "realtime by the minute", "STT", "LLM input", "TTS"} <= set(parts)
    assert (df[parts].sum(axis=1) - df["Total $/min"]).abs().max() < 1e-12


def test_platform_fee_telephony_and_retention_inputs(app):
    app.radio(key="view").set_value("Cost breakdown")
    before = run(app).dataframe[0].value.set_index("Stack")["Total $/min"]
    app.number_input(key="w_platform_fee").set_value(0.05)
    after = run(app).dataframe[0].value.set_index("Stack")["Total $/min"]
    assert ((after - before) - 0.05).abs().max() < 1e-9
    app.selectbox(key="w_telephony_all").select("twilio/us-inbound")
    app.radio(key="view").set_value("Monthly cost")
    ids = list(monthly(run(app)))
    assert all(s.endswith("+twilio/us-inbound") for s in ids)
    base = monthly(app)[f"{REALTIME}+twilio/us-inbound"]
    app.slider(key="w_retention_ratio").set_value(0.5)
    assert monthly(run(app))[f"{REALTIME}+twilio/us-inbound"] != base


def test_the_url_reproduces_the_view(app):
    app.number_input(key="w_calls_per_month").set_value(12_345)
    app.radio(key="view").set_value("Cost breakdown")
    run(app)
    query = {k: v[0] if isinstance(v, list) else v for k, v in app.query_params.items()}
    assert query["view"] == "Cost breakdown"
    again = AppTest.from_file(APP, default_timeout=60)
    again.query_params.update(query)
    run(again)
    assert again.radio(key="view").value == "Cost breakdown"
    assert again.session_state["w_calls_per_month"] == 12_345
    assert again.dataframe[0].value.equals(app.dataframe[0].value)


def test_exports_carry_inputs_and_line_items():
    sc = load_scenario(ROOT / "examples" / "support-line.yaml")
    assert from_query(to_query(sc)["s"]).model_dump() == sc.model_dump()
    from costmodel.estimation import estimate
    res = estimate(sc, calls=2000).results
    rows = export_rows(sc, res, None, sc.volume.monthly_calls)
    assert rows[0]["input: volume.calls_per_month"] == 60000
    assert any(k.startswith("line item: ") for k in rows[0])
    assert all(f"$/min {c}" in rows[0] for c in COMPONENTS)


def test_a_stack_keeps_its_colour_in_every_view_even_beside_a_hash_twin(monkeypatch):
    # amazon/polly-standard and amazon/transcribe-streaming hash to the same palette colour.
    # Shown together they get two colours; shown again in any company, each keeps its own.
    from costmodel.dashboard import model
    from costmodel.dashboard.model import colour_of, colours

    monkeypatch.setattr(model, "_GIVEN", {})    # a fresh server: no colours given yet

    a, b = "amazon/polly-standard", "amazon/transcribe-streaming"
    assert colour_of(a) == colour_of(b)
    both = colours([a, b, "xai/grok-voice-agent"])
    assert both[a] != both[b]
    assert colours([b]) == {b: both[b]} and colours(["openai/gpt-realtime-1.5", a])[a] == both[a]
    assert len(set(colours([a, b, "openai/gpt-realtime-1.5", "xai/grok-voice-agent"])
                   .values())) == 4
