"""Notebook 05 in a real JupyterLab, driven by Debian's Chromium through Playwright.

The server runs on loopback with a known token, on a temporary root that holds a copy of the
notebook (the repository's notebook is never written to) and with its own Jupyter config, data,
runtime, settings and workspace folders, so a user's settings cannot leak in. The browser runs
Run All from JupyterLab's own Run menu, waits for the ChatApp to render, then uses the app as a
user would, on the demo model:

1. Load, then a three-turn conversation in thinking mode (Enter sends, Shift+Enter adds a line,
   the Send button too): the turns stay on screen and each reply's reasoning fills;
2. New chat clears it;
3. instant turns that ask for 150 words each until the oldest leave the context, then "stop
   and say so", where the next message is refused and stays in the box;
4. a larger context, a reply asked to run for 100,000 words, and Stop;
5. a Hub repo (a loopback Hub serving two real-scale sparse quants): List quants shows the table and
   puts the quants in the model picker, with a plan from their headers.

A screenshot per step goes to ``artifacts/e2e/`` in the repository (git-ignored; ``-s`` prints
each path), and ``failure.png`` there when a step fails.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import signal
import subprocess
import sys
import time
import urllib.error
import urllib.request
import uuid
from pathlib import Path

import psutil
import pytest

from tests.helpers import ROOT
from tests.hub import KIMI_REPO, serve_hub, write_kimi_repo
from workbench.run.llama_server import free_port

NOTEBOOK = ROOT / "notebooks" / "05_offload_and_chat.ipynb"
INSTALL_HINT = "`make test` installs Debian's chromium (apt-get install chromium)"
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                 "--disable-background-networking", "--disable-component-update", "--disable-sync"]
#: JupyterLab user settings for the run: no news or update checks (the network is closed), and every
#: cell kept in the DOM so the prompts of cells scrolled out of view can be read
LAB_SETTINGS = {
    "@jupyterlab/apputils-extension/notification.jupyterlab-settings": {"fetchNews": "false",
                                                                        "checkForUpdates": False},
    "@jupyterlab/notebook-extension/tracker.jupyterlab-settings": {"windowingMode": "none"},
}
SERVER_START_S = 90
RUN_ALL_S = 150
REPLY_S = 60
SHOTS = ROOT / "artifacts" / "e2e"


def _chromium() -> str:
    """Debian's Chromium, or a one-line failure saying how to get it (never a silent skip)."""
    exe = shutil.which("chromium") or ("/usr/bin/chromium" if os.access("/usr/bin/chromium", os.X_OK) else None)
    if exe is None:
        pytest.fail(f"no chromium on PATH: {INSTALL_HINT}", pytrace=False)
    return exe


def _tail(log: Path, n: int = 40) -> str:
    try:
        return "\n".join(log.read_text(encoding="utf-8", errors="replace").splitlines()[-n:])
    except OSError:
        return "(no server log)"


def _api(base: str, token: str, path: str, method: str = "GET", timeout: float = 5):
    req = urllib.request.Request(f"{base}{path}", method=method, headers={"Authorization": f"token {token}"},
                                 data=b"" if method == "POST" else None)
    with urllib.request.urlopen(req, timeout=timeout) as r:
        body = r.read()
        return json.loads(body) if body else None


def _stop_server(proc: subprocess.Popen, base: str, token: str) -> None:
    """Shut down through the API (kernels included), then the process group, then any straggler we started."""
    try:
        family = psutil.Process(proc.pid).children(recursive=True)  # kernels run in sessions of their own
    except psutil.Error:
        family = []
    if proc.poll() is None:
        try:
            _api(base, token, "/api/shutdown", method="POST")
        except (OSError, urllib.error.URLError, ValueError):
            pass
        for sig, wait in ((None, 10), (signal.SIGTERM, 10), (signal.SIGKILL, 5)):
            if sig is not None:
                try:
                    os.killpg(proc.pid, sig)
                except ProcessLookupError:
                    break
            try:
                proc.wait(wait)
                break
            except subprocess.TimeoutExpired:
                continue
    _, alive = psutil.wait_procs([p for p in family if p.is_running()], timeout=5)
    for p in alive:
        try:
            p.kill()
        except psutil.Error:
            pass


@pytest.fixture
def hub(tmp_path_factory, monkeypatch):
    """A loopback Hub with a repo of two real-scale sparse Kimi quants; the lab's kernel is pointed at it."""
    root = tmp_path_factory.mktemp("hub")
    write_kimi_repo(root)
    monkeypatch.setenv("KIMI_WB_HEADER_CACHE", str(root / "headers"))
    with serve_hub(root) as base:
        monkeypatch.setenv("HF_ENDPOINT", base)
        yield base


@pytest.fixture
def lab(tmp_path_factory, hub):
    """A JupyterLab server on a free loopback port serving a temporary copy of notebook 05."""
    _chromium()  # fail before spending a server start when the browser is missing
    tmp = tmp_path_factory.mktemp("lab")
    root = tmp / "root"
    (root / "notebooks").mkdir(parents=True)
    (root / "artifacts").mkdir()  # the notebook writes to ../artifacts/notebook-05 beside itself
    shutil.copy2(NOTEBOOK, root / "notebooks" / NOTEBOOK.name)
    env = {k: v for k, v in os.environ.items() if not k.startswith(("JUPYTER", "IPYTHON"))}
    for var, sub in (("JUPYTER_CONFIG_DIR", "config"), ("JUPYTER_DATA_DIR", "data"),
                     ("JUPYTER_RUNTIME_DIR", "runtime"), ("JUPYTERLAB_SETTINGS_DIR", "lab-settings"),
                     ("JUPYTERLAB_WORKSPACES_DIR", "lab-workspaces"), ("IPYTHONDIR", "ipython")):
        env[var] = str(tmp / sub)
        (tmp / sub).mkdir()
    for rel, settings in LAB_SETTINGS.items():
        path = tmp / "lab-settings" / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(json.dumps(settings), encoding="utf-8")
    env["PYTHONUNBUFFERED"] = "1"
    port, token = free_port(), uuid.uuid4().hex
    base = f"http://127.0.0.1:{port}"
    cmd = [sys.executable, "-m", "jupyterlab", "--no-browser", "--ServerApp.ip=127.0.0.1",
           f"--ServerApp.port={port}", "--ServerApp.port_retries=0", f"--IdentityProvider.token={token}",
           f"--ServerApp.root_dir={root}", "--LabApp.news_url=None",
           "--LabApp.check_for_updates_class=jupyterlab.NeverCheckForUpdate", "--LabApp.extension_manager=readonly"]
    if os.geteuid() == 0:
        cmd.append("--allow-root")
    log = tmp / "server.log"
    with open(log, "wb") as out:
        proc = subprocess.Popen(cmd, cwd=root, env=env, stdout=out, stderr=subprocess.STDOUT,
                                stdin=subprocess.DEVNULL, start_new_session=True)
    try:
        deadline = time.monotonic() + SERVER_START_S
        while True:
            if proc.poll() is not None:
                pytest.fail(f"JupyterLab exited with {proc.returncode} before it was ready; log tail:\n{_tail(log)}")
            try:
                if "started" in _api(base, token, "/api/status", timeout=2):
                    break
            except (OSError, urllib.error.URLError, ValueError):
                pass
            if time.monotonic() > deadline:
                pytest.fail(f"JupyterLab not ready at {base}/api/status after {SERVER_START_S} s; "
                            f"log tail:\n{_tail(log)}")
            time.sleep(0.5)
        yield {"base": base, "token": token, "root": root, "log": log,
               "url": f"{base}/lab/tree/notebooks/{NOTEBOOK.name}?token={token}"}
    finally:
        _stop_server(proc, base, token)


@pytest.fixture
def page(lab, tmp_path):
    """A headless Chromium page; a failing test leaves artifacts/e2e/failure.png."""
    exe = _chromium()
    try:
        from playwright.sync_api import Error as PlaywrightError
        from playwright.sync_api import sync_playwright
    except ImportError as e:
        pytest.fail(f"playwright is not importable ({e}); pip install -e . brings it, {INSTALL_HINT}", pytrace=False)
    try:
        pw = sync_playwright().start()
    except Exception as e:  # the driver ships inside the wheel; a broken install lands here
        pytest.fail(f"playwright's driver did not start ({type(e).__name__}: {e}); {INSTALL_HINT}", pytrace=False)
    try:
        try:
            browser = pw.chromium.launch(executable_path=exe, headless=True, args=CHROMIUM_ARGS)
        except PlaywrightError as e:
            pytest.fail(f"chromium at {exe} did not start ({str(e).splitlines()[0]}); {INSTALL_HINT}", pytrace=False)
        try:
            context = browser.new_context(viewport={"width": 1400, "height": 1200})
            pg = context.new_page()
            pg.set_default_timeout(30_000)
            yield pg
        finally:
            browser.close()
    finally:
        pw.stop()


def _shoot(page, path: Path, anchor=None) -> None:
    """The page as the user sees it, with ``anchor`` (the app's status line, say) scrolled into view."""
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        if anchor is not None:
            anchor.scroll_into_view_if_needed()
        page.screenshot(path=str(path))
        print(f"\nscreenshot: {path}")
    except Exception as e:  # a screenshot must never hide the real failure
        print(f"\nscreenshot failed: {e}")


def _run_all(page, code_cells: int) -> None:
    from playwright.sync_api import expect

    # JupyterLab opens the copy and starts its kernel
    expect(page.locator(".jp-NotebookPanel .jp-Notebook .jp-CodeCell")).to_have_count(code_cells, timeout=60_000)
    # its kernel is connected and idle (Run All before that asks the user to select a kernel; the
    # toolbar's execution indicator already says "idle" while the status bar says "No Kernel")
    expect(page.locator(".jp-StatusBar-Widget")).to_contain_text(re.compile(r"Python 3[^|]*\| Idle"), timeout=60_000)
    # Run → Run All Cells, through the menu bar as a user would
    page.locator(".lm-MenuBar-item", has_text=re.compile(r"^Run$")).click()
    page.locator('.lm-Menu [data-command="runmenu:run-all"]').click()
    # every code cell ran (prompts [n]:, none [*]: or [ ]:) and none raised; a dialog or a traceback (Run All
    # stops there) ends the wait early
    page.wait_for_function(
        """n => {
            if (document.querySelector('.jp-Dialog')) return true;
            if ([...document.querySelectorAll('.jp-OutputArea')]
                    .some(e => e.textContent.includes('Traceback (most recent call last)'))) return true;
            const ps = [...document.querySelectorAll('.jp-Notebook .jp-CodeCell .jp-InputPrompt')]
                .map(e => e.textContent.trim());
            return ps.length === n && ps.every(t => /^\\[\\d+\\]:$/.test(t));
        }""", arg=code_cells, timeout=RUN_ALL_S * 1000)
    dialog = page.locator(".jp-Dialog")
    assert not dialog.count(), f"JupyterLab asked instead of running: {dialog.first.inner_text()!r}"
    outputs = page.locator(".jp-Notebook .jp-OutputArea").all_inner_texts()
    assert not any("Traceback (most recent call last)" in t for t in outputs), "a notebook cell raised"


def test_chat_app_in_jupyterlab(lab, page):
    from playwright.sync_api import expect

    code_cells = sum(c["cell_type"] == "code" for c in json.loads(NOTEBOOK.read_text(encoding="utf-8"))["cells"])
    reply_ms = REPLY_S * 1000
    try:
        page.goto(lab["url"])
        _run_all(page, code_cells)

        # the app rendered as a widget, not as its text repr
        app = page.locator(".jp-OutputArea .wb-chat-app")
        expect(app).to_have_count(1)
        load, send, stop = app.locator("button.wb-load"), app.locator("button.wb-send"), app.locator("button.wb-stop")
        status, stats = app.locator(".wb-status"), app.locator(".wb-stats")
        prompt = app.locator(".wb-prompt textarea")
        history, live_user = app.locator(".wb-history"), app.locator(".wb-live-user")
        for w in (load, send, stop, prompt):
            expect(w).to_be_visible()
        expect(app.locator(".wb-model select")).to_contain_text("Kimi-K2-Tiny")
        ready = re.compile(r"^ready")

        def replied(text: str) -> None:
            """Wait for this message's own reply: its bubble first (the status said "ready" before it was sent)."""
            expect(live_user).to_contain_text(text, timeout=reply_ms)
            expect(status).to_have_text(ready, timeout=reply_ms)

        # 1. Load from the page: the status line says the demo model is loaded and what it is
        app.scroll_into_view_if_needed()
        load.click()
        expect(status).to_contain_text(re.compile(r"loaded Kimi-K2-Tiny\.gguf: .*MiB"), timeout=reply_ms)
        expect(app.locator(".wb-about")).to_contain_text("random weights")
        expect(send).to_be_enabled()
        expect(stop).to_be_disabled()
        expect(history.locator(".wb-turn-user")).to_have_count(0)  # Load started a new conversation

        # three turns in thinking mode: Enter, then Shift+Enter for a second line and Enter, then the button
        expect(app.locator(".wb-mode button.mod-active")).to_have_text("thinking")
        prompt.fill("Hello from a real browser: what is Kimi K2?")
        prompt.press("Enter")
        replied("Hello from a real browser")
        expect(prompt).to_have_value("")
        prompt.fill("Two lines:")
        prompt.press("Shift+Enter")
        prompt.type("the second one")
        expect(prompt).to_have_value("Two lines:\nthe second one")  # Shift+Enter added a line, sent nothing
        prompt.press("Enter")
        replied("Two lines:\nthe second one")
        prompt.fill("And the third question?")
        send.click()
        replied("And the third question?")
        # the conversation is on screen: two earlier exchanges in the history, the third below them
        expect(history.locator(".wb-turn-user")).to_have_count(2)
        expect(history.locator(".wb-turn-assistant")).to_have_count(2)
        expect(history.locator(".wb-turn-user").nth(1)).to_contain_text("Two lines:\nthe second one")
        expect(live_user).to_contain_text("And the third question?")
        reasoning = app.locator(".wb-reasoning-box .wb-reasoning")
        assert reasoning.text_content().strip(), "the thinking turn's reasoning stayed empty"
        for view in history.locator(".wb-turn-assistant .wb-reasoning").all():
            assert view.text_content().strip(), "an earlier turn lost its reasoning"
        answer = app.locator(".wb-answer").last.inner_text().strip()
        assert answer and "<|" not in answer and answer.endswith("."), answer
        expect(stats).to_contain_text(re.compile(r"prompt [\d,]+ tokens · .* reply \d+ tokens · .* tok/s · .* · stop"))
        expect(app.locator(".wb-gauge")).to_contain_text(re.compile(r"context [\d,]+ of 1,024 tokens"))
        app.locator(".wb-reasoning-box .lm-AccordionPanel-title, .wb-reasoning-box .jupyter-widget-Collapse-header,"
                    " .wb-reasoning-box .p-Collapse-header").first.click()  # unfold the last reply's reasoning
        expect(reasoning).to_be_visible()
        _shoot(page, SHOTS / "1-three-turns.png", stats)

        # 2. New chat: the conversation is gone from the screen, the model stays loaded
        app.locator("button.wb-new").click()
        expect(status).to_have_text("new chat", timeout=reply_ms)
        expect(history.locator(".wb-turn-user")).to_have_count(0)
        expect(live_user).to_have_text("")
        expect(app.locator(".wb-gauge")).to_contain_text("context 0 of 1,024 tokens")
        expect(send).to_be_enabled()
        _shoot(page, SHOTS / "2-new-chat.png", stats)

        # 3. the context fills: instant turns of 150 words until the oldest leave it (greyed, still shown)
        app.locator(".wb-mode button", has_text=re.compile(r"^instant$")).click()
        expect(app.locator(".wb-mode button.mod-active")).to_have_text("instant")
        for i in range(8):
            prompt.fill(f"Turn {i}: answer in 150 words")
            prompt.press("Enter")
            replied(f"Turn {i}:")
            if "left the context" in status.inner_text():
                break
        else:
            raise AssertionError("eight turns of 150 words never filled a 1,024-token context")
        expect(history.locator(".wb-dropped-note")).to_contain_text("left the context")
        assert history.locator(".wb-dropped").count() >= 2
        _shoot(page, SHOTS / "3a-oldest-turns-dropped.png", stats)
        # "stop and say so": the next turn is refused, the message stays in the box, nothing is added
        turns = history.locator(".wb-turn-user").count()
        app.locator(".wb-overflow select").select_option(label="stop and say so")
        prompt.fill("One more: answer in 150 words")
        prompt.press("Enter")
        expect(status).to_contain_text("the context holds 1,024", timeout=reply_ms)
        expect(prompt).to_have_value("One more: answer in 150 words")
        expect(history.locator(".wb-turn-user")).to_have_count(turns)
        _shoot(page, SHOTS / "3b-context-full-stopped.png", stats)

        # 4. a larger context and a reply asked to be very long: Stop ends it, and the turn is kept as stopped
        ctx = app.locator(".wb-ctx input")
        ctx.fill("32768")
        ctx.press("Enter")
        budget = app.locator(".wb-max-tokens input")
        budget.fill("100000")
        budget.press("Enter")
        load.click()
        expect(status).to_contain_text(re.compile(r"loaded Kimi-K2-Tiny"), timeout=reply_ms)
        expect(app.locator(".wb-gauge")).to_contain_text("of 32,768 tokens")
        prompt.fill("Write it out in 100000 words")
        prompt.press("Enter")
        expect(status).to_contain_text(re.compile(r"generating · [\d,]+ tokens · [\d,.]+ tok/s · [\d.]+ s"),
                                       timeout=reply_ms)
        expect(app.locator(".wb-answer").last).not_to_have_text("", timeout=reply_ms)
        _shoot(page, SHOTS / "4a-streaming.png", stats)
        stop.click()
        expect(status).to_have_text("stopped", timeout=reply_ms)
        expect(stats).to_contain_text("cancelled")
        n = int(re.search(r"reply ([\d,]+) tokens", stats.inner_text())[1].replace(",", ""))
        assert 1 <= n < 30_000, stats.inner_text()  # stopped well before the context or the budget ran out
        expect(send).to_be_enabled()
        expect(stop).to_be_disabled()
        _shoot(page, SHOTS / "4b-stopped.png", stats)
        print(f"\nbrowser: stopped after {n} tokens ({stats.inner_text()})")

        # 5. a Hub repo (the loopback Hub the kernel was pointed at): its quants' table, and a quant in the picker
        for box, value in (("vram", "24GiB"), ("ram", "512GiB")):  # a big box: 24 GB GPU, 512 GB RAM
            app.locator(f".wb-{box} input").fill(value)
            app.locator(f".wb-{box} input").press("Enter")
        app.locator(".wb-hub input").fill(f"hf://{KIMI_REPO}")
        app.locator("button.wb-hub-list").click()
        expect(status).to_contain_text("2 quant(s)", timeout=reply_ms)
        hub_view = app.locator(".wb-hub-view")
        expect(hub_view.locator("tr.wb-quant")).to_have_count(2)
        expect(hub_view).to_contain_text("best that fits: UD-Q2_K_XL")
        expect(app.locator(".wb-model select")).to_contain_text("on the Hub")
        expect(app.locator(".wb-plan")).to_contain_text("on the Hub: planned from its headers")
        expect(hub_view).to_contain_text("UD-TQ1_0: EOS error: EOS is [EOS]")
        app.locator("button.wb-use-recommended").click()  # gpu-all cannot run on 24 GB: the least offload that fits
        expect(app.locator(".wb-offload select")).to_have_value(re.compile(r"^n-cpu-moe:\d+$"))
        expect(app.locator(".wb-plan")).to_contain_text(re.compile(r"^fits · recommended: n-cpu-moe:\d+"))
        _shoot(page, SHOTS / "5-hub-quants.png", app.locator(".wb-plan"))
    except BaseException:
        _shoot(page, SHOTS / "failure.png")
        print(f"server log tail:\n{_tail(lab['log'])}")
        raise
