"""AppTest of the language-model page: generation from the committed default, bad prompts, and the race
(a tiny config trained with both softmaxes into a temp store)."""
import re
from functools import partial
from pathlib import Path

import pytest

from seqviz import lm, store, training
from tests.app.helpers import open_page

ROOT = Path(__file__).resolve().parents[2]
KEY = "lm:text"
RACE = {"vocab_size": 300, "num_sampled": 32, "embed_dim": 8, "units": 8, "seq_len": 10, "batch_size": 128}


_page = partial(open_page, "views/lm.py")


def _continuation(at) -> str:
    """The generated text, a quote: '> **prompt** continuation' (markdown-escaped)."""
    (line,) = [m.value for m in at.markdown if m.value.startswith("> **")]
    return line[2:]


def _assert_generated(at, prompt: str):
    assert not at.exception, [e.message for e in at.exception]
    assert not at.error, [e.value for e in at.error]
    line = _continuation(at)
    assert line.startswith(f"**{prompt}** ") and len(line) > len(prompt) + 6, line
    titles = [c.proto.spec for c in at.get("plotly_chart")]
    assert any("Next word after the prompt" in t for t in titles)
    assert any("Probability the model gave each generated word" in t for t in titles)


def test_lm_page_default_model_generates_and_mirrors_the_prompt_in_the_url():
    at = _page()
    _assert_generated(at, lm.EXAMPLE)
    assert at.text_area(key=KEY).value == lm.EXAMPLE
    assert at.selectbox(key="lm:model").value == "default"
    assert at.query_params["text"] == [lm.EXAMPLE] and at.query_params["model"] == ["default"]
    assert [h.value for h in at.main.header] == ["Generate", "The race: sampled vs full softmax"]
    assert [b.label for b in at.button if b.label == "Start the race"] == ["Start the race"]


def test_lm_page_temperature_zero_is_the_deterministic_greedy_continuation():
    at = _page()
    at.slider(key="lm:temperature").set_value(0.0).run()
    first = _continuation(at)
    at.number_input(key="lm:seed").set_value(7).run()
    assert _continuation(at) == first                      # the seed does not matter at temperature 0
    expected = lm.predict(store.load("lm"), lm.EXAMPLE, n_words=20, temperature=0.0)
    assert first.replace("\\", "") == f"**{lm.EXAMPLE}** {expected['continuation']}"


def test_lm_page_new_prompt_names_unknown_words():
    at = _page()
    at.text_area(key=KEY).input("Open the qwertyzzz file").run()
    _assert_generated(at, "open the qwertyzzz file")
    captions = [c.value for c in at.caption if c.value.startswith("Not in the model's vocabulary")]
    assert len(captions) == 1 and "qwertyzzz" in captions[0]
    assert at.query_params["text"] == ["Open the qwertyzzz file"]


@pytest.mark.parametrize("bad, words", [
    ("", "empty"), ("?!? ...", "no words"), ("qwertyzzz zzzqqq", "None of the prompt's words"),
    ("the " * 600, "limit is 2,000"),
])
def test_lm_page_bad_prompt_shows_an_error_and_the_page_keeps_working(bad, words):
    at = _page()
    at.text_area(key=KEY).input(bad).run()
    assert not at.exception, [e.message for e in at.exception]
    assert len(at.error) == 1 and words in at.error[0].value.replace("\\", ""), [e.value for e in at.error]
    assert not [m for m in at.markdown if m.value.startswith("> **")]
    assert [b.label for b in at.button if b.label == "Start the race"] == ["Start the race"]   # still there
    at.text_area(key=KEY).input("return the").run()
    _assert_generated(at, "return the")


def _set_race(at, values: dict):
    for k, v in values.items():
        widget = at.selectbox(key=f"lm:race:{k}") if isinstance(v, str) else at.number_input(key=f"lm:race:{k}")
        widget.set_value(v)
    (start,) = [b for b in at.button if b.label == "Start the race"]
    return start


def test_lm_page_refuses_a_race_with_num_sampled_not_below_v():
    at = _page()
    _set_race(at, {"vocab_size": 100, "num_sampled": 100}).click().run()
    assert not at.exception
    assert any("num_sampled (100) must be smaller than the vocabulary" in e.value.replace("\\", "")
               for e in at.error), [e.value for e in at.error]
    assert "lm:race" not in at.session_state


def test_lm_page_race_trains_both_softmaxes_and_draws_the_comparison(store_with_defaults):
    at = _page()
    _set_race(at, {**RACE, "corpus": "zipf"}).click().run()
    assert not at.exception, [e.message for e in at.exception]
    ids = at.session_state["lm:race"]
    assert set(ids) == {"sampled", "full"}
    jobs = {side: training.get(i) for side, i in ids.items()}
    for job in jobs.values():
        assert job.wait(300)
    assert [j.status for j in jobs.values()] == ["done", "done"], [j.error for j in jobs.values()]
    assert [j.plan.params["softmax"] for j in jobs.values()] == ["sampled", "full"]
    assert jobs["sampled"].plan.params | {"softmax": "full"} == jobs["full"].plan.params   # same config

    at.run()
    assert not at.exception, [e.message for e in at.exception]
    labels = {m.label: m.value for m in at.metric}
    assert set(labels) == {"seconds per step, full ÷ sampled", "validation perplexity, sampled",
                           "validation perplexity, full", "unigram perplexity (baseline)"}
    assert re.fullmatch(r"\d+\.\d×", labels["seconds per step, full ÷ sampled"])
    (caption,) = [c.value for c in at.caption if c.value.startswith("After 1 epoch(s)")]
    assert re.fullmatch(r"After 1 epoch\(s\) the sampled-trained model's full-softmax validation perplexity is "
                        r"[+-]\d+\.\d% against the full-trained model's \(\d+\.\d vs \d+\.\d\)\.", caption), caption
    titles = " ".join(c.proto.spec for c in at.get("plotly_chart"))
    for title in ("Loss against the training clock", "Seconds per training step", "Validation perplexity after "
                  "each epoch", "Sampled loss minus the true loss"):
        assert title in titles
    # both runs were saved as models, in the temp store only
    for job in jobs.values():
        assert (store_with_defaults / "lm" / job.plan.name / "config.json").is_file()
