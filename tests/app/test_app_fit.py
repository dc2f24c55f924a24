"""Fit to sessions in the dashboard (issue 14 item 5), driven headless with AppTest: recorded
sessions or a spend log uploaded in the sidebar become the scenario in the editor, every
input showing the fitted number; a table lists each fitted parameter with its spread and the
sessions behind it; files that cannot be fitted are named beside the uploader and leave the
inputs as they were.

Sessions come from the provider-behaviour generator (`tests.fit.generate`): what providers
report, not what the estimator computes."""

from __future__ import annotations

from pathlib import Path

import pytest

pytest.importorskip("streamlit")
from streamlit.testing.v1 import AppTest

from costmodel.dashboard.fit_view import MAX_BYTES, MAX_FILES, check_upload, fit_uploads
from costmodel.errors import InputError
from costmodel.estimation import load_scenario
from costmodel.fit import fit_sessions

from ..fit.generate import TrueParams, spend_log_supported, write_sessions, write_spend_log
from .test_app import APP, run

ROOT = Path(__file__).resolve().parents[2]
# Short calls keep the files small: 8 sessions of ~2 minutes, ~160 KB of events.
PARAMS = TrueParams(seed=3, duration_mean_min=2.0, duration_p95_min=5.0)


@pytest.fixture
def sessions(tmp_path: Path) -> list[Path]:
    return [p for p, _ in write_sessions("openai", PARAMS, 8, tmp_path / "sessions")]


@pytest.fixture
def app() -> AppTest:
    at = run(AppTest.from_file(APP, default_timeout=60))
    at.radio(key="src").set_value("Fit to sessions")
    return run(at)


def upload(at: AppTest, files: list[tuple[str, bytes]]) -> AppTest:
    at.file_uploader(key="fit_upload").set_value(
        [(name, data, "application/octet-stream") for name, data in files])
    return run(at)


def fit_table(at: AppTest) -> dict[str, dict]:
    df = next(d.value for d in at.dataframe if "Parameter" in d.value.columns)
    return {row["Parameter"]: row for row in df.to_dict("records")}


def test_uploaded_sessions_become_the_inputs(app, sessions):
    assert "No files yet: the inputs below are kept." in [c.value for c in app.sidebar.caption]
    upload(app, [(p.name, p.read_bytes()) for p in sessions])
    assert not app.error, [e.value for e in app.error]
    # The library's own fit of the same files, at the calls per month kept from the editor
    # (support-line's 60,000): every input shows its number.
    fitted = fit_sessions(sessions, calls_per_month=60_000).scenario
    t, ln = fitted.turns, fitted.duration_min.lognormal
    assert ln is not None and app.radio(key="w_dist").value == "lognormal"
    shown = {k: app.number_input(key=f"w_{k}").value for k in (
        "calls_per_month", "ln_mean", "ln_p95", "seconds_per_turn", "user_speech_s",
        "agent_speech_s", "agent_text_tokens_per_s", "system_tokens")}
    assert shown == {"calls_per_month": 60_000, "ln_mean": ln.mean, "ln_p95": ln.p95,
                     "seconds_per_turn": t.seconds_per_turn, "user_speech_s": t.user_speech_s,
                     "agent_speech_s": t.agent_speech_s,
                     "agent_text_tokens_per_s": t.agent_text_tokens_per_s,
                     # the generator's system prompt, billed whole by every first response
                     "system_tokens": PARAMS.system_tokens}
    assert app.slider(key="w_hit_ratio").value == fitted.cache.hit_ratio
    assert app.radio(key="w_cache_hits").value == "per-response"
    # the model the sessions used is the (first and only) stack
    assert app.multiselect(key="w_singles").value == ["openai/gpt-realtime-1.5"]
    assert app.multiselect(key="w_pipeline_sel").value == []
    results = app.dataframe[1].value
    assert list(results["Stack id"]) == ["openai/gpt-realtime-1.5"]

    table = fit_table(app)
    assert table["turns.seconds_per_turn"]["Sessions"] == 8
    assert table["cache.hit_ratio"]["Spread (sd)"] != ""          # sessions differ
    assert table["duration_min"]["Value"].startswith("lognormal: mean")
    assert table["volume.calls_per_month"]["Source"] == "calls per month as given"
    assert any("Fitted to 8 sessions of openai/gpt-realtime-1.5" in e.label
               for e in app.expander)
    assert "Fitted scenario (YAML)" in [b.label for b in app.get("download_button")]


def test_edits_after_a_fit_survive_reruns_and_a_new_example_replaces_the_fit(app, sessions):
    upload(app, [(p.name, p.read_bytes()) for p in sessions])
    app.number_input(key="w_system_tokens").set_value(4321)
    run(app)
    app.number_input(key="w_calls_per_month").set_value(70_000)
    run(run(app))                                       # the same upload is not fitted again
    assert app.number_input(key="w_system_tokens").value == 4321
    assert app.number_input(key="w_calls_per_month").value == 70_000
    app.radio(key="src").set_value("Example")
    run(app)
    assert app.number_input(key="w_system_tokens").value == 3000   # support-line's
    assert not any("Fitted to" in e.label for e in app.expander)


def test_a_file_that_cannot_be_fitted_is_named_and_the_inputs_stay(app, sessions):
    app.number_input(key="w_system_tokens").set_value(4321)
    run(app)
    upload(app, [("notes.jsonl", b"not json\n"), ("empty.jsonl", b"")])
    [error] = [e.value for e in app.error]
    assert error.startswith("notes.jsonl, empty.jsonl cannot be fitted: no session to fit")
    assert "The inputs below are kept." in error and "costmodel-fit-upload" not in error
    assert app.number_input(key="w_system_tokens").value == 4321
    assert "Stale results" not in " ".join(w.value for w in app.warning)
    run(app)                                            # said again, not fitted again
    assert [e.value for e in app.error] == [error]
    # a good file among bad ones is fitted; the bad one is listed as left out
    upload(app, [("notes.jsonl", b"not json\n"), (sessions[0].name, sessions[0].read_bytes())])
    assert not app.error
    assert any("left out: notes.jsonl: no event of a known format" in w.value
               for w in app.warning)


def test_nova_sonic_sessions_need_the_model_picked(app):
    sonic = ROOT / "examples" / "sessions" / "nova-sonic-turn.jsonl"
    upload(app, [(sonic.name, sonic.read_bytes())])
    [error] = [e.value for e in app.error]
    assert "pick it under 'Model of sessions that do not name it'" in error
    app.selectbox(key="fit_model").set_value("amazon/nova-2-sonic")
    run(app)
    # With the model its session is read; this recording of one turn has no call length
    # (Nova Sonic events carry no timing), so there is still nothing to fit, said as such.
    [error] = [e.value for e in app.error]
    assert "Model of sessions" not in error and "no session's length could be derived" in error


@pytest.mark.skipif(not spend_log_supported(), reason="PipecatBudget has no spend_log= yet")
def test_a_spend_log_gives_the_chained_stack_and_its_volume(app, tmp_path):
    log = tmp_path / "spend.jsonl"
    write_spend_log(PARAMS, 6, log)               # 6 sessions through real PipecatBudgets
    app.toggle(key="fit_volume").set_value(True)  # calls per month from the sessions
    upload(app, [("spend.jsonl", log.read_bytes())])
    assert not app.error, [e.value for e in app.error]
    stack = "deepgram/nova-3+openai/gpt-5.4-mini+cartesia/sonic-3"
    assert app.multiselect(key="w_pipeline_sel").value == [stack]
    assert app.multiselect(key="w_singles").value == []
    # all 6 sessions started on one day: no span to scale, so they are taken as a month's
    assert app.number_input(key="w_calls_per_month").value == 6
    assert fit_table(app)["volume.calls_per_month"]["Source"].startswith("the 6 sessions")


def test_empirical_lengths_are_written_beside_the_fitted_scenario(tmp_path):
    # 30 short and 30 long calls: no lognormal fits two humps, so the lengths themselves
    files = [p for p, _ in write_sessions(
        "openai", TrueParams(seed=5, duration_mean_min=1.0, duration_p95_min=1.3), 30,
        tmp_path / "s")]
    files += [p for p, _ in write_sessions(
        "openai", TrueParams(seed=6, duration_mean_min=8.0, duration_p95_min=10.0), 30,
        tmp_path / "s", first=30)]
    fitted = fit_uploads([(p.name, p.read_bytes()) for p in files], tmp_path / "up",
                         calls_per_month=1000)
    assert fitted.result.duration.chosen == "empirical" and fitted.lengths_path is not None
    sc = load_scenario(fitted.scenario_path)
    assert sc.resolve_path(sc.duration_min.empirical) == fitted.lengths_path
    assert len(fitted.lengths_path.read_text().split()) >= 60   # one length per session
    assert "assumptions:" in fitted.scenario_path.read_text()


def test_uploads_are_bounded_before_they_are_read():
    check_upload([("a.jsonl", MAX_BYTES // 2)] * 2)
    with pytest.raises(InputError, match="more than the dashboard fits at once .64 MB.; fit "
                       "them with `costmodel fit`"):
        check_upload([("a.jsonl", MAX_BYTES // 2), ("b.jsonl", MAX_BYTES // 2 + 1)])
    with pytest.raises(InputError, match="2,001 files are more than"):
        check_upload([("a.jsonl", 1)] * (MAX_FILES + 1))
