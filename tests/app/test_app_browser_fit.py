"""Fit to sessions in a real headless Chromium (issue 14 item 5): recorded sessions put into
the page's file input over the DevTools protocol (``DOM.setFileInputFiles``, what a user's
file picker does), the fitted scenario loaded into the inputs, and a file that cannot be
fitted named beside the uploader while the inputs stay. Every wait is on the page's content
(`cdp.Page.settled`), never a fixed sleep."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

from ..fit.generate import TrueParams, write_sessions
from .cdp import CHROMIUM, Page, chromium, streamlit

APP = Path(__file__).resolve().parents[2] / "app.py"
MONTHLY = "Monthly = calls × mean per-call cost"
if not CHROMIUM.exists() and os.environ.get("CI"):
    raise RuntimeError("CI must install Debian's chromium: /usr/bin/chromium is missing")
pytestmark = pytest.mark.skipif(not CHROMIUM.exists(),
                                reason="needs Debian's chromium at /usr/bin/chromium")


def put_files(page: Page, label: str, files: list[Path]) -> None:
    """Give the file input of the uploader labelled `label` these files."""
    index = page.js(
        "[...document.querySelectorAll('input[type=file]')].findIndex(i => "
        "i.closest('[data-testid=\"stFileUploader\"]').innerText.includes("
        f"{json.dumps(label)}))")
    assert index is not None and index >= 0, f"no uploader labelled {label!r}"
    root = page.call("DOM.getDocument")["root"]["nodeId"]
    nodes = page.call("DOM.querySelectorAll", nodeId=root,
                      selector="input[type=file]")["nodeIds"]
    page.call("DOM.setFileInputFiles", nodeId=nodes[index], files=[str(f) for f in files])


def value(page: Page, label: str) -> str:
    return page.js(f"document.querySelector('input[aria-label=\"{label}\"]').value")


def test_sessions_fitted_in_the_browser_become_the_inputs(tmp_path):
    sessions = [p for p, _ in write_sessions(
        "openai", TrueParams(seed=3, duration_mean_min=2.0, duration_p95_min=5.0), 4,
        tmp_path / "sessions")]
    bad = tmp_path / "notes.jsonl"
    bad.write_text("not an event\n")
    with streamlit(APP, tmp_path / "streamlit.log") as url, \
            chromium(tmp_path / "chrome", width=1280, height=900) as page:
        page.navigate(url)
        page.settled(MONTHLY, charts=1)
        page.click_label("Fit to sessions")
        page.settled("No files yet")
        # a file that cannot be fitted: named beside the uploader, support-line's inputs stay
        put_files(page, "Recorded sessions or spend logs", [bad])
        st = page.settled("notes.jsonl cannot be fitted")
        assert not st["exceptions"], st["text"][:3000]
        assert "costmodel-fit-upload" not in st["text"] and "across 10 stacks" in st["text"]
        assert value(page, "System prompt tokens") == "3000"
        # the sessions added to it (the uploader takes several files): fitted, the bad one
        # left out and said so
        put_files(page, "Recorded sessions or spend logs", sessions)
        st = page.settled("Fitted to 4 sessions of openai/gpt-realtime-1.5", charts=1)
        assert not st["exceptions"], st["text"][:3000]
        text = st["text"]
        assert "across 1 stacks" in text and "Stale results" not in text
        assert "left out: notes.jsonl" in text and "cannot be fitted" not in text
        assert "Fitted scenario (YAML)" in text
        assert page.js(  # the parameter table (a canvas grid: its cells are not page text)
            "[...document.querySelectorAll('[data-testid=\"stExpander\"]')].some(e => "
            "e.innerText.includes('Fitted to 4 sessions') && "
            "e.querySelector('[data-testid=\"stDataFrame\"]'))")
        # the generator's system prompt (TrueParams.system_tokens), billed whole by every
        # session's first response; the calls per month kept from support-line
        assert value(page, "System prompt tokens") == "2500"
        assert value(page, "Calls per month") == "60000"


def test_the_reconcile_view_in_the_browser(tmp_path):
    from urllib.parse import urlencode

    from costmodel.dashboard.model import to_query
    from costmodel.estimation import load_scenario

    from ..reconcile.pilot import COSTS, TWILIO, XAI, write_pilot_ledger

    ledger = write_pilot_ledger(tmp_path / "spend.db")
    sc = load_scenario(APP.parent / "examples" / "outbound-sales.yaml")
    with streamlit(APP, tmp_path / "streamlit.log") as url, \
            chromium(tmp_path / "chrome", width=1280, height=900) as page:
        page.navigate(f"{url.rstrip('/')}/?{urlencode(to_query(sc, {'view': 'Reconcile'}))}")
        page.settled("Upload a spend log or a ledger")
        put_files(page, "Recorded: spend logs", [ledger])
        put_files(page, "Billed: provider exports", [COSTS, TWILIO, XAI])
        # the pilot's one row over 5%: realtime mini billed +5.7% on Nov 25
        st = page.settled("1 of 9 rows", charts=1)
        assert not st["exceptions"], st["text"][:3000]
        assert "$55.3250" in st["text"] and "2026-11-24 to 2026-11-26" in st["text"]
        assert "Stale" not in st["text"] and "cannot be reconciled" not in st["text"]
