"""End to end: the real app (`streamlit run app.py`) driven in headless Chromium with Playwright.

The server gets its own temp copy of the model store (SEQVIZ_MODELS), so training from the sidebar
never writes into the repo's models/. In CI (CI=true) a missing browser fails instead of skipping.
"""
import re
from urllib.parse import parse_qs, quote, urlparse

from tests.e2e.conftest import _serve
from tests.e2e.helpers import (CHART, EXCEPTION, ROOT, expect_nav, expect_prediction, main, settle, start_training,
                               submit_text)

SPORTS = "the striker scored a goal for the team"


def test_home_card_and_click_through_to_attention(server, page, shots):
    from playwright.sync_api import expect

    page.goto(server)
    settle(page)
    expect(main(page).get_by_role("heading", name="Attention classifier")).to_be_visible()
    expect(main(page).get_by_text("held-out accuracy")).to_be_visible()
    link = main(page).get_by_role("link", name="Open Attention classifier")
    expect(link).to_be_visible()
    assert page.locator(EXCEPTION).count() == 0
    expect_nav(page)
    page.screenshot(path=str(shots / "home.png"), full_page=True)

    link.click()
    page.wait_for_url("**/attention**")
    settle(page)
    expect(main(page).get_by_role("heading", name="Attention classifier")).to_be_visible()
    expect_prediction(page, "music")
    expect_nav(page)
    page.screenshot(path=str(shots / "attention.png"), full_page=True)


def test_typed_text_updates_prediction_url_and_errors(server, page, shots):
    from playwright.sync_api import expect

    page.goto(server + "/attention")
    settle(page)
    expect_prediction(page, "music")

    submit_text(page, SPORTS)
    expect_prediction(page, "sports")
    assert parse_qs(urlparse(page.url).query).get("text") == [SPORTS], page.url
    page.screenshot(path=str(shots / "attention-sports.png"), full_page=True)

    submit_text(page, "")
    alert = main(page).locator("[data-testid='stAlert']")
    expect(alert).to_have_count(1)
    expect(alert).to_contain_text("empty")
    expect(page.locator(CHART)).to_have_count(0)
    assert page.locator(EXCEPTION).count() == 0
    page.screenshot(path=str(shots / "attention-empty.png"), full_page=True)

    submit_text(page, "the laptop and the server")  # the page keeps working after an error
    expect_prediction(page, "tech")
    expect(main(page).locator("[data-testid='stAlert']")).to_have_count(0)


def test_shared_url_reproduces_the_view(server, page, shots):
    from playwright.sync_api import expect

    page.goto(server + "/attention?text=the%20pizza%20and%20the%20soup")
    settle(page)
    # expect (retried), not a one-off read: the first settle() can pass before the first run has drawn
    expect(main(page).locator("textarea").first).to_have_value("the pizza and the soup")
    expect_prediction(page, "food")
    expect_nav(page)
    page.screenshot(path=str(shots / "attention-shared.png"), full_page=True)


def test_train_from_the_sidebar_with_live_progress(server, page, shots, store_copy):
    from playwright.sync_api import expect

    page.goto(server + "/attention")
    settle(page)
    sidebar = start_training(page, "e2e-tiny", {"epochs (passes over the data)": "3", "training sentences": "1500"})

    # the job panel replaces the form while the worker trains: its progress bar says the phase at once, then
    # moves past 0% with the epoch and batch while the page polls (watching a run used to stall it at 0%)
    progress = sidebar.get_by_test_id("stProgress")
    expect(progress).to_be_visible(timeout=30_000)
    expect(progress).to_contain_text("elapsed")
    expect(progress).to_contain_text(re.compile(r"[1-9]\d*% · training · epoch \d/3 · batch \d+/\d+"),
                                      timeout=120_000)
    title = sidebar.get_by_test_id("stMarkdownContainer").filter(has_text=re.compile(r"^Training "))
    expect(title).to_contain_text("e2e-tiny")
    # it ends with a success message and the new model picked
    expect(sidebar.get_by_text("Trained e2e-tiny")).to_be_visible(timeout=120_000)
    settle(page)
    expect(sidebar.get_by_role("combobox", name="Model")).to_have_value("e2e-tiny")
    assert page.locator(EXCEPTION).count() == 0
    assert (store_copy / "attention" / "e2e-tiny" / "config.json").is_file()
    assert not (ROOT / "models" / "attention" / "e2e-tiny").exists()
    assert parse_qs(urlparse(page.url).query).get("model") == ["e2e-tiny"], page.url
    # the page now predicts with the tiny model: a label and the figures are there
    expect(main(page).get_by_text("Predicted: ")).to_be_visible()
    page.locator(CHART).nth(2).wait_for(state="visible", timeout=60_000)
    page.screenshot(path=str(shots / "attention-trained.png"), full_page=True)
    expect_nav(page)


def test_deep_link_on_a_fresh_server_uses_the_router(store_copy, browser, tmp_path, shots):
    """A shared link opened as the first visit of a fresh server still runs through router.py
    (this is why the pages live in views/: a folder named pages/ beside router.py is served as a
    legacy multipage app until st.navigation has run once)."""
    with _serve(store_copy, tmp_path / "streamlit.log") as base:
        pg = browser.new_page(viewport={"width": 1400, "height": 1000})
        try:
            pg.goto(base + "/attention?text=the%20pizza%20and%20the%20soup")
            settle(pg)
            pg.screenshot(path=str(shots / "fresh-deep-link.png"), full_page=True)
            expect_prediction(pg, "food")  # the page itself works either way
            expect_nav(pg)                 # and the menu is the router's
        finally:
            pg.close()


DIALOGUE = "A: hello\nB: is it cold today\nA: yeah"


def expect_dialogue(page, n):
    """The dialogue-acts page tagged `n` utterances: its subheader, the table and the charts, no exception."""
    from playwright.sync_api import expect

    heading = main(page).get_by_role("heading", name=re.compile(rf"^{n} utterances · .*overrules"))
    expect(heading).to_be_visible(timeout=60_000)
    expect(main(page).get_by_test_id("stDataFrame").first).to_be_visible()
    page.locator(CHART).nth(3).wait_for(state="visible", timeout=60_000)  # Plotly draws after the text
    assert page.locator(CHART).count() >= 4
    assert page.locator(EXCEPTION).count() == 0


def test_dialogue_acts_page_typed_dialogue_updates_tags_and_url(server, page, shots):
    page.goto(server + "/dialogue-acts")
    settle(page)
    expect_dialogue(page, 12)
    expect_nav(page)
    page.screenshot(path=str(shots / "dialogue-acts.png"), full_page=True)

    five = DIALOGUE + "\nB: the game was great\nA: yeah"
    submit_text(page, five)
    expect_dialogue(page, 5)
    page.wait_for_url(lambda url: "text=" in url and "the+game+was+great" in url.replace("%20", "+"))
    assert parse_qs(urlparse(page.url).query).get("text") == [five], page.url
    page.screenshot(path=str(shots / "dialogue-acts-typed.png"), full_page=True)


def test_dialogue_acts_shared_url_reproduces_the_view(server, page, shots):
    from playwright.sync_api import expect

    page.goto(server + "/dialogue-acts?text=" + quote(DIALOGUE))
    settle(page)
    expect(main(page).locator("textarea").first).to_have_value(DIALOGUE)
    expect_dialogue(page, 3)
    page.screenshot(path=str(shots / "dialogue-acts-shared.png"), full_page=True)
