"""AppTest of the seq2seq page with models of the user's own pairs: the task picker lists the file next to the
generated tasks, held-out pairs fill the input and the expected output, unknown characters are named, and
both modes trained on the file decode side by side."""
import hashlib

import pytest

from seqviz import seq2seq, training
from tests.app.helpers import open_page, trained_store
from tests.model.test_seq2seq_pairs import CHAR
from tests.unit.test_seq2seq_pairs import shift, shift_csv

TEXT = "seq2seq:text"


@pytest.fixture(scope="module")
def pairs_store(tmp_path_factory):
    """The shipped models and two models of shift.csv: attention ("shift") and basic ("shift-basic")."""
    def train():
        training.train(training.plan("seq2seq", CHAR, shift_csv(), "shift.csv", "shift"))
        training.train(training.plan("seq2seq", {**CHAR, "mode": "basic", "epochs": 1}, shift_csv(), "shift.csv",
                                     "shift-basic"))
    return trained_store(tmp_path_factory, ["seq2seq"], train)


@pytest.fixture(autouse=True)
def store(pairs_store, monkeypatch, repo_root):
    monkeypatch.setenv("SEQVIZ_MODELS", str(pairs_store))    # after the autouse fixture cleared it
    return pairs_store


TASK = "file:" + hashlib.sha1(shift_csv()).hexdigest()[:10]


def _columns(at) -> dict:
    """Mode -> the decode line under its heading (with its ✅/❌ mark, if any)."""
    assert not at.exception, [e.message for e in at.exception]
    heads = [s.value for s in at.subheader if s.value in seq2seq.MODES]
    lines = [m.value.replace("\\", "") for m in at.markdown if "**" in m.value and m.value.endswith("**")
             and not m.value.startswith("**Exposure") and not m.value.startswith("**What if")]
    return dict(zip(heads, lines))


def test_the_file_is_a_task_and_its_models_decode_a_held_out_pair():
    at = open_page("views/seq2seq.py", task=TASK, modes="basic,attention")
    assert not at.error, [e.value for e in at.error]
    picker = at.selectbox(key="seq2seq:task")
    assert picker.options[:3] == ["digits → words", "sort digits", "Pig Latin"]
    assert "your pairs: shift.csv" in picker.options and picker.value == TASK
    source = at.text_area(key=TEXT).value
    assert at.text_area(key="seq2seq:expected").value == shift(source)       # a held-out pair: its target
    cols = _columns(at)
    assert set(cols) == {"basic", "attention"}
    assert cols["attention"] == f"✅ **{shift(source)}**"                   # joined like the targets: no spaces
    table = at.dataframe[-1].value
    assert sorted(table["model"]) == ["shift", "shift-basic"] and "token acc (all)" in table.columns
    assert "exact @ 3" not in table.columns
    assert table.set_index("model").loc["shift", "exact (all)"] >= 0.95


def test_a_typed_source_with_unknown_characters_is_decoded_and_named():
    at = open_page("views/seq2seq.py", task=TASK, modes="attention")
    at.text_area(key=TEXT).input("abz").run()
    assert at.text_area(key="seq2seq:expected").value == ""                 # not a held-out source: unknown
    cols = _columns(at)
    assert cols["attention"].startswith("**BC")                            # no mark: nothing to compare with
    assert any("'z'" in c.value and "read as unknown" in c.value for c in at.caption)
    assert any("needs the expected output" in c.value for c in at.caption)
    at.text_area(key="seq2seq:expected").input("BC?").run()
    assert _columns(at)["attention"].startswith("❌ **BC")
    assert any(c.value.replace("\\", "") == "expected: BC?" for c in at.caption)


def test_picking_a_held_out_pair_fills_the_input_and_its_expected_output():
    at = open_page("views/seq2seq.py", task=TASK, modes="attention")
    picker = at.selectbox(key="seq2seq:example")
    second = picker.options[1]
    picker.select(second).run()
    assert at.text_area(key=TEXT).value == second
    assert at.text_area(key="seq2seq:expected").value == shift(second)
    assert _columns(at)["attention"] == f"✅ **{shift(second)}**"


def test_a_model_just_trained_on_a_file_switches_the_page_to_it():
    from streamlit.testing.v1 import AppTest
    at = AppTest.from_file("views/seq2seq.py", default_timeout=300)
    at.session_state["seq2seq:model:select"] = "shift"
    at.run()
    assert at.selectbox(key="seq2seq:task").value == TASK
    assert at.selectbox(key="seq2seq:model:attention").value == "shift"
    assert not at.exception


def test_a_link_naming_a_model_of_your_pairs_opens_its_task():
    at = open_page("views/seq2seq.py", model_attention="shift", text="abc", modes="attention")
    assert at.selectbox(key="seq2seq:task").value == TASK
    assert _columns(at)["attention"].startswith("**")
    assert at.query_params["task"] == [TASK]


def test_a_models_details_say_it_was_trained_on_the_file_not_on_generated_knobs():
    at = open_page("views/seq2seq.py", task=TASK, modes="attention", inspect="attention")
    at.session_state["details:seq2seq:shift"] = True                       # what opening its details does
    at.run()
    assert not at.exception, [e.message for e in at.exception]
    (said,) = [m.value.replace("\\", "") for m in at.markdown if m.value.startswith("Trained on")]
    assert said.startswith("Trained on your file shift.csv (") and "training examples" in said
    assert "held-out examples" in said
    assert any("Not shown: the generated data's knobs (min_len, n_train)" in c.value.replace("\\", "")
               for c in at.caption)
    (settings,) = [d.value for d in at.dataframe if "setting" in d.value.columns]
    assert "n_train" not in set(settings["setting"]) and "tokens" in set(settings["setting"])
