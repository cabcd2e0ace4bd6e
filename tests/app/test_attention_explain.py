"""AppTest of the attention page's "Why this label?" section: the explanations beside the attention for the text
in the box and a chosen class, and the held-out test of whether attention explains, for the model and the one
compared with it (the shipped `default` and `default-seed`)."""
from seqviz import explain
from tests.app.helpers import open_page


def _open(at):
    at.session_state["attention:why-open"] = True     # what opening the expander does (AppTest does not keep it)
    return at.run()


def test_the_explanations_sit_beside_the_attention_and_follow_the_chosen_class():
    at = open_page("views/attention.py", text="no pizza but the concert")
    assert not at.exception
    assert "attention:why-target" not in [w.key for w in at.selectbox]        # folded: nothing computed
    _open(at)
    assert not at.exception, [e.message for e in at.exception]
    assert at.selectbox(key="attention:why-target").value is None            # the predicted class
    table = at.dataframe[0].value
    assert list(table["method"]) == [*explain.METHODS.values(), "attention"]
    assert table["its top word"].iloc[-1] == "concert" and table["share on the cue words"].iloc[-1] > 0.9
    assert table["its top word"].iloc[3] in ("no", "concert")               # leave-one-out: the negation matters
    at.selectbox(key="attention:why-target").set_value("food")
    _open(at)
    table = at.dataframe[0].value
    assert not at.exception and table["its top word"].iloc[2] == "pizza"     # integrated gradients, for P(food)


def test_is_attention_an_explanation_compares_the_two_shipped_models():
    at = open_page("views/attention.py", compare="default-seed")
    at.session_state["attention:why-heldout"] = True
    _open(at)
    assert not at.exception and not at.error, [e.value for e in at.error]
    held = at.dataframe[1].value
    assert list(held["model"]) == ["default", "default-seed"]
    default, seed = held.iloc[0], held.iloc[1]
    assert default["attention on the cue words"] > 0.9 > 0.4 > seed["attention on the cue words"]
    assert default["with uniform weights"] < default["accuracy"] and seed["with uniform weights"] >= 0.95
    said = " ".join(m.value for m in at.markdown)
    assert "**default**: shuffling or flattening its weights changes what it says" in said
    assert "**default\\-seed**: its output barely changes" in said
