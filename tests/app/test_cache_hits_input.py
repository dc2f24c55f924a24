"""The dashboard's cache mode (`cache.hits`, issue 14 item 2): a selector beside the hit
ratio, carried into the edited scenario and its YAML, and moving the realtime cost."""

from __future__ import annotations

import pytest

from costmodel.dashboard.inputs import CACHE_HITS, scenario_of, values_of
from costmodel.estimation import default_scenario


def test_the_inputs_carry_the_cache_mode_both_ways():
    base = default_scenario()
    v = values_of(base)
    assert v["cache_hits"] == "share" and CACHE_HITS == ("share", "per-response")
    sc, errors = scenario_of(base, {**v, "hit_ratio": 0.7, "cache_hits": "per-response"})
    assert errors == {} and sc is not None
    assert (sc.cache.hit_ratio, sc.cache.hits) == (0.7, "per-response")
    assert values_of(sc)["cache_hits"] == "per-response"
    none, errors = scenario_of(base, {**v, "cache_hits": "sometimes"})
    assert none is None and set(errors) == {"cache_hits"}


def test_per_response_hits_lower_the_realtime_cost_in_the_app():
    pytest.importorskip("streamlit")
    from streamlit.testing.v1 import AppTest

    from .test_app import APP, FLAT, REALTIME, monthly, run
    at = run(AppTest.from_file(APP, default_timeout=60))
    at.multiselect(key="w_singles").set_value([REALTIME, FLAT])
    at.multiselect(key="w_pipeline_sel").set_value([])
    at.slider(key="w_hit_ratio").set_value(0.7)
    share = monthly(run(at))
    at.radio(key="w_cache_hits").set_value("per-response")
    per = monthly(run(at))
    # 30% of the prefix left uncached is all audio by share, 30% of text and audio per
    # response: cheaper on gpt-realtime-1.5 (tests/estimation/test_cache_modes.py)
    assert per[REALTIME] < share[REALTIME] * 0.9
    assert per[FLAT] == pytest.approx(share[FLAT], rel=1e-12)
    assert "hits: per-response" in at.code[0].value
