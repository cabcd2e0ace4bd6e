"""The compare view: any two models of an architecture side by side on the same input, with what differs
(the attention, dialogue-acts, captioning and lm pages; the sidebar's "Compare with", compare=NAME in the URL)."""
import json
import shutil

import pytest

from seqviz import training
from tests.app.conftest import ROOT
from tests.app.helpers import open_page

SECOND = {  # arch -> a small second model, trained once for this module's tests
    "dialogue-acts": {"head": "softmax", "n_dialogues": 60, "max_utterances": 12, "embed_dim": 8, "word_units": 8,
                      "context_units": 8, "epochs": 2, "batch_size": 8},
    "captioning": {"n_scenes": 60, "feature_dim": 16, "epochs": 1, "units": 8, "image_units": 8, "embed_dim": 8,
                   "batch_size": 64},
    "lm": {"vocab_size": 500, "num_sampled": 16, "embed_dim": 8, "units": 8, "seq_len": 10, "epochs": 1,
           "batch_size": 64},
}


@pytest.fixture(scope="module")
def two_model_store(tmp_path_factory):
    """A temp store: the shipped models and, per architecture in SECOND, a model named "second"."""
    path = tmp_path_factory.mktemp("compare") / "models"
    shutil.copytree(ROOT / "models", path)
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("SEQVIZ_MODELS", str(path))
        for arch, knobs in SECOND.items():
            training.train(training.plan(arch, knobs, name="second"))
    return path


@pytest.fixture
def store(two_model_store, monkeypatch, repo_root):
    monkeypatch.setenv("SEQVIZ_MODELS", str(two_model_store))   # after the autouse fixture cleared it
    return two_model_store


def _comparison(downloads) -> dict:
    both = json.loads(downloads["Download the comparison (JSON)"])
    assert set(both) == {"a", "b", "diff"}
    return both


def test_attention_compares_the_two_scores_word_by_word(downloads):
    at = open_page("views/attention.py", compare="default-seed")
    assert not at.exception and at.selectbox(key="attention:compare").value == "default-seed"
    assert any(s.value == "Compared with default\\-seed" for s in at.subheader)
    both = _comparison(downloads)
    d = both["diff"]
    assert len(d["attention_a_minus_b"]) == len(both["a"]["tokens"]) and 0 <= d["mass_moved"] <= 1
    assert any("e² ≈ 7.4" in i.value for i in at.info)                 # what the comparison shows
    assert any("which model puts more mass where" in str(c.proto.spec) for c in at.get("plotly_chart"))
    at.selectbox(key="attention:compare").set_value("(none)").run()       # and back: one model, no compare=
    assert "compare" not in at.query_params and "Download the result (JSON)" in downloads


def test_dialogue_acts_shows_both_tag_columns_and_both_paths(store, downloads):
    at = open_page("views/dialogue_acts.py", compare="second")
    assert not at.exception
    both = _comparison(downloads)
    a, b, d = both["a"], both["b"], both["diff"]
    assert d["differs"] == [i for i, (x, y) in enumerate(zip(a["tags"], b["tags"])) if x != y]
    assert d["heads"] == ["crf", "softmax"] and any("softmax" in i.value for i in at.info)
    (side,) = [t.value for t in at.dataframe if "second" in t.value.columns]
    assert list(side["default"]) == a["tags"] and list(side["second"]) == b["tags"]
    lattices = [c for c in at.get("plotly_chart") if "both paths" in str(c.proto.spec)]
    assert len(lattices) == (1 if a["labels"] == b["labels"] else 0)


def test_captioning_shows_each_models_captions_with_word_probabilities(store, downloads):
    at = open_page("views/captioning.py", compare="second")
    assert not at.exception
    both = _comparison(downloads)
    assert len(both["b"]["captions"]) == 2 and len(both["diff"]["same_captions"]) == 2
    charts = [c for c in at.get("plotly_chart") if "P(each word it chose)" in str(c.proto.spec)]
    assert len(charts) == 4                                             # two heads x two models


def test_lm_compares_the_next_word_and_both_perplexities_and_says_why_they_may_not_compare(store, downloads):
    at = open_page("views/lm.py", compare="second", text="return the value of the")
    assert not at.exception
    d = _comparison(downloads)["diff"]
    assert set(d["perplexity"]) == {"a", "b"} and all(v > 1 for v in d["perplexity"].values())
    assert d["vocabulary"]["b"] == 500 and d["vocabulary"]["shared"] <= 500
    from seqviz import store as st_
    held = {s: st_.read_json("lm", name)["val_perplexity"] for s, name in (("a", "default"), ("b", "second"))}
    assert d["held_out"] == held                                   # each model's own, as it stored it
    (table,) = [t.value for t in at.dataframe if "held-out perplexity" in t.value.columns]
    assert list(table["model"]) == ["default", "second"]
    assert list(table["held-out perplexity"]) == [f"{held['a']:.1f}", f"{held['b']:.1f}"]
    (said,) = [c.value.replace("\\", "") for c in at.caption if c.value.startswith("Perplexity: how surprised")]
    assert "The vocabularies differ (8,000 and 500 words" in said.replace("\\", "")
    assert "its perplexity says little" in said
    assert any("either model" in str(c.proto.spec) for c in at.get("plotly_chart"))


def test_an_unknown_compare_name_says_so_and_the_page_works():
    at = open_page("views/attention.py", compare="nope")
    assert not at.exception and any("No other model named 'nope'" in w.value for w in at.warning)
    assert at.selectbox(key="attention:compare").value == "(none)"
    assert any(s.value.startswith("Predicted:") for s in at.subheader)


def test_an_input_the_compared_model_cannot_read_is_named_as_its():
    text = " ".join(["the goal"] * 31)                    # 62 words: the seed score reads at most max_len = 60
    at = open_page("views/attention.py", compare="default-seed", text=text)
    assert not at.exception
    (error,) = [e.value for e in at.error]
    assert "default\\-seed" in error and "reads at most 60" in error
    assert any(s.value.startswith("Predicted: sports") for s in at.subheader)     # model a still answers
