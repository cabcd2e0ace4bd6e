"""AppTest: every page loads with the committed default model, takes an input and shows its figures.

These read the repo's models/ store (the committed defaults) and never write to it.
"""
import json
from pathlib import Path

import pytest
from streamlit.testing.v1 import AppTest

from seqviz import attention
from seqviz.archs import ARCHS

ROOT = Path(__file__).resolve().parents[2]
DEFAULT_METRICS = json.loads((ROOT / "models" / "attention" / "default" / "metrics.json").read_text())
TEXT_KEY = "attention:text"
SPORTS = "the striker scored a goal for the team"


def _store_snapshot():
    return sorted((str(p.relative_to(ROOT)), p.stat().st_mtime_ns) for p in (ROOT / "models").rglob("*"))


@pytest.fixture(autouse=True)
def repo_root(monkeypatch):
    """Pages resolve paths from the working directory; read the committed store and leave it untouched."""
    monkeypatch.chdir(ROOT)
    monkeypatch.delenv("SEQVIZ_MODELS", raising=False)
    before = _store_snapshot()
    yield ROOT
    assert _store_snapshot() == before, "a page test wrote into the repo's models/ store"


def _attention_page(**query) -> AppTest:
    at = AppTest.from_file("views/attention.py", default_timeout=120)
    for k, v in query.items():
        at.query_params[k] = v
    return at.run()


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


def test_home_shows_a_card_per_architecture_with_default_metrics():
    # The home page uses st.page_link, which needs the router's st.navigation: run it through app.py
    # (home is the default page). views/home.py run alone raises KeyError 'url_pathname' in AppTest.
    at = AppTest.from_file("app.py", default_timeout=60).run()
    assert not at.exception, [e.message for e in at.exception]
    assert at.title[0].value.startswith("seqviz")
    assert [s.value for s in at.subheader] == [a.title for a in ARCHS.values()]
    assert not at.warning  # the default model is in the store
    metrics = {m.label: m.value for m in at.metric}
    assert set(metrics) == set(ARCHS["attention"].headline.values())
    assert metrics["held-out accuracy"] == f"{DEFAULT_METRICS['val_accuracy']:.3g}"
    assert float(metrics["held-out accuracy"]) > 0.95
    assert metrics["attention mass on cue words"] == f"{DEFAULT_METRICS['val_cue_attention']:.3g}"
    assert metrics["training time (s)"] == f"{DEFAULT_METRICS['train_seconds']:.3g}"
    links = at.get("page_link")
    assert len(links) == 1
    assert links[0].proto.label == "Open Attention classifier →"
    assert links[0].proto.page == "attention"


def test_home_links_through_to_the_attention_page():
    at = AppTest.from_file("app.py", default_timeout=120).run()
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
    assert any("no-such-model" in w.value for w in at.sidebar.warning)
    assert at.selectbox(key="attention:model").value == "default"
    _assert_prediction(at, "sports")
    assert at.query_params["model"] == ["default"]


def test_attention_page_random_example_button_fills_a_generated_sentence():
    at = _attention_page()
    button = at.button[0]
    assert button.label == "Generate a random example" and not button.disabled  # the default is generated data
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
