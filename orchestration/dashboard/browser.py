"""Open the dashboard in headless Chromium and report what a person would see.

A tiny Chrome DevTools Protocol client (over `websockets`) drives the system's Chromium
(Debian package `chromium`, `make system-deps`): it loads the file, records JavaScript
exceptions, console errors and any request that would leave the machine, waits for the page's
`#dashboard-status`, checks that every chart drew data, switches through every program and
scenario of the selectors, and takes a full-page screenshot. Used by tests/test_dashboard.py and
to refresh docs/img/dashboard.png (docs/bi.md).
"""

from __future__ import annotations

import base64
import contextlib
import json
import os
import shutil
import signal
import subprocess
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

CHROMIUM_CANDIDATES = ("chromium", "chromium-browser", "google-chrome", "chrome")
CHROMIUM_FLAGS = (
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--disable-dev-shm-usage",
    "--hide-scrollbars",
    "--remote-debugging-port=0",
)
LOCAL_SCHEMES = ("file:", "data:", "blob:", "about:", "chrome:", "devtools:")
VIEWPORT = (1440, 900)

CHART_STATE_JS = """
(() => {
  const status = document.getElementById('dashboard-status');
  const charts = [...document.querySelectorAll('.chart')].map((node) => {
    const traces = Array.isArray(node.data) ? node.data : [];
    const points = traces.reduce((sum, trace) => {
      const values = trace.type === 'heatmap' ? [].concat(...(trace.z || []))
        : (trace.orientation === 'h' ? trace.x : trace.y);
      return sum + (values || []).filter((v) => v !== null && v !== undefined).length;
    }, 0);
    return {
      id: node.id,
      drawn: node.classList.contains('js-plotly-plot'),
      traces: traces.length,
      points: points,
      svg: node.querySelectorAll('svg.main-svg').length,
    };
  });
  return {
    status: status ? status.dataset.status : null,
    detail: status ? status.dataset.detail : null,
    renders: status ? Number(status.dataset.renderCount || 0) : 0,
    program: document.getElementById('program-select').value,
    scenario: document.getElementById('scenario-select').value,
    programs: [...document.getElementById('program-select').options].map((o) => o.value),
    scenarios: [...document.getElementById('scenario-select').options].map((o) => o.value),
    charts: charts,
  };
})()
"""


class BrowserError(RuntimeError):
    """Chromium is missing, did not start, or the page could not be driven."""


@dataclass
class ViewState:
    """What one program / scenario choice showed."""

    program: str
    scenario: str
    status: str | None
    detail: str | None
    charts: list[dict[str, Any]]

    @property
    def empty_charts(self) -> list[str]:
        return [c["id"] for c in self.charts if not c["drawn"] or c["points"] == 0 or not c["svg"]]


@dataclass
class PageReport:
    """Everything the checks need: errors, outside requests and each view's charts."""

    views: list[ViewState] = field(default_factory=list)
    exceptions: list[str] = field(default_factory=list)
    console_errors: list[str] = field(default_factory=list)
    external_requests: list[str] = field(default_factory=list)
    screenshot: Path | None = None

    @property
    def problems(self) -> list[str]:
        found = [f"JavaScript exception: {text}" for text in self.exceptions]
        found += [f"console error: {text}" for text in self.console_errors]
        found += [f"request leaving the machine: {url}" for url in self.external_requests]
        for view in self.views:
            where = f"{view.program} / {view.scenario}"
            if view.status != "ok":
                found.append(f"{where}: page status {view.status!r} ({view.detail})")
            found += [f"{where}: chart {chart} is empty" for chart in view.empty_charts]
        if not self.views:
            found.append("the page showed no view")
        return found


def find_chromium() -> str | None:
    """The Chromium executable on PATH, or None."""
    for name in CHROMIUM_CANDIDATES:
        path = shutil.which(name)
        if path:
            return path
    return None


class _Cdp:
    """A minimal synchronous CDP session: commands by id, events buffered."""

    def __init__(self, url: str, timeout: float) -> None:
        from websockets.sync.client import connect

        self.timeout = timeout
        self._stack = contextlib.ExitStack()
        self.ws = self._stack.enter_context(connect(url, max_size=None, open_timeout=timeout))
        self.next_id = 0
        self.events: list[dict[str, Any]] = []

    def close(self) -> None:
        self._stack.close()

    def _receive(self, deadline: float) -> dict[str, Any]:
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            raise TimeoutError
        return json.loads(self.ws.recv(timeout=remaining))

    def send(self, method: str, params: dict[str, Any] | None = None, session: str | None = None):
        self.next_id += 1
        message: dict[str, Any] = {"id": self.next_id, "method": method, "params": params or {}}
        if session:
            message["sessionId"] = session
        self.ws.send(json.dumps(message))
        deadline = time.monotonic() + self.timeout
        while True:
            try:
                reply = self._receive(deadline)
            except TimeoutError:
                raise BrowserError(
                    f"Chromium did not answer {method} in {self.timeout} s"
                ) from None
            if reply.get("id") == self.next_id:
                if "error" in reply:
                    raise BrowserError(f"{method} failed: {reply['error']}")
                return reply.get("result", {})
            if "method" in reply:
                self.events.append(reply)

    def wait_event(self, method: str, timeout: float) -> dict[str, Any]:
        for event in self.events:
            if event["method"] == method:
                self.events.remove(event)
                return event
        deadline = time.monotonic() + timeout
        while True:
            try:
                message = self._receive(deadline)
            except TimeoutError:
                raise BrowserError(f"no {method} within {timeout} s") from None
            if message.get("method") == method:
                return message
            if "method" in message:
                self.events.append(message)

    def drain(self) -> list[dict[str, Any]]:
        """Buffered events plus whatever arrives in the next moment."""
        with contextlib.suppress(TimeoutError):
            while True:
                message = self._receive(time.monotonic() + 0.05)
                if "method" in message:
                    self.events.append(message)
        drained, self.events = self.events, []
        return drained


@contextlib.contextmanager
def _chromium(executable: str, timeout: float) -> Iterator[str]:
    """Start headless Chromium with a throw-away profile; yield its browser websocket URL."""
    with tempfile.TemporaryDirectory(prefix="vip-chromium-") as profile:
        command = [executable, *CHROMIUM_FLAGS, f"--user-data-dir={profile}", "about:blank"]
        # its own process group: the renderer, GPU and crash handler processes it starts
        # write into the profile too, and must be gone before the profile is removed
        process = subprocess.Popen(
            command,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
            stdin=subprocess.DEVNULL,
            start_new_session=True,
        )
        try:
            port_file = Path(profile) / "DevToolsActivePort"
            deadline = time.monotonic() + timeout
            while not port_file.exists() or len(port_file.read_text().splitlines()) < 2:
                if process.poll() is not None:
                    stderr = (
                        process.stderr.read().decode(errors="replace") if process.stderr else ""
                    )
                    raise BrowserError(f"Chromium exited ({process.returncode}): {stderr[-2000:]}")
                if time.monotonic() > deadline:
                    raise BrowserError(f"Chromium did not open its debugging port in {timeout} s")
                time.sleep(0.05)
            port, path = port_file.read_text().splitlines()[:2]
            yield f"ws://127.0.0.1:{port.strip()}{path.strip()}"
        finally:
            _stop_process_group(process)
            if process.stderr:
                process.stderr.close()


def _stop_process_group(process: subprocess.Popen[bytes]) -> None:
    """Stop Chromium and every process it started (its process group): asked first, then
    killed, so that none still writes into the profile directory when it is removed."""
    with contextlib.suppress(ProcessLookupError):
        os.killpg(process.pid, signal.SIGTERM)
    with contextlib.suppress(subprocess.TimeoutExpired):
        process.wait(timeout=10)
    with contextlib.suppress(ProcessLookupError):
        os.killpg(process.pid, signal.SIGKILL)
    process.wait(timeout=10)


def _record(report: PageReport, events: list[dict[str, Any]]) -> None:
    for event in events:
        method, params = event["method"], event.get("params", {})
        if method == "Runtime.exceptionThrown":
            details = params.get("exceptionDetails", {})
            exception = details.get("exception", {})
            report.exceptions.append(
                exception.get("description") or details.get("text") or json.dumps(details)[:500]
            )
        elif method == "Runtime.consoleAPICalled" and params.get("type") in ("error", "assert"):
            args = params.get("args", [])
            report.console_errors.append(
                " ".join(str(a.get("value", a.get("description", ""))) for a in args)
            )
        elif method == "Log.entryAdded" and params.get("entry", {}).get("level") == "error":
            entry = params["entry"]
            report.console_errors.append(f"{entry.get('text')} {entry.get('url', '')}".strip())
        elif method == "Network.requestWillBeSent":
            url = params.get("request", {}).get("url", "")
            if not url.startswith(LOCAL_SCHEMES):
                report.external_requests.append(url)


def inspect_dashboard(
    html_file: Path,
    screenshot: Path | None = None,
    all_views: bool = True,
    timeout: float = 60.0,
    executable: str | None = None,
) -> PageReport:
    """Load `html_file` in headless Chromium and report errors and each view's charts.

    With `all_views`, every program and every scenario of the selectors is shown in turn;
    the screenshot (full page) is of the first view.
    """
    executable = executable or find_chromium()
    if not executable:
        raise BrowserError(
            "Chromium is not installed: run `make system-deps` (Debian: apt-get install chromium)."
        )
    report = PageReport()
    with _chromium(executable, timeout) as browser_url:
        cdp = _Cdp(browser_url, timeout)
        try:
            target = cdp.send("Target.createTarget", {"url": "about:blank"})["targetId"]
            session = cdp.send("Target.attachToTarget", {"targetId": target, "flatten": True})[
                "sessionId"
            ]
            for domain in ("Runtime", "Log", "Page", "Network"):
                cdp.send(f"{domain}.enable", session=session)
            width, height = VIEWPORT
            cdp.send(
                "Emulation.setDeviceMetricsOverride",
                {"width": width, "height": height, "deviceScaleFactor": 1, "mobile": False},
                session=session,
            )
            cdp.send("Page.navigate", {"url": Path(html_file).resolve().as_uri()}, session=session)
            cdp.wait_event("Page.loadEventFired", timeout)

            def evaluate(expression: str) -> Any:
                result = cdp.send(
                    "Runtime.evaluate",
                    {"expression": expression, "returnByValue": True, "awaitPromise": True},
                    session=session,
                )
                if "exceptionDetails" in result:
                    raise BrowserError(
                        f"evaluating in the page failed: {result['exceptionDetails']}"
                    )
                return result.get("result", {}).get("value")

            def settled(min_renders: int) -> dict[str, Any]:
                deadline = time.monotonic() + timeout
                while True:
                    state = evaluate(CHART_STATE_JS)
                    if state["status"] == "error" or (
                        state["status"] != "loading" and state["renders"] >= min_renders
                    ):
                        return state
                    if time.monotonic() > deadline:
                        return state
                    time.sleep(0.1)

            def view(state: dict[str, Any]) -> ViewState:
                return ViewState(
                    program=state["program"],
                    scenario=state["scenario"],
                    status=state["status"],
                    detail=state["detail"],
                    charts=state["charts"],
                )

            state = settled(1)
            report.views.append(view(state))
            if screenshot is not None:
                metrics = cdp.send("Page.getLayoutMetrics", session=session)
                full_height = int(metrics.get("cssContentSize", {}).get("height", height))
                cdp.send(
                    "Emulation.setDeviceMetricsOverride",
                    {
                        "width": width,
                        "height": full_height,
                        "deviceScaleFactor": 1,
                        "mobile": False,
                    },
                    session=session,
                )
                time.sleep(0.5)  # responsive charts redraw for the new size
                shot = cdp.send(
                    "Page.captureScreenshot",
                    {"format": "png", "captureBeyondViewport": True},
                    session=session,
                )
                screenshot.parent.mkdir(parents=True, exist_ok=True)
                screenshot.write_bytes(base64.b64decode(shot["data"]))
                report.screenshot = screenshot
            if all_views:
                renders = state["renders"]
                for program in state["programs"]:
                    renders += 1
                    evaluate(_select_js("program-select", program))
                    program_state = settled(renders)
                    report.views.append(view(program_state))
                    for scenario in program_state["scenarios"]:
                        if scenario == program_state["scenario"]:
                            continue
                        renders += 1
                        evaluate(_select_js("scenario-select", scenario))
                        report.views.append(view(settled(renders)))
            _record(report, cdp.drain())
            with contextlib.suppress(Exception):  # the browser may hang up before answering
                cdp.send("Browser.close")
        finally:
            cdp.close()
    return report


def _select_js(select_id: str, value: str) -> str:
    return (
        f"(() => {{ const s = document.getElementById({json.dumps(select_id)}); "
        f"s.value = {json.dumps(value)}; s.dispatchEvent(new Event('change')); "
        "return s.value; })()"
    )


def main(argv: list[str] | None = None) -> int:
    """`python -m orchestration.dashboard.browser PAGE.html [--screenshot PNG]`: check a page."""
    import argparse

    parser = argparse.ArgumentParser(description=main.__doc__)
    parser.add_argument("page", type=Path, help="dashboard HTML file")
    parser.add_argument("--screenshot", type=Path, help="write a full-page PNG here")
    parser.add_argument("--first-view-only", action="store_true", help="skip the other views")
    args = parser.parse_args(argv)
    report = inspect_dashboard(
        args.page, screenshot=args.screenshot, all_views=not args.first_view_only
    )
    print(f"{len(report.views)} views checked")
    for problem in report.problems:
        print(f"problem: {problem}")
    if report.screenshot:
        print(f"screenshot: {report.screenshot}")
    return 1 if report.problems else 0


if __name__ == "__main__":  # pragma: no cover
    raise SystemExit(main())
