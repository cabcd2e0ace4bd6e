"""Helpers of the browser tests (the fixtures are in conftest.py)."""
from pathlib import Path

from seqviz.archs import ARCHS
from seqviz.bench import sidebar_train
from seqviz.ui import MAX_URL_TEXT

ROOT = Path(__file__).resolve().parents[2]
CHROMIUM = "/usr/bin/chromium"
DONE = "[data-testid='stApp'][data-test-script-state='notRunning']"
EXCEPTION = "[data-testid='stException']"
CHART = "[data-testid='stPlotlyChart']"

# The page is at rest: the script has finished, no element is stale (a rerun's leftovers), and every visible
# chart has drawn its SVG. Waiting on this state, never on a fixed sleep, holds on a busy machine too.
_AT_REST = """() => {
    const app = document.querySelector("[data-testid='stApp']");
    if (!app || app.getAttribute("data-test-script-state") !== "notRunning") return false;
    if (document.querySelector("[data-stale='true']")) return false;
    for (const c of document.querySelectorAll("[data-testid='stPlotlyChart']"))
        if (c.offsetParent !== null && !c.querySelector(".main-svg")) return false;
    return true;
}"""

# Counts the script's runs: +1 each time stApp's script state leaves "notRunning" (installed once per page).
_COUNT_RUNS = """() => {
    if (window._seqvizRuns !== undefined) return;
    window._seqvizRuns = 0;
    const app = document.querySelector("[data-testid='stApp']");
    new MutationObserver(() => {
        if (app.getAttribute("data-test-script-state") !== "notRunning") window._seqvizRuns += 1;
    }).observe(app, {attributes: true, attributeFilter: ["data-test-script-state"]});
}"""


def settle(page, timeout=120_000):
    """Wait until the page is at rest: script finished, nothing stale, every visible chart drawn."""
    page.wait_for_selector(DONE, timeout=timeout)
    page.wait_for_function(_AT_REST, timeout=timeout)


def rerun(page, action, timeout=120_000):
    """Do `action()` (a click, an upload, a key press) and wait for the rerun it starts to finish: a script
    run began after it (or the URL, which every page's view is mirrored into, changed), then the page is at
    rest. What the rerun shows, callers wait for by its element or text."""
    settle(page, timeout)
    page.evaluate(_COUNT_RUNS)
    before = page.evaluate("[window._seqvizRuns, location.href]")
    action()
    page.wait_for_function("([runs, href]) => window._seqvizRuns > runs || location.href !== href", arg=before,
                           timeout=timeout)
    settle(page, timeout)


def still(page, timeout=60_000):
    """At rest and no chart changing size between two looks 250 ms apart (Plotly's resize after a viewport
    change): what a screenshot needs."""
    settle(page, timeout)
    sizes = ("() => [...document.querySelectorAll(\"[data-testid='stPlotlyChart']\")]"
             ".map(c => c.offsetWidth + 'x' + c.offsetHeight).join()")
    before = page.evaluate(sizes)
    page.wait_for_function(
        f"() => new Promise(done => setTimeout(() => done(({sizes})() === {before!r}), 250))", timeout=timeout)
    settle(page, timeout)


def main(page):
    return page.get_by_test_id("stMain")


def main_text(page, expected: str, timeout=60_000) -> str:
    """The main area's text once it equals `expected`, or what it is after `timeout` (the caller asserts, for the
    diff): a label or a caption can draw a moment after the script reports done on a busy machine."""
    try:
        page.wait_for_function("t => document.querySelector(\"[data-testid='stMain']\").innerText === t",
                               arg=expected, timeout=timeout)
    except Exception:       # playwright's TimeoutError: fall through to the caller's assert and its diff
        pass
    return main(page).inner_text()


def submit_text(page, text, timeout=120_000):
    area = main(page).locator("textarea").first
    area.fill(text)
    area.press("Control+Enter")  # how a Streamlit text_area commits its value
    if len(text) <= MAX_URL_TEXT:   # the page mirrors its text into the URL as it runs: wait for that state
        page.wait_for_function("t => [...new URLSearchParams(location.search).values()].includes(t)", arg=text,
                               timeout=timeout)
    settle(page, timeout)


def expect_prediction(page, label):
    from playwright.sync_api import expect

    expect(main(page).get_by_text(f"Predicted: {label} (")).to_be_visible(timeout=60_000)
    page.locator(CHART).nth(2).wait_for(state="visible", timeout=60_000)  # Plotly draws after the text
    assert page.locator(CHART).count() >= 3
    assert page.locator(EXCEPTION).count() == 0


def expect_nav(page):
    """The sidebar menu is the router's (st.navigation titles), not the pages/ folder's file names."""
    from playwright.sync_api import expect

    titles = ["Home"] + [a.title for a in ARCHS.values()]
    links = page.get_by_test_id("stSidebarNav").get_by_role("link")
    expect(links).to_have_count(len(titles))
    # a link's text starts with its icon's ligature name ("home"); the title is the last line
    assert [t.strip().split("\n")[-1] for t in links.all_inner_texts()] == titles


start_training = sidebar_train   # the benchmark's helper: one way to press Train
