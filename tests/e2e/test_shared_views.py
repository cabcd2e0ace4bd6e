"""Sharing restores the whole view: change a control on each page, copy the URL, open it in a fresh browser
context (no session, no cookies), and the page draws the very same figures (Plotly's data, trace by trace)."""
import json

import pytest

from tests.e2e.helpers import CHART, EXCEPTION, main, main_text, rerun, settle

FIGURES = "() => Array.from(document.querySelectorAll('.js-plotly-plot')).map(e => JSON.stringify(e.data))"


def _figures(page, n: int) -> list:
    page.locator(CHART).nth(n - 1).wait_for(state="visible", timeout=120_000)
    page.wait_for_function(f"() => document.querySelectorAll('.js-plotly-plot').length >= {n}", timeout=120_000)
    return [json.loads(d) for d in page.evaluate(FIGURES)]


def _radio(page, label):
    rerun(page, lambda: main(page).get_by_text(label, exact=True).click())


def _step(page, label):
    """Move a slider one step right with the keyboard, as a person can."""
    slider = main(page).get_by_test_id("stSlider").filter(has_text=label).get_by_role("slider")
    rerun(page, lambda: slider.press("ArrowRight"))


def _number(page, label, value):
    box = main(page).get_by_role("spinbutton", name=label, exact=True)
    box.fill(value)
    rerun(page, lambda: box.press("Enter"))


CASES = {   # page: (the change a person makes, the URL keys it must write, charts drawn)
    "dialogue-acts": (lambda pg: _radio(pg, "marginal probability"), ["colour"], 4),
    "captioning": (lambda pg: _radio(pg, "zero branch 2's features"), ["ablate"], 6),
    "lm": (lambda pg: _number(pg, "seed", "7"), ["seed", "temperature", "top_k", "words"], 2),
    "seq2seq": (lambda pg: (_number(pg, "Pin at step", "2"), _step(pg, "Output step")),
                ["pin_at=2", "pin", "step=2", "inspect"], 2),
}


@pytest.mark.parametrize("path", list(CASES))
def test_a_shared_url_restores_the_whole_view_in_a_fresh_context(server, browser, path):
    change, keys, charts = CASES[path]
    first = browser.new_context(viewport={"width": 1400, "height": 1000})
    again = browser.new_context(viewport={"width": 1400, "height": 1000})
    try:
        pg = first.new_page()
        pg.set_default_timeout(120_000)
        pg.goto(f"{server}/{path}")
        settle(pg)
        before = _figures(pg, charts)
        change(pg)
        pg.wait_for_url(lambda url: all((k if "=" in k else f"{k}=") in url for k in keys), timeout=60_000)
        settle(pg)
        view = _figures(pg, charts)
        assert view != before, "the change did not change any figure"
        assert pg.locator(EXCEPTION).count() == 0
        text = main(pg).inner_text()
        shared = pg.url

        other = again.new_page()
        other.set_default_timeout(120_000)
        other.goto(shared)
        settle(other)
        assert _figures(other, charts) == view, shared
        assert main_text(other, text) == text           # the words too (decodes, the pinned path, captions)
        assert other.locator(EXCEPTION).count() == 0
    finally:
        first.close()
        again.close()
