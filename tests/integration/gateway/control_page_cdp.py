#!/usr/bin/python3
"""Drives the control page in headless Chromium over the DevTools protocol (Debian
chromium + python3-websockets); the control-page integration test runs it.

Usage: control_page_cdp.py URL TOKEN SESSION SCREENSHOT_PNG
  Loads URL (the gateway's /), logs in with TOKEN through the form, waits for the
  worker of SESSION to show as busy, saves a screenshot, clicks Restart and
  Confirm, and waits until the row shows a new pid. Prints one JSON line:
  {"ok", "old_pid", "new_pid", "href", "login_error", "error", "console"}.
Only loopback URLs are accepted. Chromium runs with a throw-away profile and no
network beyond what the page asks for.
"""
import asyncio
import base64
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
import urllib.parse
import urllib.request

import websockets

TIMEOUT = 60


def chromium():
    for name in ("chromium", "chromium-browser", "google-chrome"):
        p = shutil.which(name)
        if p:
            return p
    return None


class Cdp:
    def __init__(self, ws):
        self.ws = ws
        self.next_id = 1
        self.console = []

    async def call(self, method, **params):
        my_id = self.next_id
        self.next_id += 1
        await self.ws.send(json.dumps({"id": my_id, "method": method, "params": params}))
        while True:
            msg = json.loads(await asyncio.wait_for(self.ws.recv(), TIMEOUT))
            if msg.get("method") == "Runtime.consoleAPICalled":
                args = msg["params"].get("args", [])
                self.console.append(" ".join(str(a.get("value", a.get("description", "")))
                                             for a in args))
            if msg.get("method") == "Runtime.exceptionThrown":
                self.console.append("exception: " + json.dumps(
                    msg["params"]["exceptionDetails"].get("exception", {}).get("description")))
            if msg.get("id") == my_id:
                if "error" in msg:
                    raise RuntimeError(f"{method}: {msg['error']}")
                return msg.get("result", {})

    async def js(self, expr):
        r = await self.call("Runtime.evaluate", expression=expr, returnByValue=True,
                            awaitPromise=True)
        if "exceptionDetails" in r:
            raise RuntimeError(f"js failed: {expr}: {r['exceptionDetails']}")
        return r.get("result", {}).get("value")

    async def wait_js(self, expr, timeout=TIMEOUT):
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            v = await self.js(expr)
            if v:
                return v
            await asyncio.sleep(0.1)
        raise TimeoutError(f"timed out waiting for: {expr}")


async def drive(url, token, session, shot, port):
    out = {"ok": False}
    with urllib.request.urlopen(f"http://127.0.0.1:{port}/json/list", timeout=10) as r:
        targets = json.load(r)
    page = next(t for t in targets if t.get("type") == "page")
    async with websockets.connect(page["webSocketDebuggerUrl"], max_size=None,
                                  ping_interval=None) as ws:
        cdp = Cdp(ws)
        await cdp.call("Runtime.enable")
        await cdp.call("Page.enable")
        await cdp.call("Emulation.setDeviceMetricsOverride", width=1200, height=900,
                       deviceScaleFactor=1, mobile=False)
        await cdp.call("Page.navigate", url=url)
        await cdp.wait_js("document.readyState === 'complete' && !!document.getElementById('token')")
        # Type the token as a person would: focus the field, insert the text, press Enter.
        await cdp.js("document.getElementById('token').focus()")
        await cdp.call("Input.insertText", text=token)
        for kind in ("keyDown", "keyUp"):
            await cdp.call("Input.dispatchKeyEvent", type=kind, key="Enter", code="Enter",
                           windowsVirtualKeyCode=13, text="\r" if kind == "keyDown" else "")
        sel = f'#workers tbody tr[data-session={json.dumps(session)}]'
        try:
            await cdp.wait_js(f"!document.getElementById('dashboard').hidden", timeout=20)
        except TimeoutError:
            out["login_error"] = await cdp.js("document.getElementById('login-error').textContent")
            raise
        await cdp.wait_js(f"(() => {{ const r = document.querySelector('{sel}');"
                          f" return r && r.dataset.state === 'busy'; }})()")
        old_pid = await cdp.js(f"document.querySelector('{sel} td.pid').textContent")
        out["old_pid"] = int(old_pid)
        # Let the chart and the recent turns fill for a moment, then the screenshot.
        samples = int(os.environ.get("CDP_CHART_SAMPLES", "3"))
        await cdp.wait_js("document.querySelectorAll('#summary div').length > 0 &&"
                          f" Number(document.getElementById('chart').dataset.samples || 0) >= {samples}")
        shotr = await cdp.call("Page.captureScreenshot", format="png")
        with open(shot, "wb") as f:
            f.write(base64.b64decode(shotr["data"]))
        await cdp.js(f"document.querySelector('{sel} button[data-action=\"restart\"]').click()")
        await cdp.wait_js("document.getElementById('confirm').open")
        await cdp.js("document.getElementById('confirm-yes').click()")
        new_pid = await cdp.wait_js(
            f"(() => {{ const c = document.querySelector('{sel} td.pid');"
            f" const t = c ? c.textContent : '';"
            f" return t && t !== {json.dumps(old_pid)} && Number(t) > 0 ? t : null; }})()")
        out["new_pid"] = int(new_pid)
        out["href"] = await cdp.js("location.href")
        out["console"] = cdp.console
        out["ok"] = True
    return out


def main():
    url, token, session, shot = sys.argv[1:5]
    host = urllib.parse.urlparse(url).hostname
    if host not in ("127.0.0.1", "localhost", "::1"):
        print(json.dumps({"ok": False, "error": "only loopback URLs"}))
        return 2
    exe = chromium()
    if exe is None:
        print(json.dumps({"ok": False, "error": "no chromium"}))
        return 3
    profile = tempfile.mkdtemp(prefix="laneway-cdp-")
    proc = subprocess.Popen(
        [exe, "--headless=new", "--no-sandbox", "--disable-gpu", "--no-first-run",
         "--no-default-browser-check", "--disable-extensions", "--disable-background-networking",
         "--disable-sync", "--disable-component-update", "--remote-debugging-port=0",
         "--remote-debugging-address=127.0.0.1", f"--user-data-dir={profile}", "about:blank"],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True)
    out = {"ok": False}
    try:
        port_file = os.path.join(profile, "DevToolsActivePort")
        deadline = time.monotonic() + TIMEOUT
        while not os.path.exists(port_file) or os.path.getsize(port_file) == 0:
            if time.monotonic() > deadline or proc.poll() is not None:
                raise RuntimeError("chromium did not open its DevTools port")
            time.sleep(0.05)
        with open(port_file) as f:
            port = int(f.readline().strip())
        out = asyncio.run(drive(url, token, session, shot, port))
    except Exception as e:  # reported, not raised: the test prints it
        out["error"] = f"{type(e).__name__}: {e}"
    finally:
        try:
            os.killpg(proc.pid, 9)
        except ProcessLookupError:
            pass
        proc.wait()
        shutil.rmtree(profile, ignore_errors=True)
    print(json.dumps(out))
    return 0 if out.get("ok") else 1


if __name__ == "__main__":
    sys.exit(main())
