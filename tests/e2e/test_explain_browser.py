"""The attention page's "Why this label?" in Chromium: open it, the explanations are drawn beside the attention
as one heatmap; pick another class and they follow it; test whether attention explains, for the default and the
compared default-seed, and read the verdict for each."""
from tests.e2e.helpers import CHART, EXCEPTION, main, rerun, settle

WHY = "Why this label? Explanations beside the attention"


def test_why_this_label_draws_the_explanations_and_tests_the_attention(server, page, shots):
    from playwright.sync_api import expect

    page.goto(f"{server}/attention?text=no+pizza+but+the+concert+was+great&compare=default-seed")
    settle(page)
    rerun(page, lambda: main(page).get_by_text(WHY).click())
    box = main(page).get_by_test_id("stExpander").filter(has_text=WHY)
    chart = box.locator(CHART).first
    expect(chart.locator(".gtitle")).to_contain_text("What drives P(music)")
    rows = chart.locator(".ytick text").all_text_contents()
    assert rows == ["attention", "gradient × input", "gradient L2", "integrated gradients", "leave-one-out"], rows
    assert chart.locator(".xtick text").all_text_contents() == ["no", "pizza", "but", "the", "concert", "was",
                                                                  "great"]
    box.get_by_test_id("stSelectbox").click()
    rerun(page, lambda: page.get_by_role("option", name="food").click())
    expect(chart.locator(".gtitle")).to_contain_text("What drives P(food)")
    rerun(page, lambda: box.get_by_text("Test it").click())
    expect(box.get_by_text("default: shuffling or flattening its weights changes what it says")).to_be_visible(
        timeout=120_000)
    expect(box.get_by_text("default-seed: its output barely changes")).to_be_visible()
    assert page.locator(EXCEPTION).count() == 0
    page.screenshot(path=str(shots / "why-attention.png"), full_page=True)
