"""In Chromium: each page's compare view, on the real app. The attention page compares its two shipped scores
through the sidebar's picker; the others compare their default with a copy of it named "twin" (the AppTests
in tests/app/test_compare.py check what differs between really different models)."""
import shutil
from urllib.parse import parse_qs, urlparse

import pytest

from tests.e2e.helpers import CHART, EXCEPTION, main, rerun, settle


def test_attention_compare_picked_in_the_sidebar(server, page, shots):
    from playwright.sync_api import expect

    page.goto(server + "/attention")
    settle(page)
    picker = page.get_by_test_id("stSidebar").get_by_role("combobox", name="Compare with")
    picker.click()
    rerun(page, lambda: page.get_by_role("option", name="default-seed").click())
    expect(main(page).get_by_role("heading", name="Compared with default-seed")).to_be_visible()
    assert parse_qs(urlparse(page.url).query)["compare"] == ["default-seed"]
    expect(main(page).get_by_text("e² ≈ 7.4")).to_be_visible()
    settle(page)
    assert page.locator(CHART).count() >= 7 and page.locator(EXCEPTION).count() == 0
    page.screenshot(path=str(shots / "compare-attention.png"), full_page=True)


@pytest.mark.parametrize("arch, path, heading", [
    ("dialogue-acts", "/dialogue-acts", "Compared with twin: 0 of"),
    ("captioning", "/captioning", "Compared with twin: 2 of 2 captions the same"),
    ("lm", "/lm", "Compared with twin"),
])
def test_compare_view_from_a_shared_url(server, page, shots, store_copy, arch, path, heading):
    from playwright.sync_api import expect

    if not (store_copy / arch / "twin").exists():
        shutil.copytree(store_copy / arch / "default", store_copy / arch / "twin")
    page.goto(server + path + "?compare=twin")
    settle(page)
    expect(main(page).get_by_role("heading", name=heading)).to_be_visible()
    expect(main(page).get_by_role("button", name="Download the comparison (JSON)")).to_be_visible()
    settle(page)
    assert page.locator(EXCEPTION).count() == 0
    page.screenshot(path=str(shots / f"compare-{arch}.png"), full_page=True)
