"""The attention page's "Inside the LSTM" in Chromium: open it, read the backward direction, select the span
"pizza" with the keyboard (as a person can), find where the units on there turn on together in the held-out
set (the food words), and select a match: the page's view opens that sentence and the URL carries it."""
from urllib.parse import parse_qs, urlparse

from seqviz.attention import CUES
from tests.e2e.helpers import EXCEPTION, main, rerun, settle

TITLE = "Inside the LSTM: hidden states, cell states and gates, unit by unit"
TEXT = "yesterday my sister said no pizza but the concert was great"


def test_a_selected_span_finds_its_matches_and_one_opens_in_the_view(server, page, shots):
    from playwright.sync_api import expect

    page.set_viewport_size({"width": 1400, "height": 3000})
    page.goto(f"{server}/attention?text={TEXT.replace(' ', '+')}")
    settle(page)
    rerun(page, lambda: main(page).get_by_text(TITLE).click())
    box = main(page).get_by_test_id("stExpander").filter(has_text=TITLE)
    rerun(page, lambda: box.get_by_text("backward", exact=True).click())
    thumbs = box.get_by_test_id("stSlider").filter(has_text="Select a span").get_by_role("slider")
    for thumb in (thumbs.nth(1), thumbs.nth(0)):          # the upper thumb first: the lower cannot pass it
        for _ in range(5):                                  # step 1 -> step 6, "pizza"
            rerun(page, lambda t=thumb: t.press("ArrowRight"))
    expect(box.get_by_text("6. pizza").first).to_be_visible()
    rerun(page, lambda: box.get_by_text("Find where these").click())
    table = box.get_by_test_id("stDataFrame").last
    expect(box.get_by_text("held-out inputs' sequences where all")).to_be_visible(timeout=120_000)
    settle(page)
    page.screenshot(path=str(shots / "states-attention.png"), full_page=True)
    frame = table.bounding_box()
    rerun(page, lambda: page.mouse.click(frame["x"] + 14, frame["y"] + 35 + 17))        # the first match's row
    opened = parse_qs(urlparse(page.url).query).get("text")
    assert opened and opened != [TEXT]
    words = opened[0].split()
    assert any(w in CUES["food"] for w in words), opened               # a sentence with a food word in it
    assert main(page).get_by_test_id("stTextArea").locator("textarea").input_value() == opened[0]
    expect(main(page).get_by_text("food").first).to_be_visible()
    assert page.locator(EXCEPTION).count() == 0
