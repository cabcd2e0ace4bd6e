"""The captioning page in Chromium: a sample scene, its .npy download, uploading .npy features (good and
bad), and a shared URL."""
from urllib.parse import parse_qs, urlparse

import numpy as np

from seqviz import captioning as cap
from tests.e2e.helpers import CHART, EXCEPTION, ROOT, expect_nav, main, rerun, settle

D = 4096


def expect_captions(page, english, french, charts=5):
    from playwright.sync_api import expect

    expect(main(page).get_by_text(f"caption 1 (English sentence): {english}")).to_be_visible(timeout=60_000)
    expect(main(page).get_by_text(f"caption 2 (French label): {french}")).to_be_visible(timeout=60_000)
    page.locator(CHART).nth(charts - 1).wait_for(state="visible", timeout=60_000)  # Plotly draws after the text
    assert page.locator(EXCEPTION).count() == 0


def upload(page, path):
    rerun(page, lambda: main(page).locator("input[type='file']").set_input_files(str(path)))


def test_sample_download_then_upload_features_good_and_bad(server, page, shots, tmp_path):
    from playwright.sync_api import expect

    page.goto(server + "/captioning")
    settle(page)
    expect(main(page).get_by_role("heading", name="Scene: there are two red circles on the left")).to_be_visible()
    expect_captions(page, "there are two red circles on the left", "deux cercles rouges à gauche")
    expect_nav(page)
    page.screenshot(path=str(shots / "captioning.png"), full_page=True)

    # the sample is offered as the .npy a user would upload: exactly its feature vector
    with page.expect_download() as info:
        main(page).get_by_role("button", name="Download sample 1 as .npy").click()
    sample = tmp_path / "scene-1.npy"
    info.value.save_as(sample)
    assert info.value.suggested_filename == "scene-1.npy"
    np.testing.assert_array_equal(np.load(sample, allow_pickle=False), cap.sample_features(0, D, 0.3))

    rerun(page, lambda: main(page).get_by_text("Upload .npy features").click())
    expect(main(page).get_by_text("Upload a .npy file of feature vectors")).to_be_visible()
    assert parse_qs(urlparse(page.url).query).get("source") == ["upload"], page.url

    scenes = [cap.SAMPLES[2], ((1, "green", "circle", "bottom"),), cap.SAMPLES[4]]
    three = tmp_path / "three.npy"
    np.save(three, cap.scene_features(scenes, D))
    upload(page, three)
    expect(main(page).get_by_role("heading", name="three.npy: 3 scenes")).to_be_visible(timeout=60_000)
    expect(main(page).get_by_test_id("stDataFrame").first).to_be_visible()
    expect_captions(page, "there are four yellow triangles in the centre", "quatre triangles jaunes au centre")
    # the beam slider was hidden while no file was there: it comes back showing its value, not its first option
    expect(main(page).get_by_test_id("stSliderThumbValue")).to_have_text("3")
    expect(main(page).get_by_text("Head 1: the 3 beams")).to_be_visible()
    page.screenshot(path=str(shots / "captioning-upload.png"), full_page=True)

    bad = tmp_path / "bad.npy"
    np.save(bad, np.zeros((2, 100), np.float32))
    upload(page, bad)
    alert = main(page).locator("[data-testid='stAlert']")
    expect(alert).to_have_count(1)
    expect(alert).to_contain_text("its feature vectors have 100 values, but this model reads 4096-d features")
    expect(page.locator(CHART)).to_have_count(0)
    assert page.locator(EXCEPTION).count() == 0
    page.screenshot(path=str(shots / "captioning-bad-upload.png"), full_page=True)

    text = tmp_path / "text.npy"
    text.write_text("0.1, 0.2, 0.3\n")
    upload(page, text)
    expect(alert).to_contain_text("is not a .npy file")

    upload(page, sample)                       # the page keeps working: the downloaded sample captions again
    expect(main(page).get_by_role("heading", name="Row 1 of scene-1.npy")).to_be_visible(timeout=60_000)
    expect_captions(page, "there are two red circles on the left", "deux cercles rouges à gauche")
    expect(main(page).locator("[data-testid='stAlert']")).to_have_count(0)


def test_captioning_shared_url_reproduces_the_view(server, page, shots):
    from playwright.sync_api import expect

    page.goto(server + "/captioning?source=describe&text=two%20purple%20squares%20at%20the%20top&beam=1&ablate=2")
    settle(page)
    expect(main(page).locator("textarea").first).to_have_value("two purple squares at the top")
    expect_captions(page, "there are two purple squares at the top", "deux carrés violets en haut")
    expect(main(page).get_by_role("heading", name="Ablation: zero branch 2's features")).to_be_visible()
    expect(main(page).get_by_text("Head 1: the")).to_have_count(0)      # beam 1: no beam trees
    page.screenshot(path=str(shots / "captioning-shared.png"), full_page=True)


def test_train_a_tiny_captioner_from_the_sidebar_then_caption_with_it(server, page, shots, store_copy):
    """The sidebar's form takes your two files (captions CSV, features .npy) or generates scenes; a 16-d model
    of generated scenes trains, is picked, and the page captions (and offers 16-d samples) with it."""
    from playwright.sync_api import expect

    page.goto(server + "/captioning")
    settle(page)
    sidebar = page.get_by_test_id("stSidebar")
    sidebar.get_by_text("Train a model", exact=True).click()
    for label, value in [("training scenes", "60"), ("feature size D", "16"), ("epochs (passes over the data)", "1"),
                         ("LSTM units", "8"), ("image projection size", "8")]:
        box = sidebar.get_by_role("spinbutton", name=label, exact=True)
        box.fill(value)
        box.press("Tab")
    expect(sidebar.locator("input[type='file']")).to_have_count(2)     # the form is open: captions and features
    name = sidebar.get_by_role("textbox", name="Name (optional)")
    name.fill("e2e-cap")
    name.press("Tab")
    sidebar.get_by_role("button", name="Train", exact=True).click()
    expect(sidebar.get_by_test_id("stProgress")).to_be_visible(timeout=30_000)
    expect(sidebar.get_by_text("Trained e2e-cap")).to_be_visible(timeout=120_000)
    settle(page)
    expect(sidebar.get_by_role("combobox", name="Model")).to_have_value("e2e-cap")
    assert (store_copy / "captioning" / "e2e-cap" / "config.json").is_file()
    assert not (ROOT / "models" / "captioning" / "e2e-cap").exists()
    expect(main(page).get_by_role("button", name="Download sample 1 as .npy (shape (16,), float32)")).to_be_visible()
    expect(main(page).get_by_text("caption 1 (English sentence): ")).to_be_visible(timeout=60_000)
    page.locator(CHART).nth(4).wait_for(state="visible", timeout=60_000)
    assert page.locator(EXCEPTION).count() == 0
    page.screenshot(path=str(shots / "captioning-trained.png"), full_page=True)
