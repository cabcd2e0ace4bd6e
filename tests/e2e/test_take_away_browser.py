"""In Chromium: a page's result downloads as JSON, its model as a SavedModel .zip (built on the click) and its
Keras code unfolds, on the real app."""
import io
import json
import zipfile
from pathlib import Path

from tests.e2e.helpers import EXCEPTION, main, settle


def test_take_the_result_the_model_and_the_code_away(server, page, shots):
    from playwright.sync_api import expect

    page.goto(server + "/dialogue-acts")
    settle(page)
    with page.expect_download(timeout=60_000) as got:
        main(page).get_by_role("button", name="Download the result (JSON)").click()
    result = json.loads(Path(got.value.path()).read_text(encoding="utf-8"))
    assert got.value.suggested_filename == "dialogue-acts-default-result.json"
    assert len(result["tags"]) == len(result["utterances"]) > 1 and len(result["transitions"]) == len(result["labels"])

    main(page).get_by_text("Model default: settings, metrics").click()       # opening it reruns the page
    export = main(page).get_by_role("button", name="Export as a TensorFlow SavedModel (.zip)")
    expect(export).to_be_visible(timeout=180_000)
    settle(page)
    with page.expect_download(timeout=180_000) as got:      # the export is built now, on the server (seconds)
        export.click()
    assert got.value.suggested_filename == "dialogue-acts-default.zip"
    names = zipfile.ZipFile(io.BytesIO(Path(got.value.path()).read_bytes())).namelist()
    assert {"default/saved_model.pb", "default/README.md", "default/config.json"} <= set(names)

    main(page).get_by_text("Keras code: how this model is built").click()
    expect(main(page).get_by_text("def build(params: dict, vocabs: dict[str, Vocab])")).to_be_visible(timeout=180_000)
    assert page.locator(EXCEPTION).count() == 0
    page.screenshot(path=str(shots / "take-away.png"), full_page=True)
