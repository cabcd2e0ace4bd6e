"""The replay view in Chromium: on every page, open it and press Play; the figure steps through every epoch of
the shipped default's replay in the browser (Plotly animation frames, no rerun), from the untrained model to the
trained one."""
import pytest

from seqviz import replay
from tests.e2e.helpers import CHART, EXCEPTION, main, rerun, settle

MODELS = {"attention": "default", "dialogue-acts": "default", "seq2seq": "default-basic", "captioning": "default",
          "lm": "default"}

# every title the animated figure shows, in order (installed before Play is pressed)
_WATCH_TITLES = """(gd) => {
    window._seqvizTitles = [];
    const look = () => {
        const t = gd.querySelector('.gtitle');
        const text = t ? t.textContent : '';
        if (window._seqvizTitles[window._seqvizTitles.length - 1] !== text) window._seqvizTitles.push(text);
    };
    new MutationObserver(look).observe(gd, {subtree: true, childList: true, characterData: true});
}"""


@pytest.mark.parametrize("arch", list(MODELS))
def test_play_steps_through_every_epoch_in_the_browser(server, page, shots, arch):
    from playwright.sync_api import expect

    epochs = [s["epoch"] for s in replay.read(arch, MODELS[arch])["snapshots"]]
    page.goto(f"{server}/{arch}")
    settle(page)
    rerun(page, lambda: main(page).get_by_text("Replay: watch it learn, epoch by epoch").click())
    box = main(page).get_by_test_id("stExpander").filter(has_text="Replay: watch it learn")
    chart = box.locator(CHART).first
    expect(chart.locator(".gtitle")).to_contain_text(f"Epoch {epochs[-1]}: loss")
    expect(box.get_by_text("What changed")).to_be_visible()
    runs = page.evaluate("window._seqvizRuns")
    chart.locator(".js-plotly-plot").evaluate(_WATCH_TITLES)
    chart.locator("g.updatemenu-button").filter(has_text="Play").click()
    page.wait_for_function(f"() => window._seqvizTitles.length >= {len(epochs)} && "
                           f"window._seqvizTitles[window._seqvizTitles.length - 1].startsWith('Epoch {epochs[-1]}:')",
                           timeout=120_000)
    seen = page.evaluate("window._seqvizTitles")
    numbers = [int(t.split(":")[0].split()[1]) for t in seen if t.startswith("Epoch ")]
    assert 0 in numbers, seen                          # (the shown title may be redrawn once as Play is pressed)
    assert numbers[numbers.index(0):] == epochs, seen  # from the untrained model to the last epoch, in order
    assert any(t.startswith("Epoch 0: the untrained model") for t in seen), seen   # (+ what it predicts, if any)
    assert page.evaluate("window._seqvizRuns") == runs  # stepped in the browser: the script never reran
    assert page.locator(EXCEPTION).count() == 0
    page.screenshot(path=str(shots / f"replay-{arch}.png"), full_page=True)
