"""AppTest: every page loads with the committed default model, takes an input and shows its figures.

These read the repo's models/ store (the committed defaults) and never write to it.
"""
import json
import re
from functools import partial
from pathlib import Path

import pytest
from streamlit.testing.v1 import AppTest

from seqviz import attention, dialogue_acts
from seqviz.archs import ARCHS
from tests.app.helpers import open_page

ROOT = Path(__file__).resolve().parents[2]
DEFAULT_METRICS = json.loads((ROOT / "models" / "attention" / "default" / "metrics.json").read_text())
TEXT_KEY = "attention:text"
SPORTS = "the striker scored a goal for the team"


_attention_page = partial(open_page, "views/attention.py")


def _subheaders(at):
    return [s.value for s in at.subheader]


def _assert_prediction(at, label):
    assert not at.exception, [e.message for e in at.exception]
    assert not at.error, [e.value for e in at.error]
    heads = [h for h in _subheaders(at) if h.startswith("Predicted:")]
    assert len(heads) == 1 and heads[0].startswith(f"Predicted: {label} ("), heads
    assert len(at.get("plotly_chart")) >= 3


def _assert_error(at, *words):
    assert not at.exception, [e.message for e in at.exception]
    assert len(at.error) == 1, [e.value for e in at.error]
    msg = at.error[0].value
    for w in words:
        assert w in msg, msg
    # the page stopped before predicting: no label, no figures
    assert not [h for h in _subheaders(at) if h.startswith("Predicted:")]
    assert len(at.get("plotly_chart")) == 0


def _card_metrics(at) -> dict:
    """The home page's metrics per card ({arch id: {label: value}}), in page order: several cards share
    a label ("training time (s)"), so a flat {label: value} would mix them up."""
    values = [(m.label, m.value) for m in at.metric]
    assert len(values) == sum(len(a.headline) for a in ARCHS.values()), values
    out = {}
    for a in ARCHS.values():
        out[a.id], values = dict(values[:len(a.headline)]), values[len(a.headline):]
    return out


def test_home_shows_a_card_per_architecture_with_default_metrics():
    # The home page uses st.page_link, which needs the router's st.navigation: run it through app.py
    # (home is the default page). views/home.py run alone raises KeyError 'url_pathname' in AppTest.
    at = AppTest.from_file("router.py", default_timeout=60).run()
    assert not at.exception, [e.message for e in at.exception]
    assert at.title[0].value.startswith("seqviz")
    assert [s.value for s in at.subheader] == [a.title for a in ARCHS.values()]
    assert not at.warning  # the default model is in the store
    metrics = _card_metrics(at)
    assert list(metrics["attention"]) == list(ARCHS["attention"].headline.values())
    assert metrics["attention"]["held-out accuracy"] == f"{DEFAULT_METRICS['val_accuracy']:.3g}"
    assert float(metrics["attention"]["held-out accuracy"]) > 0.95
    assert metrics["attention"]["attention mass on cue words"] == f"{DEFAULT_METRICS['val_cue_attention']:.3g}"
    assert metrics["attention"]["training time (s)"] == f"{DEFAULT_METRICS['train_seconds']:.3g}"
    links = at.get("page_link")
    assert len(links) == len(ARCHS)
    assert [ln.proto.label for ln in links] == [f"Open {a.title} →" for a in ARCHS.values()]
    assert [ln.proto.page for ln in links] == list(ARCHS)


def test_home_links_through_to_the_attention_page():
    at = AppTest.from_file("router.py", default_timeout=120).run()
    at.switch_page("views/attention.py").run()
    assert [t.value for t in at.title] == ["Attention classifier"]
    _assert_prediction(at, "music")


def test_attention_page_default_model_and_example():
    at = _attention_page()
    _assert_prediction(at, "music")
    assert at.text_area(key=TEXT_KEY).value == attention.EXAMPLE
    assert at.selectbox(key="attention:model").value == "default"
    assert at.selectbox(key="attention:model").options[0] == "default"
    # the view is mirrored into the URL so it can be shared
    assert at.query_params["text"] == [attention.EXAMPLE]
    assert at.query_params["model"] == ["default"]
    # all example words are known: no "(?)" caption
    assert not [c for c in at.caption if "(?)" in c.value]


def test_attention_page_new_text_updates_prediction_and_url():
    at = _attention_page()
    at.text_area(key=TEXT_KEY).input(SPORTS).run()
    _assert_prediction(at, "sports")
    assert at.query_params["text"] == [SPORTS]
    at.text_area(key=TEXT_KEY).input("the pizza and the soup").run()
    _assert_prediction(at, "food")


def test_attention_page_marks_unknown_words():
    at = _attention_page()
    at.text_area(key=TEXT_KEY).input("the striker scored a goal for the team xylophonez").run()
    _assert_prediction(at, "sports")
    captions = [c.value for c in at.caption if "(?)" in c.value]
    assert len(captions) == 1 and "xylophonez" in captions[0]
    assert not at.warning                  # one unknown word of nine: the caption is enough
    # most words unknown: said prominently, above the prediction
    at.text_area(key=TEXT_KEY).input("the goal zzq qqz xxv wwy vvu").run()
    assert [w.value for w in at.warning] == ["5 of 7 words are unknown to this model; the prediction rests on 2."]
    # the attention strip is drawn on a fixed 0..1 scale with its colour bar (a flat attention is pale)
    strip = [c for c in at.get("plotly_chart") if "fixed scale 0 to 1" in c.proto.spec]
    assert len(strip) == 1
    spec = json.loads(strip[0].proto.spec)["data"][0]
    assert (spec["zmin"], spec["zmax"], spec["showscale"]) == (0, 1, True)


@pytest.mark.parametrize("bad, words", [
    ("", ["empty"]),
    ("   \n  ", ["empty"]),
    ("zzzq qqqz", ["vocabulary"]),
    ("?!? ... ;;", ["no words"]),
    ("word " * 2000, ["10,000 characters", f"limit is {attention.MAX_CHARS:,}"]),
])
def test_attention_page_bad_text_shows_error_then_recovers(bad, words):
    at = _attention_page()
    at.text_area(key=TEXT_KEY).input(bad).run()
    _assert_error(at, *words)
    at.text_area(key=TEXT_KEY).input(SPORTS).run()
    _assert_prediction(at, "sports")


def test_attention_page_errors_in_a_row_then_recovers():
    at = _attention_page()
    for bad, word in [("", "empty"), ("zzzq qqqz", "vocabulary"), ("x" * 10_000, "limit")]:
        at.text_area(key=TEXT_KEY).input(bad).run()
        _assert_error(at, word)
    at.text_area(key=TEXT_KEY).input("the pizza and the soup").run()
    _assert_prediction(at, "food")


def test_attention_page_is_seeded_from_the_query_string():
    at = _attention_page(text="the pizza and the soup")
    assert at.text_area(key=TEXT_KEY).value == "the pizza and the soup"
    _assert_prediction(at, "food")


def test_attention_page_unknown_model_in_url_falls_back_to_default():
    at = _attention_page(model="no-such-model", text=SPORTS)
    assert not at.exception
    assert any("no-such-model" in w.value.replace("\\", "") for w in at.sidebar.warning)  # md-escaped
    assert at.selectbox(key="attention:model").value == "default"
    _assert_prediction(at, "sports")
    assert at.query_params["model"] == ["default"]


def test_attention_page_random_example_button_fills_a_generated_sentence():
    at = _attention_page()
    (button,) = [b for b in at.button if b.label == "Generate a random example"]
    assert not button.disabled                                                   # the default is generated data
    button.click().run()
    text = at.text_area(key=TEXT_KEY).value
    assert text != attention.EXAMPLE
    words = text.split()
    vocab = set(attention.DISTRACTORS) | set(attention.NEGATIONS) | {c for cs in attention.CUES.values() for c in cs}
    assert 6 <= len(words) <= 16 and set(words) <= vocab, text
    assert any(w in cs for cs in attention.CUES.values() for w in words)
    assert not at.exception and not at.error
    assert len([h for h in _subheaders(at) if h.startswith("Predicted: ")]) == 1
    assert at.query_params["text"] == [text]


# ---------------------------------------------------------------------------------------------
# Dialogue acts (BiLSTM-CRF)
# ---------------------------------------------------------------------------------------------
DA_METRICS = json.loads((ROOT / "models" / "dialogue-acts" / "default" / "metrics.json").read_text())
DA_KEY = "dialogue-acts:text"
DA_TAG = "CRF (Viterbi) tag"
SHORT_DIALOGUE = "A: hello\nB: is it cold today\nA: yeah"


_dialogue_page = partial(open_page, "views/dialogue_acts.py")


def _selectbox(at, label):
    (box,) = [s for s in at.selectbox if s.label == label]
    return box


def _assert_tagged(at, n) -> list:
    """The page decoded a dialogue of `n` utterances: no error, its subheader, table and figures.
    Returns the CRF tags (table rows 1..n)."""
    assert not at.exception, [e.message for e in at.exception]
    assert not at.error, [e.value for e in at.error]
    heads = [h for h in _subheaders(at) if "utterances" in h]
    assert len(heads) == 1 and heads[0].startswith(f"{n} utterances · ") and "overrules" in heads[0], heads
    # lattice, transitions, marginals, pinned lattice (the model's loss curve is built when its details open)
    assert len(at.get("plotly_chart")) == 4
    table = at.dataframe[0].value
    assert len(table) == n and list(table.index) == list(range(1, n + 1))
    return table[DA_TAG].tolist()


def test_home_shows_the_dialogue_acts_card_with_default_metrics():
    at = AppTest.from_file("router.py", default_timeout=60).run()
    assert not at.exception, [e.message for e in at.exception]
    assert "Dialogue acts (BiLSTM-CRF)" in _subheaders(at)
    metrics = _card_metrics(at)["dialogue-acts"]
    assert metrics == {"held-out tag accuracy (CRF)": f"{DA_METRICS['val_accuracy']:.3g}",
                       "per-utterance argmax": f"{DA_METRICS['val_greedy_accuracy']:.3g}",
                       "training time (s)": f"{DA_METRICS['train_seconds']:.3g}"}
    assert float(metrics["held-out tag accuracy (CRF)"]) > float(metrics["per-utterance argmax"])
    links = [ln for ln in at.get("page_link") if ln.proto.page == "dialogue-acts"]
    assert len(links) == 1 and links[0].proto.label == "Open Dialogue acts (BiLSTM-CRF) →"


def test_dialogue_acts_page_default_model_and_example():
    at = _dialogue_page()
    tags = _assert_tagged(at, 12)
    assert at.text_area(key=DA_KEY).value == dialogue_acts.EXAMPLE
    assert at.selectbox(key="dialogue-acts:model").value == "default"
    assert at.query_params["text"] == [dialogue_acts.EXAMPLE]
    assert at.query_params["model"] == ["default"]
    table = at.dataframe[0].value
    assert table.loc[4, "utterance"] == table.loc[6, "utterance"] == "yeah"
    # the same word, two acts: after a yes/no question an answer, after a statement a backchannel
    assert (tags[3], tags[5]) == ("yes_answer", "backchannel")
    assert table["speaker"].tolist() == ["A", "B"] * 6
    assert not at.warning
    assert at.radio(key="dialogue-acts:color").value == "emission score"


def test_dialogue_acts_page_new_dialogue_updates_table_and_url():
    at = _dialogue_page()
    at.text_area(key=DA_KEY).input(SHORT_DIALOGUE).run()
    tags = _assert_tagged(at, 3)
    assert tags[-1] == "yes_answer"
    assert at.dataframe[0].value["utterance"].tolist() == ["hello", "is it cold today", "yeah"]
    assert at.query_params["text"] == [SHORT_DIALOGUE]


def test_dialogue_acts_page_is_seeded_from_the_query_string():
    at = _dialogue_page(text=SHORT_DIALOGUE)
    assert at.text_area(key=DA_KEY).value == SHORT_DIALOGUE
    assert _assert_tagged(at, 3)[-1] == "yes_answer"


@pytest.mark.parametrize("bad, words", [
    ("", ["empty"]),
    ("A: did you see the game", ["Only one utterance", "at least two"]),
    ("A: yeah\n" * 5000, ["5,000 utterances", "limit is 1,000"]),
    ("A: hi\nB: ?!? ...\nA: bye", ["Line 2", "no words"]),
    ("A: zzzq qqqz\nB: xylophonez", ["vocabulary"]),
], ids=["empty", "one-line", "5000-lines", "punctuation-line", "all-unknown"])
def test_dialogue_acts_page_bad_dialogue_shows_error_then_recovers(bad, words):
    at = _dialogue_page()
    at.text_area(key=DA_KEY).input(bad).run()
    _assert_error(at, *words)
    assert not [h for h in _subheaders(at) if "utterances" in h]
    assert not at.dataframe and not at.warning
    at.text_area(key=DA_KEY).input(SHORT_DIALOGUE).run()
    assert _assert_tagged(at, 3)[-1] == "yes_answer"


def test_dialogue_acts_page_warns_about_an_utterance_of_unknown_words():
    at = _dialogue_page()
    at.text_area(key=DA_KEY).input("A: hello\nB: zzzq qqqz\nA: is it cold today\nB: yeah").run()
    _assert_tagged(at, 4)
    assert len(at.warning) == 1, [w.value for w in at.warning]
    assert at.warning[0].value.startswith("No known words in utterance(s) 2:"), at.warning[0].value


def test_dialogue_acts_page_what_if_pin_costs_score_and_changes_tags():
    at = _dialogue_page()
    utterance = _selectbox(at, "Utterance")
    assert utterance.options[3] == "4. yeah"
    utterance.select_index(3).run()
    assert not at.exception, [e.message for e in at.exception]
    tag = _selectbox(at, "Tag")
    tag.select_index(tag.options.index("backchannel")).run()
    assert not at.exception and not at.error
    assert _selectbox(at, "Utterance").value == 3
    assert _selectbox(at, "Tag").options[_selectbox(at, "Tag").value] == "backchannel"
    (what_if,) = [m.value for m in at.markdown if m.value.startswith("Pinned path score")]
    m = re.match(r"Pinned path score \*\*(-?[\d.]+)\*\* vs best \*\*(-?[\d.]+)\*\*: the pin costs "
                 r"\*\*(-?[\d.]+)\*\*.*; tags that change: (.+)$", what_if)
    assert m, what_if
    pinned, best, cost = map(float, m.group(1, 2, 3))
    assert cost > 0 and abs(best - pinned - cost) < 0.02, what_if
    # tag names are user data (from a CSV): the page escapes them for markdown
    assert m.group(4) != "none" and r"4 (yes\_answer → backchannel)" in m.group(4), what_if
    assert len(at.get("plotly_chart")) == 4
    assert at.query_params["pin"] == ["4:backchannel"]            # the pin is in the URL


def test_dialogue_acts_page_restores_colour_and_pin_from_a_shared_url():
    at = open_page("views/dialogue_acts.py", colour="marginal", pin="4:backchannel")
    assert not at.exception and not at.error
    assert at.radio(key="dialogue-acts:color").value == "marginal probability"
    assert _selectbox(at, "Utterance").value == 3
    assert _selectbox(at, "Tag").options[_selectbox(at, "Tag").value] == "backchannel"
    assert at.query_params["colour"] == ["marginal"] and at.query_params["pin"] == ["4:backchannel"]
    # a pin that does not fit the dialogue falls back to the least certain utterance, without an error
    bad = open_page("views/dialogue_acts.py", pin="99:nope", colour="ultraviolet")
    assert not bad.exception and not bad.error
    assert bad.radio(key="dialogue-acts:color").value == "emission score"


def test_dialogue_acts_page_node_colour_switches_to_marginals():
    at = _dialogue_page()
    at.radio(key="dialogue-acts:color").set_value("marginal probability").run()
    assert at.radio(key="dialogue-acts:color").value == "marginal probability"
    tags = _assert_tagged(at, 12)
    assert (tags[3], tags[5]) == ("yes_answer", "backchannel")


def test_reruns_keep_the_keras_session(monkeypatch):
    """Streamlit calls keras.backend.clear_session() after every script run, which empties TensorFlow's
    kernel cache (each rerun then re-instantiates every traced model: ~0.35 s per model); seqviz.ui stops it."""
    import sys
    calls = []
    monkeypatch.setattr(sys.modules["keras"].backend, "clear_session", lambda *a, **k: calls.append(1))
    at = AppTest.from_file("views/attention.py", default_timeout=120).run()
    at.text_area(key="attention:text").input("the striker scored a goal").run()
    assert not at.exception and calls == []


def test_the_train_form_is_built_when_opened_and_keeps_what_was_typed_when_folded():
    at = AppTest.from_file("views/attention.py", default_timeout=120).run()
    assert not at.number_input                              # folded: no knobs built
    at.session_state["attention:train-open"] = True         # what opening it does (AppTest does not keep it)
    at.run()
    assert at.number_input(key="attention:knob:epochs").value == 6
    # knobs are labelled in words, not with the setting's name
    assert at.number_input(key="attention:knob:n_train").label == "training sentences"
    assert at.number_input(key="attention:knob:epochs").label == "epochs (passes over the data)"
    at.number_input(key="attention:knob:epochs").set_value(2)
    at.text_input(key="attention:name").input("mine")
    at.session_state["attention:train-open"] = True
    at.run()
    assert at.number_input(key="attention:knob:epochs").value == 2
    at.session_state["attention:train-open"] = False        # fold it, type an input, reopen it
    at.text_area(key="attention:text").input("the striker scored a goal").run()
    assert not at.number_input and "the striker" in at.text_area(key="attention:text").value
    at.session_state["attention:train-open"] = True
    at.run()
    assert at.number_input(key="attention:knob:epochs").value == 2
    assert at.text_input(key="attention:name").value == "mine" and not at.exception


def test_model_details_table_is_built_when_opened():
    at = AppTest.from_file("views/attention.py", default_timeout=120).run()
    charts = len(at.get("plotly_chart"))
    assert not [d for d in at.dataframe if "output shape" in d.value.columns]   # folded: not built
    at.session_state["details:attention:default"] = True                       # what opening it does
    at.run()
    (layers,) = [d.value for d in at.dataframe if "output shape" in d.value.columns]
    assert list(layers.columns) == ["layer", "type", "output shape", "parameters"]
    assert "Attention" in set(layers["type"]) and layers["parameters"].sum() > 0
    assert len(at.get("plotly_chart")) == charts + 1                          # + the training curve


def _labels_csv(n_rows: int, n_labels: int) -> bytes:
    return ("text,label\n" + "".join(f"words of row {i},label{i % n_labels}\n" for i in range(n_rows))).encode()


LM_MAXIMA = {"vocab_size": 100_000, "embed_dim": 1024, "units": 1024, "seq_len": 200, "batch_size": 1024,
             "num_sampled": 16_384}
REFUSALS = [  # (page, arch, knobs, name, upload, words of the one error)
    ("attention", "attention", {}, "default", None, ["belong to the shipped models"]),
    ("attention", "attention", {}, "default-mine", None, ["belong to the shipped models"]),
    ("lm", "lm", LM_MAXIMA, "", None, ["over the 4.0 GB budget", "batch_size × seq_len × num_sampled",
                                      "SEQVIZ_MEMORY_GB"]),
    ("seq2seq", "seq2seq", {"batch_size": 1024, "units": 512, "depth": 4, "max_len": 20}, "", None,
     ["over the 4.0 GB budget", "batch_size", "or less would fit"]),
    ("attention", "attention", {}, "", ("labels.csv", _labels_csv(50_000, 50_000)),
     ["50,000 distinct labels", "merge rare labels"]),
]


@pytest.mark.parametrize("page, arch, knobs, name, upload, words", REFUSALS,
                         ids=["shipped-name", "default-prefix", "lm-maxima", "seq2seq-maxima", "50k-labels"])
def test_the_train_form_refuses_bad_settings_and_keeps_the_page(page, arch, knobs, name, upload, words):
    """A shipped name, settings over the memory budget, a file with a label per row: one error, nothing
    submitted, the page still works."""
    at = AppTest.from_file(f"views/{page}.py", default_timeout=120).run()
    at.session_state[f"{arch}:train-open"] = True
    at.run()
    for k, v in knobs.items():
        at.number_input(key=f"{arch}:knob:{k}").set_value(v)
    at.text_input(key=f"{arch}:name").input(name)
    if upload:
        at.get("file_uploader")[0].set_value((*upload, "text/csv"))
    at.session_state[f"{arch}:train-open"] = True
    next(b for b in at.button if b.label == "Train").click()
    at.run()
    assert not at.exception and len(at.error) == 1, [e.value for e in at.error]
    for w in words:
        assert w in at.error[0].value.replace("\\", ""), at.error[0].value
    assert f"{arch}:job" not in at.session_state
    assert len(at.get("plotly_chart")) > 0                        # the page still draws its model


def test_the_quick_and_full_presets_set_the_knobs_and_the_estimate_follows():
    from seqviz import training
    at = AppTest.from_file("views/attention.py", default_timeout=120).run()
    at.session_state["attention:train-open"] = True
    at.run()

    def estimate():
        (c,) = [c.value for c in at.caption if c.value.startswith("Estimated training time: ~")]
        return c
    full = estimate()
    at.session_state["attention:train-open"] = True
    at.button(key="attention:preset-quick").click().run()
    assert at.number_input(key="attention:knob:n_train").value == attention.QUICK["n_train"]
    assert at.number_input(key="attention:knob:epochs").value == attention.QUICK["epochs"]
    quick = estimate()
    seconds = training.estimate_seconds("attention", {**attention.QUICK})
    assert seconds is not None and f"~{seconds:.0f} s" in quick and quick != full
    assert not at.exception and not at.warning          # presets set widgets without Streamlit's warning
    at.session_state["attention:train-open"] = True
    at.button(key="attention:preset-full").click().run()
    assert at.number_input(key="attention:knob:n_train").value == 3000 and estimate() == full


def test_the_estimate_scales_the_defaults_time_by_examples_times_epochs():
    from seqviz import store, training
    base = store.read_json("attention", "default")["train_seconds"]
    assert training.estimate_seconds("attention", {"n_train": 3000, "epochs": 6}) == pytest.approx(base)
    half = training.estimate_seconds("attention", {"n_train": 1500, "epochs": 6})
    assert half == pytest.approx(training.OVERHEAD_S + (base - training.OVERHEAD_S) / 2)


@pytest.mark.parametrize("page,guide", [("router.py", "home")] + [(a.page, a.id) for a in ARCHS.values()])
def test_every_page_shows_its_guide_when_asked(page, guide):
    """(The home page through the router: its page links need the app's navigation.)"""
    from seqviz import guides
    at = open_page(page)
    assert not at.exception
    (box,) = [e for e in at.expander if e.label.startswith("Guide:")]
    assert not any("What to look at" in m.value for m in at.markdown)      # folded: not even read
    at.session_state[f"guide:{guide}"] = True                               # what opening it does
    at.run()
    assert not at.exception
    assert any(m.value == guides.for_app(guide) for m in at.markdown)


@pytest.mark.parametrize("arch", list(ARCHS))
def test_every_try_this_button_opens_its_view_on_the_page(arch):
    """Each of the guide's "Try this" items is a button on the page: a click sets what its link would (the same
    URL state, seeded through the same checks), and the page draws it without an error."""
    from seqviz import guides
    items = guides.tries(arch)
    assert 3 <= len(items) <= 5
    at = open_page(ARCHS[arch].page)
    for i, item in enumerate(items):
        (button,) = [b for b in at.button if b.key == f"try:{arch}:{i}"]
        assert button.label == item.label and button.help == item.why
        button.click().run()
        assert not at.exception, (item.label, [e.message for e in at.exception])
        assert not at.error, (item.label, [e.value for e in at.error])
        for q, v in item.query.items():
            assert at.query_params[q] == [v], (item.label, q)
        if "text" in item.query and arch != "captioning":
            assert at.text_area(key=f"{arch}:text").value == item.query["text"]
    if arch == "seq2seq":     # the last item: Pig Latin, two modes side by side
        assert at.multiselect(key="seq2seq:modes").value == ["basic", "attention"]
        assert at.selectbox(key="seq2seq:task").value == "piglatin"
    if arch == "attention":
        at = open_page(ARCHS[arch].page)
        [b for b in at.button if b.key == "try:attention:1"][0].click().run()
        assert at.selectbox(key="attention:compare").value == "default-seed"
