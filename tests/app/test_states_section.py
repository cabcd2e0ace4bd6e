"""AppTests of the pages' "Inside the LSTM" section (seqviz.ui.states over seqviz.states): a layer's states as a
step x unit heatmap, another quantity and direction, and LSTMVis' span selection naming the units on over it."""
from tests.app.helpers import open_page


def _open(page: str, key: str, **query):
    at = open_page(page, **query)
    at.session_state[f"{key}:states-open"] = True
    return at.run()


def test_attention_bilstm_states_and_a_span():
    at = _open("views/attention.py", "attention", text="no pizza but the concert was great")
    assert not at.exception, [e.message for e in at.exception]
    assert at.selectbox(key="attention:states-layer").options == ["bilstm"]
    spec = next(c.proto.spec for c in at.get("plotly_chart") if "bilstm, forward: hidden state h" in c.proto.spec)
    assert '"ticktext":["no","pizza","but","the","concert","was","great"]' in spec.replace(" ", "")
    at.session_state["attention:states-open"] = True
    at.session_state["attention:states-span:bilstm"] = (4, 4)                 # "concert"
    at.radio(key="attention:states-direction").set_value("backward").run()
    assert not at.exception
    assert any("units are above" in c.value and "backward direction" in c.value for c in at.caption)
    at.session_state["attention:states-open"] = True
    at.selectbox(key="attention:states-show").set_value("forget").run()
    assert not at.exception and any("forget gate" in c.proto.spec for c in at.get("plotly_chart"))


def test_every_other_page_names_its_layers():
    cases = [("views/dialogue_acts.py", "dialogue-acts", {}, "context"),
             ("views/lm.py", "lm", {}, "lstm"),
             ("views/captioning.py", "captioning", {"source": "sample", "scene": "1"}, "lstm_2")]
    for page, key, query, name in cases:
        at = _open(page, key, **query)
        assert not at.exception, (page, [e.message for e in at.exception])
        assert name in at.selectbox(key=f"{key}:states-layer").options
    at = open_page("views/seq2seq.py", inspect="attention", text="3 1 4 1 5")
    at.session_state["seq2seq:attention:states-open"] = True
    at.run()
    assert not at.exception, [e.message for e in at.exception]
    assert at.selectbox(key="seq2seq:attention:states-layer").options[:2] == ["encoder_lstm_0", "decoder_lstm_0"]


def _matched(at, key: str, settings: dict) -> list[str]:
    """The section's `settings` (state keys after "{key}:states-") with the match search on: the matched spans."""
    for k, v in {**settings, "matches": True, "open": True}.items():
        at.session_state[f"{key}:states-{k}"] = v
    at.run()
    assert not at.exception, [e.message for e in at.exception]
    (table,) = [d for d in at.dataframe if "the units on over ⟦…⟧" in d.value.columns]
    return [cell[cell.index("⟦") + 1:cell.index("⟧")] for cell in table.value["the units on over ⟦…⟧"]]


def test_units_on_at_pizza_find_food_words_in_the_held_out_set():
    at = _open("views/attention.py", "attention", text="yesterday my sister said no pizza but the concert was great")
    spans = _matched(at, "attention", {"span:bilstm": (5, 5), "direction": "backward", "threshold:h": 0.5})
    from seqviz.attention import CUES
    assert sum(s in CUES["food"] for s in spans) >= 0.8 * len(spans), spans
    assert any("held-out inputs' sequences where all" in c.value for c in at.caption)


def test_dialogue_matches_find_the_greeting_in_other_dialogues():
    """The backward word units on at "hi" (the example's first word) find "hi" opening other held-out
    dialogues, each named by its utterance."""
    at = _open("views/dialogue_acts.py", "dialogue-acts")
    for k, v in {"dialogue-acts:states-layer": "word_bilstm (utterance 1)",
                 "dialogue-acts:states-direction": "backward", "dialogue-acts:states-threshold:h": 0.5,
                 "dialogue-acts:states-matches": True}.items():
        at.session_state[k] = v
    at.session_state["dialogue-acts:states-open"] = True
    at.run()
    assert not at.exception, [e.message for e in at.exception]
    (table,) = [d for d in at.dataframe if "where" in d.value.columns]
    assert len(table.value) > 5 and all(w.startswith("utterance ") for w in table.value["where"])
    assert all("⟦hi⟧" in cell for cell in table.value["the units on over ⟦…⟧"])


def test_the_unit_that_matters_most_is_starred_and_units_order_by_it():
    at = open_page("views/seq2seq.py", inspect="basic", text="3 1 4 1 5")
    at.session_state["seq2seq:basic:states-open"] = True
    at.run()
    assert not at.exception, [e.message for e in at.exception]
    (note,) = [c.value for c in at.caption if c.value.startswith("★ unit")]
    star = int(note.split()[2])
    assert "lowers log P(greedy decode) by" in note and "where the decoder starts" not in note      # basic mode
    at.session_state["seq2seq:basic:states-open"] = True
    at.radio(key="seq2seq:basic:states-order").set_value("output").run()
    assert not at.exception
    spec = next(c.proto.spec for c in at.get("plotly_chart") if "matter most to the output" in c.proto.spec)
    assert f'"unit {star} \\u2605"' in spec or f'"unit {star} ★"' in spec
    at.session_state["seq2seq:basic:states-open"] = True
    at.selectbox(key="seq2seq:basic:states-layer").set_value("decoder_lstm_0").run()    # no direct link: no order
    assert not at.exception and not any(c.value.startswith("★") for c in at.caption)
    assert any("is measured on one layer of this model: encoder_lstm_0." in c.value for c in at.caption)


def test_the_language_models_units_on_at_return_find_return_in_its_held_out_text():
    at = _open("views/lm.py", "lm")
    assert at.selectbox(key="lm:states-layer").value == "lstm"
    spans = _matched(at, "lm", {"span:lstm": (0, 0), "threshold:h": 0.3})
    assert sum(s.startswith("return") for s in spans) >= 0.7 * len(spans), spans
