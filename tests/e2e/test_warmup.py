"""The warm-up: a fresh server with it on loads and traces every page's shipped default in the background,
starting with the server (no visit needed), the home page says what is still warming up until it is done, the
log says what it did, and every page then opens with its figures (the same caches the pages use)."""
import re
import time

from tests.e2e.conftest import _serve
from tests.e2e.helpers import CHART, EXCEPTION, main, settle

from seqviz.archs import ARCHS


def test_warm_up_runs_in_the_background_says_so_and_leaves_the_pages_ready(store_copy, browser, tmp_path,
                                                                          monkeypatch):
    monkeypatch.setenv("SEQVIZ_WARMUP", "1")
    log = tmp_path / "streamlit.log"
    with _serve(store_copy, log) as base:
        deadline = time.monotonic() + 300       # nobody has visited: the server started it (app.py's lifespan)
        while "warm-up: attention ready" not in log.read_text(errors="replace"):
            assert time.monotonic() < deadline, log.read_text(errors="replace")[-2000:]
            time.sleep(0.5)
        page = browser.new_page(viewport={"width": 1400, "height": 1000})
        page.set_default_timeout(300_000)
        try:
            page.goto(base)
            settle(page)
            banner = main(page).get_by_text("Warming up in the background")
            assert banner.count() == 1 or "warm-up: done" in log.read_text()   # it says so while it runs
            banner.wait_for(state="detached")                                 # and goes when it is done
            text = log.read_text(errors="replace")
            for arch in ARCHS:
                assert f"warm-up: {arch} ready" in text, text[-2000:]
            assert "warm-up: done" in text and "Traceback" not in text
            # what it loaded is frozen out of the collector's generations (TensorFlow alone: ~500,000 objects)
            assert int(re.search(r"warm-up: done in [\d.]+ s; (\d+) objects frozen", text)[1]) > 100_000
            for arch in ARCHS:                  # every page then draws at once, from the warmed caches
                page.goto(f"{base}/{arch}")
                settle(page)
                page.locator(CHART).first.wait_for(state="visible")
                assert page.locator(EXCEPTION).count() == 0
        finally:
            page.close()
