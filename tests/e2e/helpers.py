"""Helpers of the browser tests (the fixtures are in conftest.py)."""
from pathlib import Path

from seqviz.archs import ARCHS
from seqviz.bench import sidebar_train

ROOT = Path(__file__).resolve().parents[2]
CHROMIUM = "/usr/bin/chromium"
DONE = "[data-testid='stApp'][data-test-script-state='notRunning']"
EXCEPTION = "[data-testid='stException']"
CHART = "[data-testid='stPlotlyChart']"

def settle(page, timeout=120_000):
    """Wait until the script has finished running, let fragments and charts draw, and check again."""
    page.wait_for_selector(DONE, timeout=timeout)
    page.wait_for_timeout(1000)
    page.wait_for_selector(DONE, timeout=timeout)


def main(page):
    return page.get_by_test_id("stMain")


def submit_text(page, text):
    area = main(page).locator("textarea").first
    area.fill(text)
    area.press("Control+Enter")  # how a Streamlit text_area commits its value
    page.wait_for_timeout(300)
    settle(page)


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
