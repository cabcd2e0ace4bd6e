"""A newcomer's journeys through the whole app in Chromium: home -> every page with its default model ->
an input of their own -> the figures; then training a tiny model from a sidebar to the end, and
starting another and cancelling it.

The screenshots taken on the way are the README's: regenerate them with
    SEQVIZ_SHOTS=docs/screenshots .venv/bin/python -m pytest tests/e2e/test_journeys.py
"""
import os
from pathlib import Path

import pytest

from seqviz.archs import ARCHS
from tests.e2e.helpers import CHART, EXCEPTION, expect_nav, main, settle, start_training, still, submit_text

# Per page: an input a newcomer would type, and text that must then appear in the page.
TYPED = {
    "attention": ("the striker scored a goal for the team", "Predicted: sports"),
    "dialogue-acts": ("A: hello\nB: is it cold today\nA: yeah", "3 utterances"),
    "seq2seq": ("4 7 1", "✅ four seven one"),
    "lm": ("the function returns", "the function returns"),
}


@pytest.fixture(scope="module")
def readme_shots(tmp_path_factory):
    if os.environ.get("SEQVIZ_SHOTS"):
        path = Path(os.environ["SEQVIZ_SHOTS"]).resolve()
        path.mkdir(parents=True, exist_ok=True)
        return path
    return tmp_path_factory.mktemp("readme-shots")


def _no_exception(page):
    assert page.locator(EXCEPTION).count() == 0


def test_newcomer_visits_every_page_from_home(server, browser, readme_shots):
    from playwright.sync_api import expect

    page = browser.new_page(viewport={"width": 1400, "height": 1000})
    page.set_default_timeout(120_000)
    try:
        page.goto(server)
        settle(page)
        expect_nav(page)
        for arch in ARCHS.values():
            expect(main(page).get_by_role("heading", name=arch.title)).to_be_visible()
        _no_exception(page)
        page.screenshot(path=str(readme_shots / "home.png"), full_page=True)
        for arch in ARCHS.values():
            page.goto(server)
            settle(page)
            main(page).get_by_role("link", name=f"Open {arch.title}").click()
            page.wait_for_url(f"**/{arch.id}**")
            settle(page)
            expect(main(page).locator("h1").first).to_be_visible()
            page.locator(CHART).first.wait_for(state="visible", timeout=120_000)
            _no_exception(page)
            if arch.id in TYPED:
                text, shows = TYPED[arch.id]
                submit_text(page, text)
                expect(main(page).get_by_text(shows).first).to_be_visible(timeout=60_000)
                page.locator(CHART).first.wait_for(state="visible", timeout=60_000)
                _no_exception(page)
                page.reload()   # the URL carries the view: a reload shows the same input
                settle(page)
                expect(main(page).get_by_text(shows).first).to_be_visible(timeout=60_000)
            page.set_viewport_size({"width": 1400, "height": 2400})
            still(page)
            page.screenshot(path=str(readme_shots / f"{arch.id}.png"), full_page=True)
            page.set_viewport_size({"width": 1400, "height": 1000})
    finally:
        page.close()


def test_going_back_to_a_page_in_the_same_tab(server, browser):
    """Every page, then every page again, through the sidebar's menu in one tab (one session): a page opened a
    second time, after others, draws as the first time (Streamlit forgets a page's widget values when another
    page runs; dialogue acts' pin once failed on that with a KeyError)."""
    page = browser.new_page(viewport={"width": 1400, "height": 1000})
    page.set_default_timeout(120_000)
    nav = page.get_by_test_id("stSidebarNav")
    try:
        page.goto(server)
        settle(page)
        for _ in range(2):
            for arch in ARCHS.values():
                nav.get_by_role("link", name=arch.title).click()
                page.wait_for_url(f"**/{arch.id}**")
                settle(page)
                page.locator(CHART).first.wait_for(state="visible")
                assert page.locator(EXCEPTION).count() == 0, f"{arch.id}: {main(page).inner_text()[:2000]}"
    finally:
        page.close()


def test_start_a_training_run_and_cancel_it(server, page, browser, store_copy):
    from playwright.sync_api import expect

    page.goto(server + "/attention")
    settle(page)
    knobs = {"epochs (passes over the data)": "50", "training sentences": "20000"}    # long enough to cancel
    sidebar = start_training(page, "e2e-cancelled", knobs)
    progress = sidebar.get_by_test_id("stProgress")
    expect(progress).to_be_visible(timeout=30_000)
    # another tab (or a reload) sees the run on the server, with its progress but without a Cancel of its own
    other = browser.new_page(viewport={"width": 1400, "height": 1000})   # another tab, another session
    try:
        other.goto(server + "/attention")
        settle(other)
        side = other.get_by_test_id("stSidebar")
        expect(side.get_by_text("Training on this server")).to_be_visible(timeout=30_000)
        expect(side.get_by_text("e2e-cancelled")).to_be_visible()
        expect(side.get_by_test_id("stProgress")).to_contain_text("elapsed")
        assert side.get_by_role("button", name="Cancel").count() == 0
    finally:
        other.close()
    # cancel at once, whatever phase the run is in (building its graph, most likely): it stops within seconds
    sidebar.get_by_role("button", name="Cancel").click()
    expect(sidebar.get_by_text("Training cancelled; nothing was saved.")).to_be_visible(timeout=120_000)
    settle(page)
    assert not (store_copy / "attention" / "e2e-cancelled").exists()
    # the form is back and the page still predicts with the model it had
    expect(sidebar.get_by_text("Train a model", exact=True)).to_be_visible()
    expect(main(page).get_by_text("Predicted: ")).to_be_visible()
    _no_exception(page)


@pytest.mark.parametrize("theme, width, path", [("dark", 1400, "dialogue-acts"), ("dark", 1400, "captioning"),
                                               ("light", 390, "dialogue-acts"), ("light", 390, "attention"),
                                               ("light", 1300, "attention")])
def test_pages_in_the_dark_theme_and_at_phone_width(server, browser, readme_shots, theme, width, path):
    """Streamlit follows the browser's colour scheme; a phone is 390 px wide. The page draws, without an
    exception; the lattice, the CRF's transitions and the attention strip keep a width where their cells hold
    their numbers, and on a phone scroll sideways in their own box (on a desktop the strip fits)."""
    ctx = browser.new_context(viewport={"width": width, "height": 2400 if width > 500 else 844},
                              color_scheme=theme)
    try:
        page = ctx.new_page()
        page.set_default_timeout(120_000)
        page.goto(f"{server}/{path}")
        settle(page)
        page.locator(CHART).first.wait_for(state="visible", timeout=120_000)
        _no_exception(page)
        boxes = {"dialogue-acts": ["dialogue-acts-lattice", "dialogue-acts-transitions"],
                 "attention": ["attention-strip"]}.get(path, [])
        for name in boxes:
            box = page.locator(f"[class*='st-key-scroll-{name}']").first
            if width < 500:     # the chart inside takes its own width once Plotly lays it out: wait for that state
                try:
                    box.evaluate("e => new Promise(ok => { const t0 = Date.now(); (function f() {"
                                 " if (e.scrollWidth > e.clientWidth + 100 || Date.now() - t0 > 60000) ok();"
                                 " else setTimeout(f, 100); })(); })")
                except Exception:   # fall through to the assert below and its numbers
                    pass
            scroll, client = box.evaluate("e => [e.scrollWidth, e.clientWidth]")
            if width < 500:
                assert scroll > client + 100, (name, scroll, client)   # wider than the screen: it scrolls
            elif path == "attention":
                assert scroll <= client + 1, (name, scroll, client)    # a desktop's column holds it whole
        still(page)
        page.screenshot(path=str(readme_shots / f"{path}-{theme}-{width}.png"), full_page=True)
    finally:
        ctx.close()
