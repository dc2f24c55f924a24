"""Driving the dashboard in a real headless Chromium over the DevTools protocol, for the
browser tests and `bench/bench_dashboard.py`: start `streamlit run` and Chromium, click,
type, and wait until the page has *settled* (a marker shown, no element stale, nothing
running) by polling its content, never by sleeping a fixed time."""

from __future__ import annotations

import base64
import contextlib
import json
import re
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path

CHROMIUM = Path("/usr/bin/chromium")
STATE_JS = """(() => {
  const q = s => document.querySelectorAll(s).length;
  const status = document.querySelector('[data-testid="stStatusWidget"]');
  return JSON.stringify({
    text: document.body ? document.body.innerText : "",
    exceptions: q('[data-testid="stException"]'),
    busy: q('[data-testid="stSkeleton"]') + q('[data-testid="stSpinner"]')
          + q('[data-stale="true"]')
          + (status && /running/i.test(status.innerText) ? 1 : 0),
    charts: q('[data-testid="stVegaLiteChart"] canvas, [data-testid="stVegaLiteChart"] svg'),
  });
})()"""


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@contextlib.contextmanager
def streamlit(app: Path, log: Path, timeout: float = 60) -> Iterator[str]:
    """`streamlit run app` on a free port; yields its URL."""
    port = free_port()
    with open(log, "wb") as out:
        proc = subprocess.Popen(
            [sys.executable, "-m", "streamlit", "run", str(app), "--server.headless", "true",
             "--server.port", str(port), "--server.address", "127.0.0.1",
             "--browser.gatherUsageStats", "false", "--server.fileWatcherType", "none"],
            stdout=out, stderr=subprocess.STDOUT, cwd=app.parent)
        try:
            deadline = time.monotonic() + timeout
            while True:
                try:
                    with urllib.request.urlopen(
                            f"http://127.0.0.1:{port}/_stcore/health", timeout=2) as resp:
                        if resp.status == 200:
                            break
                except OSError:
                    if time.monotonic() > deadline or proc.poll() is not None:
                        raise
                time.sleep(0.1)
            yield f"http://127.0.0.1:{port}/"
        finally:
            proc.terminate()
            try:
                proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                proc.kill()


class Page:
    """The smallest DevTools client: send a command, wait for its reply."""

    def __init__(self, ws) -> None:
        self.ws, self.next_id = ws, 0

    def call(self, method: str, **params):
        self.next_id += 1
        self.ws.send(json.dumps({"id": self.next_id, "method": method, "params": params}))
        while True:
            msg = json.loads(self.ws.recv(timeout=60))
            if msg.get("id") == self.next_id:
                if "error" in msg:
                    raise RuntimeError(f"{method}: {msg['error']}")
                return msg["result"]

    def js(self, expression: str):
        res = self.call("Runtime.evaluate", expression=expression, returnByValue=True)
        return res["result"].get("value")

    def state(self) -> dict:
        return json.loads(self.js(STATE_JS))

    def settled(self, marker: str, timeout: float = 60, charts: int = 0,
                absent: str | None = None) -> dict:
        """Poll until `marker` is shown (and `absent` is not) and the page is idle (or an
        exception is shown)."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            st = self.state()
            if st["exceptions"]:
                return st
            if (marker in st["text"] and not st["busy"] and st["charts"] >= charts
                    and (absent is None or absent not in st["text"])):
                return st
            time.sleep(0.02)
        raise AssertionError(f"page did not show {marker!r} within {timeout} s:\n"
                             f"{self.state()['text'][:3000]}")

    def wait_for(self, marker: str, timeout: float = 30) -> dict:
        """Until `marker` is on the page, nothing is running, and that holds for 0.5 s (or
        an exception is shown)."""
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
        return str(self.js("document.documentElement.outerHTML"))

    def screenshot(self, path: Path) -> None:
        data = self.call("Page.captureScreenshot", format="png")["data"]
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(base64.b64decode(data))

    def navigate(self, url: str) -> None:
        self.call("Page.navigate", url=url)

    def click_label(self, text: str, selector: str = "label") -> None:
        """Click the first `selector` element whose text is `text` (a radio option ...)."""
        ok = self.js(f"(() => {{ const l = [...document.querySelectorAll({json.dumps(selector)})]"
                     f".find(l => l.textContent.trim() === {json.dumps(text)}); "
                     "if (l) l.click(); return !!l; })()")
        assert ok, f"nothing to click labelled {text!r}"

    def type_into(self, aria_label: str, text: str) -> None:
        """Replace the text of the input labelled `aria_label` and press Enter."""
        ok = self.js(f"(() => {{ const i = document.querySelector("
                     f"'input[aria-label={json.dumps(aria_label)}]'); if (!i) return false; "
                     "i.focus(); i.select(); return true; })()")
        assert ok, f"no input labelled {aria_label!r}"
        self.call("Input.insertText", text=text)
        for kind in ("keyDown", "keyUp"):
            self.call("Input.dispatchKeyEvent", type=kind, key="Enter", code="Enter",
                      windowsVirtualKeyCode=13)

    def upload(self, path: Path, index: int = 0) -> None:
        root = self.call("DOM.getDocument")["root"]["nodeId"]
        nodes = self.call("DOM.querySelectorAll", nodeId=root,
                          selector="input[type=file]")["nodeIds"]
        self.call("DOM.setFileInputFiles", nodeId=nodes[index], files=[str(path)])

    def url(self) -> str:
        return self.js("location.href")


@contextlib.contextmanager
def chromium(profile: Path, width: int = 1400, height: int = 1000) -> Iterator[Page]:
    from websockets.sync.client import connect

    proc = subprocess.Popen(
        [str(CHROMIUM), "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic",
         "--no-first-run", "--disable-background-networking", "--disable-component-update",
         "--disable-sync", "--disable-dev-shm-usage", f"--user-data-dir={profile}",
         f"--window-size={width},{height}", "--remote-debugging-port=0", "about:blank"],
        stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    try:
        deadline, port = time.monotonic() + 30, None
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
            page = Page(ws)
            page.call("Page.enable")
            page.call("Emulation.setDeviceMetricsOverride", width=width, height=height,
                      deviceScaleFactor=1, mobile=False)
            yield page
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
