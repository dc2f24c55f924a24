"""Issue 12's defects, each reproduced in a real headless Chromium (see `cdp.py`): inputs
that survive an empirical pick, an upload and a broken file; plain-word errors beside their
field with the last results kept and marked stale; the headline; the breakdown; the URL that
reproduces the view. Every wait is on the page's content, never a fixed sleep."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from .cdp import CHROMIUM, chromium, streamlit

APP = Path(__file__).resolve().parents[2] / "app.py"
MONTHLY = "Monthly = calls × mean per-call cost"
if not CHROMIUM.exists() and os.environ.get("CI"):
    raise RuntimeError("CI must install Debian's chromium: /usr/bin/chromium is missing")
pytestmark = pytest.mark.skipif(not CHROMIUM.exists(),
                                reason="needs Debian's chromium at /usr/bin/chromium")


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    with streamlit(APP, tmp_path_factory.mktemp("st") / "streamlit.log") as url:
        yield url


@pytest.fixture(scope="module")
def browser(tmp_path_factory):
    with chromium(tmp_path_factory.mktemp("chrome"), width=1280, height=720) as page:
        yield page


@pytest.fixture
def page(browser, server):
    browser.navigate(server)   # a new page load is a new Streamlit session
    st = browser.settled(MONTHLY, charts=1)
    assert not st["exceptions"], st["text"][:2000]
    return browser


def value(page, label: str) -> str:
    return page.js(f"document.querySelector('input[aria-label=\"{label}\"]').value")


def test_inputs_survive_an_empirical_upload(page, tmp_path):
    page.click_label("empirical")
    st = page.settled("upload a CSV of call lengths")
    assert "Stale results" in st["text"] and value(page, "System prompt tokens") == "3000"
    csv = tmp_path / "lengths.csv"
    csv.write_text("minutes\n" + "\n".join(str(1 + i % 9) for i in range(200)) + "\n")
    page.upload(csv, index=0)
    st = page.settled("Using lengths.csv")
    st = page.settled(MONTHLY, charts=1)
    assert "Stale results" not in st["text"] and "upload a CSV" not in st["text"]
    assert value(page, "System prompt tokens") == "3000"
    assert value(page, "Calls per month") == "60000"
    assert "deepgram/nova-3+openai/gpt-5.4-mini+cartesia/sonic-3" in st["text"]  # pipelines
    assert "across 10 stacks" in st["text"]


def test_a_broken_upload_keeps_the_inputs_and_names_the_file(page, tmp_path):
    page.type_into("Calls per month", "45000")
    page.settled("45,000 calls/month")
    page.click_label("Upload YAML")
    page.settled("No file yet")
    bad = tmp_path / "mine.yaml"
    bad.write_text("name: x\nvolume: {calls_per_month: -5}\n")
    page.upload(bad)
    st = page.settled("mine.yaml cannot be used")
    assert "costmodel-dashboard" not in st["text"] and "--stack" not in st["text"]
    page.click_label("Example")
    st = page.settled("45,000 calls/month", absent="cannot be used")
    assert value(page, "Calls per month") == "45000" and "Stale results" not in st["text"]
    assert "across 10 stacks" in st["text"]


def test_impossible_call_length_is_a_plain_error_and_results_stay(page):
    page.type_into("Mean", "3.5")
    st = page.settled("p95 must be at most 3.87 × the mean")
    text = st["text"]
    assert "Stale results" in text and "across 10 stacks" in text   # last results kept
    assert "pydantic" not in text and "type=value_error" not in text
    page.type_into("p95", "12")
    st = page.settled(MONTHLY, charts=1, absent="p95 must be")
    assert "Stale results" not in st["text"] and "p95 must be" not in st["text"]


def test_headline_and_breakdown(page):
    text = page.state()["text"]
    assert "Cheapest stack" in text and "nova-2-sonic" in text
    assert "cheaper than gpt-realtime-1.5" in text and "session limit" in text
    page.click_label("Cost breakdown")
    st = page.settled("split by what it pays for", charts=1)
    assert not st["exceptions"]


def test_the_url_reproduces_the_view(page, server):
    page.type_into("Calls per month", "12345")
    page.settled("12,345 calls/month")
    page.click_label("Cost breakdown")
    page.settled("split by what it pays for", charts=1)
    link = page.url()
    assert link.startswith(server) and "s=" in link and "view=Cost" in link
    page.navigate(link)
    st = page.settled("split by what it pays for", charts=1)
    assert "12,345 calls/month" in st["text"] and value(page, "Calls per month") == "12345"


def test_monthly_cost_and_break_even_show_one_self_host_price(page, server):
    # support-line with moshi and xAI: moshi's fleet, 5 GPUs always on for P99 35 concurrent
    # (5 x $2.79 x 730 h = $10,183.50), is the cheapest in Monthly cost's headline and the
    # self-host figure of Break-even.
    from urllib.parse import urlencode

    from costmodel.dashboard.model import to_query
    from costmodel.estimation import load_scenario

    sc = load_scenario(APP.parent / "examples" / "support-line.yaml")
    sc = sc.model_copy(update={"stacks": ["selfhost/moshi", "xai/grok-voice-agent"]})
    page.navigate(f"{server.rstrip('/')}/?{urlencode(to_query(sc, {'view': 'Monthly cost'}))}")
    st = page.settled(MONTHLY, charts=1)
    assert "Cheapest: moshi at $10,184/month" in st["text"], st["text"][:2000]
    page.click_label("Self-hosting break-even")
    st = page.settled("How this is defined.", charts=1)
    assert not st["exceptions"]
    assert "Self-hosting GPUs at this volume" in st["text"]
    assert "$10,184/month" in st["text"].split("Self-hosting GPUs at this volume", 1)[1][:80]
    assert "always on: 5 GPUs" in st["text"] and "P99 35 concurrent" in st["text"]
