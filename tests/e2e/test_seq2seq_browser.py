"""The seq2seq page in Chromium: four modes side by side, typed input, the attention tab, a shared URL."""
from urllib.parse import parse_qs, urlparse

from tests.e2e.helpers import CHART, EXCEPTION, expect_nav, main, settle, start_training, submit_text


def expect_modes(page, modes, correct_text=None):
    from playwright.sync_api import expect

    for mode in modes:
        expect(main(page).get_by_role("heading", name=mode, exact=True)).to_be_visible(timeout=120_000)
    if correct_text is not None:
        expect(main(page).get_by_text(f"✅ {correct_text}").first).to_be_visible(timeout=60_000)
    page.locator(CHART).first.wait_for(state="visible", timeout=60_000)
    assert page.locator(EXCEPTION).count() == 0


def test_seq2seq_page_modes_side_by_side_typed_input_and_alignment(server, page, shots):
    from playwright.sync_api import expect

    page.goto(server + "/seq2seq")
    settle(page)
    expect_modes(page, ["basic", "feedback", "peek", "attention"],
                 "two eight nine zero four eight one seven one four")
    expect(main(page).get_by_text("❌ ").first).to_be_visible()      # basic gets the long example wrong
    expect_nav(page)
    page.screenshot(path=str(shots / "seq2seq.png"), full_page=True)

    submit_text(page, "4 7 1")
    expect(main(page).get_by_text("✅ four seven one")).to_have_count(4, timeout=60_000)
    page.wait_for_url(lambda url: "text=4" in url)
    assert parse_qs(urlparse(page.url).query).get("text") == ["4 7 1"], page.url

    main(page).get_by_role("tab", name="attention").click()
    heat = main(page).locator(CHART).filter(has_text="Attention alignment")
    expect(heat).to_be_visible(timeout=60_000)
    page.screenshot(path=str(shots / "seq2seq-attention.png"), full_page=True)

    submit_text(page, "4 x 1")
    alert = main(page).locator("[data-testid='stAlert']")
    expect(alert).to_have_count(1)
    expect(alert).to_contain_text("'x'")
    assert page.locator(EXCEPTION).count() == 0


def test_seq2seq_shared_url_reproduces_the_view(server, page, shots):
    from playwright.sync_api import expect

    page.goto(server + "/seq2seq?modes=attention&beam=4&text=9%208%207")
    settle(page)
    expect(main(page).locator("textarea").first).to_have_value("9 8 7")
    expect_modes(page, ["attention"], "nine eight seven")
    expect(main(page).get_by_role("heading", name="basic", exact=True)).to_have_count(0)
    page.screenshot(path=str(shots / "seq2seq-shared.png"), full_page=True)


def test_upload_your_own_pairs_train_and_decode_with_the_model(server, page, store_copy, tmp_path, shots):
    """A user's CSV of source,target pairs uploaded in the sidebar's Train form: the model trains, the page
    switches its task to the file, and decodes with it (held-out pairs in the picker, words joined by spaces)."""
    import json

    from playwright.sync_api import expect

    import numpy as np
    rng = np.random.default_rng(0)
    words = "le chat chien noir blanc petit grand mange dort".split()
    rows = sorted({" ".join(rng.choice(words, rng.integers(1, 4))) for _ in range(300)})
    path = tmp_path / "pairs.csv"
    path.write_text("source,target\n" + "".join(f"{r},{' '.join(reversed(r.split()))}\n" for r in rows))

    page.goto(server + "/seq2seq?modes=attention")
    settle(page)
    sidebar = start_training(page, "e2e-pairs", {"epochs (passes over the data)": "2", "LSTM units": "16",
                                                 "longest input (tokens)": "3"}, upload=path)
    expect(sidebar.get_by_text("Trained e2e-pairs")).to_be_visible(timeout=300_000)
    settle(page)
    config = json.loads((store_copy / "seq2seq" / "e2e-pairs" / "config.json").read_text())
    assert config["params"]["task"] == "file" and config["data"]["filename"] == "pairs.csv"
    # the new model's first decode traces its search graph: on a loaded machine that can take a minute or more
    expect(main(page).get_by_text("your pairs: pairs.csv").first).to_be_visible(timeout=180_000)
    expect(main(page).get_by_role("heading", name="attention", exact=True)).to_be_visible(timeout=180_000)
    source = main(page).locator("textarea").first.input_value()
    assert source and set(source.split()) <= set(words)                  # a held-out source of the file
    page.locator(CHART).first.wait_for(state="visible", timeout=180_000)
    submit_text(page, "le chat noir", timeout=300_000)   # a fresh model's page: its figures' first builds, under load
    expect(main(page).get_by_text("Held-out accuracy of every model of your pairs: pairs.csv")).to_be_visible()
    assert page.locator(EXCEPTION).count() == 0
    page.screenshot(path=str(shots / "seq2seq-pairs.png"), full_page=True)
