"""AppTests of the "Why?" sections beyond the attention page's: the language model's (which prompt words drive
the next word) and seq2seq's gradient alignment in a decoder's tab (beside the attention's, or alone)."""
from seqviz import explain
from tests.app.helpers import open_page


def test_lm_why_explains_the_likeliest_next_word_or_a_chosen_one():
    at = open_page("views/lm.py", text="the value of the list is")
    assert not at.exception and "lm:why-target" not in [w.key for w in at.selectbox]     # folded: nothing run
    at.session_state["lm:why-open"] = True
    at.run()
    assert not at.exception, [e.message for e in at.exception]
    picker = at.selectbox(key="lm:why-target")
    assert picker.value is None and picker.options[0].endswith("(the model's answer)")
    table = at.dataframe[0].value
    assert list(table["method"]) == list(explain.METHODS.values())
    assert set(table["its top word"]) <= {"the", "value", "of", "list", "is"}
    picker.set_value(picker.options[2])
    at.session_state["lm:why-open"] = True
    at.run()
    assert not at.exception and len(at.dataframe[0].value) == 4
    at.session_state["lm:why-open"] = True
    at.toggle(key="lm:why-heldout").set_value(True).run()          # every two methods over the held-out prompts
    assert not at.exception, [e.message for e in at.exception]
    held = at.dataframe[1].value
    assert len(held) == 6 and list(held["median τ"]) == sorted(held["median τ"], reverse=True)
    assert any(c.value.startswith("200 held-out inputs") for c in at.caption)


def test_seq2seq_tab_shows_the_gradient_alignment_beside_the_attention_and_alone_without_it():
    at = open_page("views/seq2seq.py", inspect="attention", text="3 1 4 1 5 9")
    at.session_state["seq2seq:grad-open:attention"] = True
    at.run()
    assert not at.exception, [e.message for e in at.exception]
    agree = next(d.value for d in at.dataframe if "τ with the attention" in d.value.columns)
    assert list(agree["step"]) == ["1. three", "2. one", "3. four", "4. one", "5. five", "6. nine", "7. </s>"]
    assert (agree["same top input token"] == "✓").sum() >= 5
    assert any("median" in c.value and "τ" in c.value for c in at.caption)
    at.radio(key="seq2seq:grad-method:attention").set_value("occlusion")
    at.session_state["seq2seq:grad-open:attention"] = True
    at.run()
    assert not at.exception
    at.session_state["seq2seq:inspect"] = "basic"                       # what clicking the basic tab does
    at.session_state["seq2seq:grad-open:basic"] = True
    at.run()
    assert not at.exception
    assert any("the only alignment there is" in c.value for c in at.caption)


def test_dialogue_acts_why_shows_the_words_and_the_neighbours_behind_a_tag():
    at = open_page("views/dialogue_acts.py")
    at.session_state["dialogue-acts:why-open"] = True
    at.run()
    assert not at.exception, [e.message for e in at.exception]
    picker = at.selectbox(key="dialogue-acts:why-target")
    assert picker.options[0].endswith("(the model's answer)") and picker.options[6] == "utterance 6: yeah → backchannel"
    picker.set_value("6")
    at.session_state["dialogue-acts:why-open"] = True
    at.run()
    assert not at.exception
    table = next(d.value for d in at.dataframe if "method" in d.value.columns)
    assert list(table["its top word"]) == ["yeah"] * 4               # one word: every method names it
    assert any("P(utterance 6 = backchannel)" in c.value for c in at.caption)
    assert any(c.proto.spec and "utterance 6" in c.proto.spec for c in at.get("plotly_chart"))


def test_captioning_why_explains_a_word_of_either_heads_caption():
    at = open_page("views/captioning.py", source="sample", scene="1")
    at.session_state["captioning:why-open"] = True
    at.run()
    assert not at.exception, [e.message for e in at.exception]
    picker = at.selectbox(key="captioning:why-target")
    assert picker.options[0] == "caption 1, word 1: there (the model's answer)"
    assert "caption 2, word 3: rouges" in picker.options and picker.options[-1] == "caption 2, word 6: </s>"
    picker.set_value("2:3")
    at.session_state["captioning:why-open"] = True
    at.run()
    assert not at.exception
    table = next(d.value for d in at.dataframe if "method" in d.value.columns)
    assert list(table["method"]) == list(explain.METHODS.values())
    assert set(table["its top input"]) <= {"image → branch 1", "image → branch 2", "2: <s>", "2: deux",
                                           "2: cercles", "1: <s>", "1: there", "1: are"}
    assert any("P(caption 2 word 3 = rouges)" in c.value for c in at.caption)
    assert any("Occluding the image zeroes it" in c.value for c in at.caption)
