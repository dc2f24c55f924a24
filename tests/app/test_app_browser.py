"""A real browser smoke test: `streamlit run app.py` in a subprocess, Debian's headless
Chromium driven over the DevTools protocol (no chromedriver), every view opened in turn.

Fails on any exception Streamlit shows in the page, saves a screenshot of each view (in the
test's temp dir; set ``COSTMODEL_SCREENSHOT=docs/dashboard.png`` to also refresh the README's
screenshot of the first view). Skips when /usr/bin/chromium is missing (CI installs it with
``apt-get install -y chromium``).
"""

from __future__ import annotations

import base64
import json
import os
import re
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest

CHROMIUM = Path("/usr/bin/chromium")
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
STATE_JS = """(() => {
  const q = s => document.querySelectorAll(s).length;
  const status = document.querySelector('[data-testid="stStatusWidget"]');
  return JSON.stringify({
    text: document.body ? document.body.innerText : "",
    exceptions: q('[data-testid="stException"]'),
    busy: q('[data-testid="stSkeleton"]') + q('[data-testid="stSpinner"]')
          + (status && /running/i.test(status.innerText) ? 1 : 0),
    charts: q('[data-testid="stVegaLiteChart"] canvas, [data-testid="stVegaLiteChart"] svg'),
  });
})()"""

# On a developer machine without Chromium the test skips; in CI (which installs it) a
# missing browser is a failure, never a silent skip.
if not CHROMIUM.exists() and os.environ.get("CI"):
    raise RuntimeError("CI must install Debian's chromium (.ci/run does): /usr/bin/chromium "
                       "is missing")
pytestmark = pytest.mark.skipif(not CHROMIUM.exists(),
                                reason="needs Debian's chromium at /usr/bin/chromium "
                                       "(apt-get install -y chromium)")


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _wait_http(url: str, timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while True:
        try:
            with urllib.request.urlopen(url, timeout=2) as resp:
                if resp.status == 200:
                    return
        except OSError:
            if time.monotonic() > deadline:
                raise
        time.sleep(0.2)


class Page:
    """The smallest DevTools client: send a command, wait for its reply."""

    def __init__(self, ws) -> None:
        self.ws, self.next_id = ws, 0

    def call(self, method: str, **params):
        self.next_id += 1
        self.ws.send(json.dumps({"id": self.next_id, "method": method, "params": params}))
        while True:
            msg = json.loads(self.ws.recv(timeout=30))
            if msg.get("id") == self.next_id:
                if "error" in msg:
                    raise RuntimeError(f"{method}: {msg['error']}")
                return msg["result"]

    def state(self) -> dict:
        res = self.call("Runtime.evaluate", expression=STATE_JS, returnByValue=True)
        return json.loads(res["result"]["value"])

    def wait_for(self, marker: str, timeout: float = 30) -> dict:
        """Until `marker` is on the page, nothing is running, and that holds for 0.5 s."""
        deadline, since = time.monotonic() + timeout, None
        while time.monotonic() < deadline:
            st = self.state()
            if st["exceptions"]:
                return st
            if marker in st["text"] and not st["busy"]:
                since = since or time.monotonic()
                if time.monotonic() - since > 0.5:
                    return st
            else:
                since = None
            time.sleep(0.1)
        raise AssertionError(f"page did not show {marker!r} within {timeout} s:\n"
                             f"{self.state()['text'][:2000]}")

    def dom(self) -> str:
        res = self.call("Runtime.evaluate", expression="document.documentElement.outerHTML",
                        returnByValue=True)
        return res["result"]["value"]

    def screenshot(self, path: Path) -> None:
        data = self.call("Page.captureScreenshot", format="png")["data"]
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(base64.b64decode(data))


@pytest.fixture
def server(tmp_path):
    port = _free_port()
    log = open(tmp_path / "streamlit.log", "wb")  # noqa: SIM115 - closed below
    proc = subprocess.Popen(
        [sys.executable, "-m", "streamlit", "run", str(APP), "--server.headless", "true",
         "--server.port", str(port), "--server.address", "127.0.0.1",
         "--browser.gatherUsageStats", "false", "--server.fileWatcherType", "none"],
        stdout=log, stderr=subprocess.STDOUT,
        cwd=APP.parent)
    try:
        _wait_http(f"http://127.0.0.1:{port}/_stcore/health", timeout=30)
        yield f"http://127.0.0.1:{port}/"
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
        log.close()


@pytest.fixture
def page(tmp_path):
    from websockets.sync.client import connect

    proc = subprocess.Popen(
        [str(CHROMIUM), "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic",
         "--no-first-run", "--disable-background-networking", "--disable-component-update",
         "--disable-sync", "--disable-dev-shm-usage", f"--user-data-dir={tmp_path / 'chrome'}",
         "--window-size=1400,1000", "--remote-debugging-port=0", "about:blank"],
        stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    try:
        deadline, port = time.monotonic() + 20, None
        while port is None and time.monotonic() < deadline:
            line = proc.stderr.readline()
            if m := re.search(r"DevTools listening on ws://[^:]+:(\d+)/", line):
                port = int(m.group(1))
            elif not line and proc.poll() is not None:
                break
        assert port, "chromium did not start its DevTools endpoint"
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/json/list", timeout=5) as resp:
            target = next(t for t in json.load(resp) if t["type"] == "page")
        with connect(target["webSocketDebuggerUrl"], max_size=None, open_timeout=10) as ws:
            p = Page(ws)
            p.call("Emulation.setDeviceMetricsOverride", width=1400, height=1000,
                   deviceScaleFactor=1, mobile=False)
            yield p
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()


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
