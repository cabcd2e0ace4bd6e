"""AppTest of the seq2seq page with the committed default models (one per mode)."""
import json
from functools import partial
from pathlib import Path

import pytest
from streamlit.testing.v1 import AppTest

from seqviz import seq2seq
from tests.app.helpers import open_page

ROOT = Path(__file__).resolve().parents[2]
KEY = "seq2seq:text"


_page = partial(open_page, "views/seq2seq.py")


def _decodes(at) -> dict:
    """Mode -> (correct, decoded text) from the side-by-side columns."""
    assert not at.exception, [e.message for e in at.exception]
    heads = [s.value for s in at.subheader if s.value in seq2seq.MODES]
    lines = [m.value for m in at.markdown if m.value[:2] in ("✅ ", "❌ ")]
    assert len(heads) == len(lines)
    return {h: (line.startswith("✅"), line[2:].strip("* ").replace("\\", "")) for h, line in zip(heads, lines)}


def test_default_page_shows_all_four_modes_side_by_side():
    at = _page()
    assert not at.error, [e.value for e in at.error]
    assert at.text_area(key=KEY).value == seq2seq.EXAMPLES["digits"]
    decodes = _decodes(at)
    assert list(decodes) == list(seq2seq.MODES)
    gold = " ".join(seq2seq.target("digits", seq2seq.EXAMPLES["digits"].split()))
    assert decodes["attention"] == (True, gold)        # the example is one basic gets wrong, attention right
    assert decodes["basic"][0] is False
    # only the open tab (the first, basic) is built: its beam tree and top-k bars; the model's details
    # (loss curve, layers) stay folded and unbuilt
    assert len(at.get("plotly_chart")) == 2
    assert [t.label for t in at.tabs] == list(seq2seq.MODES)
    # the held-out table lists the four digits models with short and long exact match
    table = at.dataframe[-1].value
    assert sorted(table["mode"]) == sorted(seq2seq.MODES)
    by_mode = dict(zip(table["mode"], table["exact @ 10"]))
    assert by_mode["attention"] >= 0.99 and by_mode["basic"] < by_mode["attention"] - 0.3
    assert at.query_params["task"] == ["digits"] and at.query_params["beam"] == ["3"]


def test_typed_input_decodes_and_goes_into_the_url():
    at = _page()
    at.text_area(key=KEY).input("4 7 1").run()
    decodes = _decodes(at)
    assert all(ok and text == "four seven one" for ok, text in decodes.values()), decodes
    assert at.query_params["text"] == ["4 7 1"]


def test_url_reproduces_modes_beam_text_and_models():
    at = _page(modes="attention,basic", beam="5", text="2 0 2 6", model_basic="no-such-model")
    assert not at.error
    assert at.multiselect(key="seq2seq:modes").value == ["attention", "basic"]
    assert at.slider(key="seq2seq:beam").value == 5
    decodes = _decodes(at)
    assert list(decodes) == ["basic", "attention"]          # in the page's mode order
    assert decodes["attention"] == (True, "two zero two six")
    beams = at.dataframe[0].value                              # first tab: basic's beams
    assert len(beams) == 5 and list(beams["log-prob"]) == sorted(beams["log-prob"], reverse=True)
    # the model picked per mode is in the URL too; an unknown one falls back to the mode's default
    assert at.query_params["model_basic"] == ["default-basic"]
    assert at.query_params["model_attention"] == ["default-attention"]


@pytest.mark.parametrize("bad, words", [
    ("4 x 7", ["'x'", "digits 0-9"]),
    ("", ["empty"]),
    ("1 2 3 4 5 6 7 8 9 0 1 2", ["12 tokens", "at most 10"]),
])
def test_bad_input_is_one_clear_error_then_the_page_recovers(bad, words):
    at = _page()
    at.text_area(key=KEY).input(bad).run()
    assert not at.exception
    assert len(at.error) == 1, [e.value for e in at.error]     # once, not once per mode
    for w in words:
        assert w in at.error[0].value.replace("\\", ""), at.error[0].value
    assert not [m for m in at.markdown if m.value[:2] in ("✅ ", "❌ ")]
    at.text_area(key=KEY).input("5 5").run()
    assert not at.error and _decodes(at)["attention"] == (True, "five five")


def test_bad_url_values_fall_back():
    at = _page(modes="nonsense", beam="banana", task="klingon")
    assert not at.exception and not at.error
    assert at.selectbox(key="seq2seq:task").value == "digits"
    assert at.multiselect(key="seq2seq:modes").value == list(seq2seq.MODES)
    assert at.slider(key="seq2seq:beam").value == 3


def test_pin_a_token_and_redecode():
    at = _page(modes="feedback", text="4 7 1")
    at.number_input(key="seq2seq:pin_at:feedback").set_value(2).run()
    at.selectbox(key="seq2seq:pin_tok:feedback").set_value("two").run()
    pinned = [m.value.replace("\\", "") for m in at.markdown if m.value.startswith("pinned decode")]
    assert len(pinned) == 1 and pinned[0].startswith("pinned decode: four two"), pinned


def test_the_open_tab_is_in_the_url_and_only_it_is_built():
    at = _page(inspect="attention", text="4 7 1")
    assert not at.exception and at.query_params["inspect"] == ["attention"]
    assert len(at.get("plotly_chart")) == 3                    # beam tree, top-k bars, alignment heatmap
    assert len([m for m in at.markdown if m.value.startswith("pinned decode")]) == 1   # one re-decode, not 4
    at.session_state["seq2seq:inspect"] = "peek"               # what clicking the peek tab does
    at.run()
    assert at.query_params["inspect"] == ["peek"] and len(at.get("plotly_chart")) == 2
    at.session_state["details:seq2seq:default-peek"] = True    # open the model's details
    at.run()
    assert len(at.get("plotly_chart")) == 3                    # + its training curve
    (layers,) = [d.value for d in at.dataframe if "output shape" in d.value.columns]
    assert {"encoder_lstm_0", "decoder_lstm_0", "probs"} <= set(layers["layer"])
    assert any("architecture" in e.label for e in at.expander)
    assert _page(inspect="nonsense").query_params["inspect"] == ["basic"]   # a bad value falls back


def test_exposure_bias_table_compares_teacher_forced_and_free_running():
    at = _page(modes="attention", text="3 3 9")
    (table,) = [d.value for d in at.dataframe if "teacher-forced" in d.value.columns]
    assert list(table["gold"]) == ["three", "three", "nine", "</s>"]
    assert list(table["teacher-forced"]) == list(table["gold"]) == list(table["free-running"])
    assert list(table["where"]) == [""] * 4                                 # a named column: nothing parts
    assert any(c.value.startswith("The two agree at every step, and both are right.") for c in at.caption)


def test_every_task_ships_all_four_modes():
    at = _page(task="piglatin", text="string")
    assert not at.exception and not at.error
    decodes = _decodes(at)
    assert list(decodes) == list(seq2seq.MODES) and decodes["attention"] == (True, "ingstray")
    assert not [i for i in at.info if "No piglatin model" in i.value]      # no empty column, nothing to train
    at.selectbox(key="seq2seq:task").set_value("sort").run()      # switching task swaps in its example
    assert at.text_area(key=KEY).value == seq2seq.EXAMPLES["sort"]
    decodes = _decodes(at)
    assert list(decodes) == list(seq2seq.MODES)
    assert decodes["attention"] == (True, " ".join(sorted(seq2seq.EXAMPLES["sort"].split())))


def test_a_mode_without_a_model_says_how_to_train_one(tmp_path, monkeypatch):
    import shutil
    store = tmp_path / "models"
    shutil.copytree(ROOT / "models" / "seq2seq" / "default-piglatin", store / "seq2seq" / "default-piglatin")
    monkeypatch.setenv("SEQVIZ_MODELS", str(store))
    at = _page(task="piglatin", text="string")
    assert _decodes(at) == {"attention": (True, "ingstray")}
    (info,) = [i.value for i in at.info if "No piglatin model" in i.value]
    assert "basic, feedback, peek" in info and "train one" in info


def test_home_card_describes_the_default_attention_model():
    metrics = json.loads((ROOT / "models" / "seq2seq" / "default-attention" / "metrics.json").read_text())
    at = AppTest.from_file("router.py", default_timeout=60).run()
    assert not at.exception
    values = {m.label: m.value for m in at.metric}
    assert values["held-out exact match (attention)"] == f"{metrics['val_exact']:.3g}"
    assert values["exact match, longest inputs"] == f"{metrics['exact_long']:.3g}"
