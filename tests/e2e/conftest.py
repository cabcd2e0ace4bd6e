"""Shared fixtures of the browser tests: a real `streamlit run app.py` (session-wide, on a temp copy
of the model store) and headless Debian Chromium. In CI (CI=true) a missing browser fails instead of skipping."""
import contextlib
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest

from tests.e2e.helpers import CHROMIUM, ROOT

def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="session")
def store_copy(tmp_path_factory):
    path = tmp_path_factory.mktemp("e2e") / "models"
    shutil.copytree(ROOT / "models", path)
    return path


@contextlib.contextmanager
def _serve(store: Path, log: Path):
    """`streamlit run app.py` on a free port with its own model store; killed (whole group) on exit."""
    port = _free_port()
    base = f"http://127.0.0.1:{port}"
    env = {**os.environ, "SEQVIZ_MODELS": str(store), "TF_CPP_MIN_LOG_LEVEL": "3"}
    with open(log, "wb") as out:
        proc = subprocess.Popen(
            [sys.executable, "-m", "streamlit", "run", "app.py", "--server.headless", "true",
             "--server.port", str(port), "--server.address", "127.0.0.1", "--browser.gatherUsageStats", "false"],
            cwd=ROOT, env=env, stdout=out, stderr=subprocess.STDOUT, start_new_session=True)
    try:
        deadline = time.monotonic() + 120
        while True:
            if proc.poll() is not None:
                pytest.fail(f"streamlit exited with {proc.returncode}:\n{log.read_text(errors='replace')[-3000:]}")
            try:
                if urllib.request.urlopen(base + "/_stcore/health", timeout=2).read().strip() == b"ok":
                    break
            except OSError:
                pass
            if time.monotonic() > deadline:
                pytest.fail(f"the app never answered /_stcore/health:\n{log.read_text(errors='replace')[-3000:]}")
            time.sleep(0.5)
        yield base
    finally:
        try:
            os.killpg(proc.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
        proc.wait(timeout=30)


@pytest.fixture(scope="session")
def server_log(tmp_path_factory):
    """The shared server's stdout and stderr."""
    return tmp_path_factory.mktemp("e2e-log") / "streamlit.log"


@pytest.fixture(scope="session")
def server(store_copy, server_log):
    with _serve(store_copy, server_log) as base:
        yield base


@pytest.fixture(scope="session")
def browser():
    if not os.path.exists(CHROMIUM):
        msg = f"no Chromium at {CHROMIUM}"
        if os.environ.get("CI") == "true":
            pytest.fail(msg + " (in CI a missing browser is a failure)")
        pytest.skip(msg)
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        b = p.chromium.launch(executable_path=CHROMIUM, headless=True,
                              args=["--no-sandbox", "--disable-gpu", "--disable-background-networking",
                                    "--disable-component-update", "--disable-sync", "--no-first-run"])
        yield b
        b.close()


@pytest.fixture(scope="session", autouse=True)
def patient_expectations():
    """expect() waits up to 60 s for an element or text (Playwright's default 5 s is a fixed, tight wait that
    a busy 2-core machine misses while the page is still running)."""
    from playwright.sync_api import expect
    expect.set_options(timeout=60_000)


@pytest.fixture(scope="session")
def shots(tmp_path_factory):
    return tmp_path_factory.mktemp("e2e-shots")


@pytest.fixture
def page(browser, request, shots):
    pg = browser.new_page(viewport={"width": 1400, "height": 1000})
    pg.set_default_timeout(60_000)
    yield pg
    try:  # a screenshot of where each test ended: useful when looking, never asserted
        pg.screenshot(path=str(shots / f"{request.node.name}.png"), full_page=True)
    finally:
        pg.close()


