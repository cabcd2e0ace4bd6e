"""End to end: the language-model page in the real app (`streamlit run app.py`), driven in headless Chromium.

Uses the session-wide server of tests/e2e/conftest.py (its own temp copy of the model store): the race
below trains two tiny models into that copy, never into the repo's models/.
"""
from urllib.parse import parse_qs, urlparse

from tests.e2e.helpers import CHART, EXCEPTION, ROOT, expect_nav, main, settle, submit_text


def expect_generated(page, prompt):
    """The continuation line starts with the prompt in bold, and both generation charts are drawn."""
    from playwright.sync_api import expect

    expect(main(page).locator("strong", has_text=prompt).first).to_be_visible(timeout=60_000)
    expect(main(page).get_by_text("Next word after the prompt")).to_be_visible(timeout=60_000)
    page.locator(CHART).nth(1).wait_for(state="visible", timeout=60_000)  # Plotly draws after the text
    assert page.locator(EXCEPTION).count() == 0


def test_lm_page_generates_from_the_default_and_handles_bad_prompts(server, page, shots):
    from playwright.sync_api import expect

    page.goto(server + "/lm")
    settle(page)
    expect(main(page).get_by_role("heading", name="Language model: sampled vs full softmax")).to_be_visible()
    expect_generated(page, "return the")
    expect_nav(page)
    page.screenshot(path=str(shots / "lm.png"), full_page=True)

    submit_text(page, "Open the qwertyzzz file")
    expect_generated(page, "open the qwertyzzz file")
    expect(main(page).get_by_text("Not in the model's vocabulary")).to_contain_text("qwertyzzz")
    assert parse_qs(urlparse(page.url).query).get("text") == ["Open the qwertyzzz file"], page.url

    for bad, words in [("", "empty"), ("qwertyzzz zzzqqq", "None of the prompt's words")]:
        submit_text(page, bad)
        alert = main(page).locator("[data-testid='stAlert']")
        expect(alert).to_have_count(1)
        expect(alert).to_contain_text(words)
        expect(main(page).get_by_text("Next word after the prompt")).to_have_count(0)
        expect(main(page).get_by_role("button", name="Start the race")).to_be_visible()  # the rest still works
        assert page.locator(EXCEPTION).count() == 0
    page.screenshot(path=str(shots / "lm-error.png"), full_page=True)

    submit_text(page, "return the")
    expect_generated(page, "return the")
    expect(main(page).locator("[data-testid='stAlert']")).to_have_count(0)


def test_lm_race_runs_live_and_ends_with_the_comparison(server, page, shots, store_copy):
    from playwright.sync_api import expect

    page.goto(server + "/lm")
    settle(page)
    form = main(page).get_by_test_id("stForm")
    corpus = form.get_by_role("combobox", name="training text")
    corpus.click()
    corpus.fill("zipf")         # a Streamlit selectbox filters its options as you type
    corpus.press("Enter")
    expect(corpus).to_have_value("zipf")
    for label, value in [("vocabulary size V", "300"), ("words sampled per step", "32"), ("word embedding size", "8"),
                         ("LSTM units", "8"), ("words per training window", "10")]:
        box = form.get_by_role("spinbutton", name=label, exact=True)
        box.fill(value)
        box.press("Tab")
    form.get_by_role("button", name="Start the race").click()

    # live: both progress bars, one per softmax, while the runs go
    bars = main(page).get_by_test_id("stProgress")
    expect(bars).to_have_count(2, timeout=60_000)
    expect(bars.first).to_contain_text("sampled softmax")
    expect(bars.last).to_contain_text("full softmax")
    # the end: both runs done, the headline comparison and the four race charts
    expect(bars.last).to_contain_text("done", timeout=240_000)
    expect(bars.first).to_contain_text("done")
    settle(page)
    expect(main(page).get_by_text("seconds per step, full ÷ sampled")).to_be_visible()
    expect(main(page).get_by_text("After 1 epoch(s) the sampled-trained model's")).to_be_visible()
    for title in ["Loss against the training clock", "Seconds per training step", "Validation perplexity after",
                  "Sampled loss minus the true loss"]:
        expect(main(page).locator(CHART).filter(has_text=title)).to_have_count(1)
    assert page.locator(EXCEPTION).count() == 0
    page.screenshot(path=str(shots / "lm-race.png"), full_page=True)
    # both runs were saved into the server's store copy (and can be picked in the sidebar), not the repo's
    saved = sorted(p.parent.name for p in (store_copy / "lm").glob("race-*/config.json"))
    assert len(saved) == 2 and saved[0].endswith("-full") and saved[1].endswith("-sampled")
    assert saved[0][:-len("-full")] == saved[1][:-len("-sampled")]      # one race: race-<key>-full / -sampled
    # a reload (a new session) shows the finished race from the saved models: the race is in the URL
    key = saved[0][len("race-"):-len("-full")]
    assert f"race={key}" in page.url, page.url
    page.reload()
    settle(page)
    expect(main(page).get_by_text("seconds per step, full ÷ sampled")).to_be_visible()
    for title in ["Loss against the training clock", "Validation perplexity after"]:
        expect(main(page).locator(CHART).filter(has_text=title)).to_have_count(1)
    assert not list((ROOT / "models" / "lm").glob("run-*"))
