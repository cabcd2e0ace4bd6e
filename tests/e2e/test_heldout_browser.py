"""The attention page's "Held-out set" in Chromium: open it for `default-seed` (two held-out sentences wrong),
click the confusion cell of one error, the table lists that sentence alone, select it and the page's view shows
it, with its label; the URL carries it, so the view can be shared."""
from urllib.parse import parse_qs, urlparse

from seqviz import evaluate, store
from tests.e2e.helpers import CHART, EXCEPTION, main, rerun, settle

TITLE = "Held-out set: where does it fail?"


def test_a_confusion_cell_lists_its_examples_and_a_selected_row_opens_in_the_view(server, page, shots):
    from playwright.sync_api import expect

    page.set_viewport_size({"width": 1400, "height": 3000})     # the section is long; the page scrolls inside
    page.goto(f"{server}/attention?model=default-seed")
    settle(page)
    rerun(page, lambda: main(page).get_by_text(TITLE).click())
    box = main(page).get_by_test_id("stExpander").filter(has_text=TITLE)
    grid = box.locator(CHART).filter(has_text="Confusion matrix")
    expect(grid.locator(".gtitle")).to_contain_text("Confusion matrix")
    # the 5 x 5 grid's markers, row-major: gold "sports" (row 2) predicted "food" (column 0) is marker 10
    cells = grid.locator(".scatterlayer .points path")
    expect(cells).to_have_count(25)
    cell = cells.nth(10).bounding_box()           # Plotly's drag layer takes the click and finds the point under it
    rerun(page, lambda: page.mouse.click(cell["x"] + cell["width"] / 2, cell["y"] + cell["height"] / 2))
    expect(box.get_by_text("Page (of 1; 1 examples)")).to_be_visible()
    table = box.get_by_test_id("stDataFrame").last                # after the per-class table
    frame = table.bounding_box()
    # select the one row: its checkbox sits at the left of the first data row (header ~35 px, rows 35 px)
    rerun(page, lambda: page.mouse.click(frame["x"] + 14, frame["y"] + 35 + 17))
    wrong = next(x for x in evaluate.heldout_report(store.load("attention", "default-seed"))["examples"]
                 if x["gold"] == "sports" and x["pred"] == "food")
    assert parse_qs(urlparse(page.url).query).get("text") == [wrong["input"]]
    assert main(page).get_by_test_id("stTextArea").locator("textarea").input_value() == wrong["input"]
    expect(main(page).get_by_text("food").first).to_be_visible()
    assert page.locator(EXCEPTION).count() == 0
    page.screenshot(path=str(shots / "heldout-attention.png"), full_page=True)


def test_a_labelled_file_uploaded_in_the_section_is_scored_example_by_example(server, page, tmp_path):
    from playwright.sync_api import expect

    from seqviz import attention
    toy = attention.make_toy(40, seed=11)
    csv = tmp_path / "mine.csv"
    csv.write_text("text,label\n" + "".join(f"{t},{label}\n" for t, label in zip(toy.texts, toy.labels)) +
                   "the pasta was great,cooking\n")
    page.set_viewport_size({"width": 1400, "height": 3000})
    page.goto(f"{server}/attention")
    settle(page)
    rerun(page, lambda: main(page).get_by_text(TITLE).click())
    box = main(page).get_by_test_id("stExpander").filter(has_text=TITLE)
    box.get_by_text("a labelled file of yours").click()
    expect(box.get_by_text("Upload the file to score the model on it")).to_be_visible(timeout=120_000)
    box.locator("input[type='file']").set_input_files(str(csv))
    expect(box.get_by_text("40 sentences of mine.csv")).to_be_visible(timeout=120_000)
    settle(page)
    expect(box.get_by_text("1 row(s) have labels the model has never seen ('cooking')")).to_be_visible()
    assert page.locator(EXCEPTION).count() == 0
