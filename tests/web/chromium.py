"""Headless Chromium driven through the DevTools protocol over a websocket (aiohttp).

Why not Playwright: it would add a package and a Node.js driver of ~100 MB for what four
protocol calls do here (navigate, type, evaluate, screenshot), and aiohttp is already a
dependency. Debian's ``chromium`` is the browser; nothing is downloaded when the tests run.

The page is read through xterm.js, which textual-serve's page draws the app with: a script
installed before the page's own catches the page's terminal object when textual.js stores it
(``this.terminal = new Terminal(...)``), so a test reads the rows the browser shows, and the
moments (``performance.now()``, from the start of the page's request) of the first text drawn,
of the last key pressed and of the first frame showing ``window.__want``.
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import json
import shutil
import subprocess
import tempfile
import time
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import aiohttp

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
TIMEOUT_S = 60

HOOK = """
window.addEventListener("keydown", () => { window.__keyAt = performance.now(); }, true);
Object.defineProperty(Object.prototype, "terminal", {configurable: true, set(value) {
  Object.defineProperty(this, "terminal", {value, writable: true, configurable: true, enumerable: true});
  if (!value || !value.buffer || !value.onWriteParsed || window.__terminal) return;
  window.__terminal = value;
  window.__screen = () => {
    const buffer = value.buffer.active, rows = [];
    for (let i = 0; i < value.rows; i++) {
      const line = buffer.getLine(buffer.viewportY + i);
      rows.push(line ? line.translateToString(true) : "");
    }
    return rows.join("\\n");
  };
  value.onWriteParsed(() => {
    const now = performance.now();
    if (window.__firstText === undefined && window.__screen().trim()) window.__firstText = now;
    if (window.__want && window.__seenAt === undefined && window.__screen().includes(window.__want)) window.__seenAt = now;
  });
}});
"""

KEYS = {  # DevTools key events for the keys a test types that are not plain characters
    "Enter": {"key": "Enter", "code": "Enter", "windowsVirtualKeyCode": 13, "text": "\r"},
    "Escape": {"key": "Escape", "code": "Escape", "windowsVirtualKeyCode": 27},
}


class BrowserError(Exception):
    pass


class Page:
    """One tab: commands are sent with ``call``, answered in order by a reader task."""

    def __init__(self, socket: aiohttp.ClientWebSocketResponse) -> None:
        self._socket = socket
        self._next = 0
        self._waiting: dict[int, asyncio.Future[dict[str, Any]]] = {}
        self._reader = asyncio.ensure_future(self._read())

    async def _read(self) -> None:
        async for message in self._socket:
            data = json.loads(message.data)
            future = self._waiting.pop(data.get("id", -1), None)
            if future is not None and not future.done():
                future.set_result(data)

    async def call(self, method: str, **params: Any) -> dict[str, Any]:
        self._next += 1
        future: asyncio.Future[dict[str, Any]] = asyncio.get_running_loop().create_future()
        self._waiting[self._next] = future
        await self._socket.send_json({"id": self._next, "method": method, "params": params})
        answer = await asyncio.wait_for(future, TIMEOUT_S)
        if "error" in answer:
            raise BrowserError(f"{method}: {answer['error']}")
        return answer["result"]

    async def evaluate(self, expression: str) -> Any:
        result = await self.call("Runtime.evaluate", expression=expression, returnByValue=True, awaitPromise=True)
        if "exceptionDetails" in result:
            raise BrowserError(f"{expression}: {result['exceptionDetails']}")
        return result["result"].get("value")

    async def open(self, url: str) -> None:
        await self.call("Page.navigate", url=url)
        await self.wait_until("document.readyState === 'complete' && location.href !== 'about:blank'", "the page loading")

    async def wait_until(self, expression: str, what: str, timeout_s: float = TIMEOUT_S) -> Any:
        """Poll ``expression`` in the page until it is truthy: waiting for the browser, bounded."""
        deadline = time.monotonic() + timeout_s
        while True:
            with contextlib.suppress(BrowserError):  # the page between two documents (a form sent, a redirect)
                if value := await self.evaluate(expression):
                    return value
            if time.monotonic() > deadline:
                raise BrowserError(f"{what} did not happen in {timeout_s:.0f} s; the screen shows:\n{await self.screen()}")
            await asyncio.sleep(0.05)

    async def screen(self) -> str:
        return await self.evaluate("window.__screen ? window.__screen() : document.body ? document.body.innerText : ''") or ""

    async def wait_for_text(self, text: str, timeout_s: float = TIMEOUT_S) -> str:
        await self.wait_until(f"window.__screen && window.__screen().includes({json.dumps(text)})", f"{text!r} showing", timeout_s)
        return await self.screen()

    async def focus_terminal(self) -> None:
        await self.wait_until("!!document.querySelector('.xterm-helper-textarea')", "the terminal appearing")
        await self.evaluate("document.querySelector('.xterm-helper-textarea').focus()")

    async def type(self, text: str) -> None:
        """Key presses, as a person types them: a named key of ``KEYS`` or characters."""
        events = [KEYS[text]] if text in KEYS else [{"key": ch, "text": ch} for ch in text]
        for event in events:
            await self.call("Input.dispatchKeyEvent", type="keyDown", **event)
            await self.call("Input.dispatchKeyEvent", type="keyUp", **{k: v for k, v in event.items() if k != "text"})

    async def screenshot(self, path: Path) -> Path:
        shot = await self.call("Page.captureScreenshot", format="png")
        path.write_bytes(base64.b64decode(shot["data"]))
        return path


@contextlib.asynccontextmanager
async def chromium(width: int = 1280, height: int = 900) -> AsyncIterator[Page]:
    """A headless Chromium of its own (a throwaway profile, a free DevTools port), with one tab
    whose pages get ``HOOK`` before their own scripts."""
    if CHROMIUM is None:
        raise BrowserError("chromium is not installed")
    with tempfile.TemporaryDirectory(prefix="opentrade-chromium-") as profile:
        process = subprocess.Popen(
            [CHROMIUM, "--headless", "--no-sandbox", "--disable-gpu", "--no-first-run", "--no-default-browser-check",
             "--disable-extensions", "--disable-background-networking", "--disable-dev-shm-usage",
             f"--user-data-dir={profile}", "--remote-debugging-port=0", f"--window-size={width},{height}", "about:blank"],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        try:
            port = await _devtools_port(Path(profile), process)
            async with aiohttp.ClientSession() as http:
                async with http.get(f"http://127.0.0.1:{port}/json/list") as answer:
                    targets = await answer.json()
                target = next(t for t in targets if t["type"] == "page")
                async with http.ws_connect(target["webSocketDebuggerUrl"], max_msg_size=0) as socket:
                    page = Page(socket)
                    await page.call("Page.enable")
                    await page.call("Page.addScriptToEvaluateOnNewDocument", source=HOOK)
                    yield page
        finally:
            process.terminate()
            try:
                process.wait(10)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()


async def _devtools_port(profile: Path, process: subprocess.Popen[bytes]) -> int:
    """Chromium writes the port it chose into the profile: wait for the file, bounded."""
    deadline = time.monotonic() + TIMEOUT_S
    path = profile / "DevToolsActivePort"
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise BrowserError(f"chromium exited with {process.returncode} before it listened")
        with contextlib.suppress(FileNotFoundError, ValueError, IndexError):
            return int(path.read_text().splitlines()[0])
        await asyncio.sleep(0.05)
    raise BrowserError(f"chromium did not listen within {TIMEOUT_S} s")
