"""AppTests of the pages' "Held-out set" section (seqviz.ui.heldout over seqviz.evaluate): the metrics, the
confusion grid and per-class table, the slices, the examples filtered and paged, a row opening its example in
the page's view, and the map."""
from tests.app.helpers import open_page


def _open(page: str, key: str, model: str = "default"):
    at = open_page(page, model=model)
    at.session_state[f"{key}:heldout-open"] = True
    return at.run()


def test_attention_held_out_set_lists_filters_and_opens_its_examples():
    at = _open("views/attention.py", "attention", model="default-seed")
    assert not at.exception, [e.message for e in at.exception]
    assert any(m.value.startswith("**529 held-out sentences**: accuracy 0.996") for m in at.markdown)
    per_class = next(d.value for d in at.dataframe if "precision" in d.value.columns)
    assert list(per_class["class"]) == ["food", "music", "sports", "tech", "weather"]
    assert per_class["support"].sum() == 529
    examples = next(d.value for d in at.dataframe if "sentence" in d.value.columns)
    assert len(examples) == 200 and {"gold", "predicted", "confidence", "length", "negation"} <= set(examples.columns)
    at.session_state["attention:heldout-open"] = True
    at.toggle(key="attention:heldout-errors").set_value(True).run()
    errors = next(d.value for d in at.dataframe if "sentence" in d.value.columns)
    assert len(errors) == 2 and (errors["right"] == "✗").all()
    assert (errors["gold"] != errors["predicted"]).all()
    # the gold / predicted pickers, as a click on a confusion cell sets them
    at.session_state["attention:heldout-open"] = True
    at.session_state["attention:heldout-errors"] = False
    at.session_state["attention:heldout-gold"] = "food"
    at.session_state["attention:heldout-pred"] = "food"
    at.run()
    food = next(d.value for d in at.dataframe if "sentence" in d.value.columns)
    assert len(food) == per_class.set_index("class").loc["food", "support"] - sum(errors["gold"] == "food")
    assert not at.exception


def test_a_compared_model_scores_the_same_sentences_and_the_table_shows_where_they_differ():
    at = open_page("views/attention.py", model="default-seed", compare="default")
    at.session_state["attention:heldout-open"] = True
    at.run()
    assert not at.exception, [e.message for e in at.exception]
    assert any(m.value == "**Compared with default** on these 529 sentences: accuracy 1.000; 0 right here and wrong "
               "there, 2 the other way, 0 wrong in both." for m in at.markdown)
    at.session_state["attention:heldout-open"] = True
    at.radio(key="attention:heldout-versus").set_value("wrong here, right in default").run()
    rows = next(d.value for d in at.dataframe if "sentence" in d.value.columns)
    assert len(rows) == 2 and (rows["default predicted"] == rows["gold"]).all() and (rows["right"] == "✗").all()


def test_the_map_projects_every_held_out_sentence():
    at = _open("views/attention.py", "attention")
    at.session_state["attention:heldout-open"] = True
    at.radio(key="attention:heldout-map").set_value("pca").run()
    assert not at.exception, [e.message for e in at.exception]
    assert any(c.value.startswith("all 529;") for c in at.caption)
    chart = next(c for c in at.get("plotly_chart") if "as the model represents it (PCA)" in c.proto.spec)
    assert chart is not None


def test_dialogue_acts_held_out_set_puts_the_argmax_beside_the_crf():
    at = _open("views/dialogue_acts.py", "dialogue-acts")
    assert not at.exception, [e.message for e in at.exception]
    assert any(m.value == "**1,084 held-out utterances**: accuracy 1.000, macro F1 1.000; per-utterance argmax: "
               "0.845" for m in at.markdown)
    examples = next(d.value for d in at.dataframe if "utterance" in d.value.columns and "gold" in d.value.columns)
    assert list(examples.columns[:4]) == ["#", "dialogue", "turn", "utterance"]
    assert {"per-utterance argmax", "position in the dialogue", "speaker", "reply"} <= set(examples.columns)
    assert list(examples["utterance"][:2]) == ["A: hey there", "B: did you see the concert"]
    charts = [c.proto.spec for c in at.get("plotly_chart")]
    assert any("Accuracy by reply" in s and "per-utterance argmax" in s for s in charts)


def test_seq2seq_held_out_set_in_a_decoders_tab_shows_where_it_fails_by_length():
    at = open_page("views/seq2seq.py", inspect="basic")
    at.session_state["seq2seq:basic:heldout-open"] = True
    at.run()
    assert not at.exception, [e.message for e in at.exception]
    assert any(m.value == "**300 held-out pairs**: exact match 0.657, token accuracy 0.914" for m in at.markdown)
    charts = [c.proto.spec for c in at.get("plotly_chart")]
    assert any("Exact match by input length" in s and "token accuracy" in s for s in charts)
    examples = next(d.value for d in at.dataframe if "pair" in d.value.columns)
    assert {"gold", "predicted", "token accuracy", "input length"} <= set(examples.columns)


def test_captioning_held_out_set_scores_both_heads_of_every_scene():
    at = _open("views/captioning.py", "captioning")
    assert not at.exception, [e.message for e in at.exception]
    assert any(m.value == "**324 held-out captions**: exact match 0.963, BLEU-1 0.993" for m in at.markdown)
    charts = [c.proto.spec for c in at.get("plotly_chart")]
    assert any("Exact match by head" in s for s in charts)
    examples = next(d.value for d in at.dataframe if "scene" in d.value.columns)
    assert {"gold", "predicted", "BLEU-1", "head"} <= set(examples.columns)


def test_lm_held_out_text_lists_the_most_surprising_words_first():
    at = open_page("views/lm.py")
    at.session_state["lm:heldout-open"] = True
    at.run()
    assert not at.exception, [e.message for e in at.exception]
    assert any(m.value.startswith("**8,000 held-out words**: next-word accuracy 0.170, surprisal (bits) 7.577, "
                                  "perplexity 190.9") for m in at.markdown)
    at.session_state["lm:heldout-open"] = True
    at.selectbox(key="lm:heldout-order").set_value("surprisal (bits): worst first").run()
    words = next(d.value for d in at.dataframe if "context" in d.value.columns)
    assert list(words["surprisal (bits)"]) == sorted(words["surprisal (bits)"], reverse=True)
    assert words["surprisal (bits)"].iloc[0] > 15


def test_a_labelled_file_is_scored_in_the_section_and_a_bad_one_refused_in_one_sentence():
    from seqviz import attention
    at = _open("views/attention.py", "attention")
    at.session_state["attention:heldout-open"] = True
    at.radio(key="attention:heldout-source").set_value("file").run()
    assert not at.exception and any("Upload the file to score the model" in i.value for i in at.info)
    toy = attention.make_toy(40, seed=11)
    rows = [f"{t},{label}" for t, label in zip(toy.texts, toy.labels)] + ["the pasta,cooking"]
    from seqviz.evaluate import file_report
    from seqviz import store
    r = file_report(store.load("attention", "default"), ("text,label\n" + "\n".join(rows)).encode(), "mine.csv")
    assert r["overall"]["n"] == 40 and r["notes"][0].startswith("1 row(s) have labels the model has never seen")
