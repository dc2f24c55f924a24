"""A real browser smoke test: `streamlit run app.py` in a subprocess, Debian's headless
Chromium driven over the DevTools protocol (no chromedriver), every view opened in turn.

Fails on any exception Streamlit shows in the page, saves a screenshot of each view (in the
test's temp dir; set ``COSTMODEL_SCREENSHOT=docs/dashboard.png`` to also refresh the README's
screenshot of the first view). Skips when /usr/bin/chromium is missing (CI installs it with
``apt-get install -y chromium``).
"""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

from .cdp import CHROMIUM, Page, chromium, streamlit

APP = Path(__file__).resolve().parents[2] / "app.py"
# Text that only the given view shows once it has rendered.
VIEWS = {
    "Monthly cost": "Monthly = calls × mean per-call cost",
    "Cost breakdown": "split by what it pays for",
    "Cost per minute vs call length": "Dashed lines: where the context",
    "Per-call distribution": "simulated calls per stack, overlaid",
    "Sensitivity": "Each point re-runs the estimate",
    "Capacity": "Capacity: calls arrive as a Poisson process",
    "Self-hosting break-even": "How this is defined.",
    "Catalog": "Token rates in USD per 1M tokens",
}
# On a developer machine without Chromium the test skips; in CI (which installs it) a
# missing browser is a failure, never a silent skip.
if not CHROMIUM.exists() and os.environ.get("CI"):
    raise RuntimeError("CI must install Debian's chromium (.ci/run does): /usr/bin/chromium "
                       "is missing")
pytestmark = pytest.mark.skipif(not CHROMIUM.exists(),
                                reason="needs Debian's chromium at /usr/bin/chromium "
                                       "(apt-get install -y chromium)")


@pytest.fixture
def server(tmp_path):
    with streamlit(APP, tmp_path / "streamlit.log", timeout=30) as url:
        yield url


@pytest.fixture
def page(tmp_path):
    with chromium(tmp_path / "chrome") as p:
        yield p


def _assert_clean(page: Page, st: dict, view: str) -> None:
    dom = page.dom()
    assert st["exceptions"] == 0 and "stException" not in dom and "Traceback" not in dom, (
        f"{view}: the app shows an exception:\n{st['text'][:3000]}")


def test_every_view_renders_without_exception(server, page, tmp_path):
    page.call("Page.enable")
    page.call("Page.navigate", url=server)
    first = next(iter(VIEWS))
    st = page.wait_for(VIEWS[first], timeout=40)
    _assert_clean(page, st, first)
    assert st["charts"] >= 1, "the monthly cost chart did not render"
    shot = tmp_path / "dashboard.png"
    page.screenshot(shot)
    if target := os.environ.get("COSTMODEL_SCREENSHOT"):
        page.screenshot(Path(target))
    assert shot.stat().st_size > 20_000, "the screenshot looks blank"
    for view, marker in list(VIEWS.items())[1:]:
        clicked = page.call("Runtime.evaluate", returnByValue=True, expression=(
            "(() => { const l = [...document.querySelectorAll('[data-testid=\"stRadio\"] label')]"
            f".find(l => l.innerText.trim() === {json.dumps(view)}); if (l) l.click(); "
            "return !!l; })()"))
        assert clicked["result"]["value"], f"no radio option {view!r}"
        st = page.wait_for(marker, timeout=40)
        _assert_clean(page, st, view)
        page.screenshot(tmp_path / f"{view.split()[0].lower()}.png")


def test_uploaded_scenario_is_estimated(server, page):
    page.call("Page.enable")
    page.call("Page.navigate", url=server)
    page.wait_for(VIEWS["Monthly cost"], timeout=40)
    page.call("Runtime.evaluate", expression=(
        "[...document.querySelectorAll('[data-testid=\"stRadio\"] label')]"
        ".find(l => l.innerText.trim() === 'Upload YAML').click()"))
    page.wait_for("No file yet", timeout=20)
    root = page.call("DOM.getDocument")["root"]["nodeId"]
    node = page.call("DOM.querySelector", nodeId=root, selector="input[type=file]")["nodeId"]
    page.call("DOM.setFileInputFiles", nodeId=node,
              files=[str(APP.parent / "examples" / "ivr.yaml")])
    st = page.wait_for("Inbound IVR replacement", timeout=40)  # the file's description
    _assert_clean(page, st, "upload")
    assert "xai/grok-voice-agent+twilio/us-inbound" in st["text"]
