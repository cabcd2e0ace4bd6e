"""The language model's held-out text, word by word (seqviz.evaluate through lm's heldout_data and
score_examples): the stored perplexity reproduced from per-word probabilities, rare words the most surprising, a
row's context opening on the page with the same next-word probability, and a model of your text keeping its
held-out documents."""
import numpy as np
import pytest

from seqviz import evaluate, lm, store, training


def test_the_stored_perplexity_is_reproduced_word_by_word():
    b = store.load("lm", "default")
    scored = evaluate.score(b)
    r = evaluate.report(scored)
    assert r["overall"]["n"] == b.metrics["n_val_tokens"]
    assert r["overall"]["perplexity"] == pytest.approx(b.metrics["val_perplexity"], rel=1e-4)
    assert r["overall"]["perplexity"] == pytest.approx(2 ** r["overall"]["surprisal (bits)"], rel=1e-6)
    word = {x["value"]: x for x in r["slices"]["word"]}
    assert [x["value"] for x in r["slices"]["word"]][:3] == ["the 100 most frequent", "the next 900", "rarer"]
    assert word["the 100 most frequent"]["surprisal (bits)"] < word["the next 900"]["surprisal (bits)"] \
        < word["rarer"]["surprisal (bits)"]
    assert scored.vectors.shape == (b.metrics["n_val_tokens"], b.params["units"])
    # a row whose window had read only its own document's words: the page's prompt gives the same probability
    row = next(x for x in r["examples"][40:] if len(evaluate.input_of(r, x).split()) >= 4 and "<unk>" not in
               evaluate.input_of(r, x) and x["gold"] not in lm.SPECIALS)
    again = lm.predict(b, evaluate.input_of(r, row), n_words=1, n_next=len(b.vocabs["words"]))
    assert again["next_word"][row["gold"]] == pytest.approx(row["P(word)"], abs=1e-4)


def test_a_model_of_your_text_keeps_its_held_out_documents(tmp_store):
    text = "\n\n".join(" ".join(f"w{(i * 7 + j) % 50}" for j in range(30)) for i in range(40))
    training.train(training.plan("lm", {"epochs": 1, "units": 16, "vocab_size": 60, "num_sampled": 20,
                                        "seq_len": 10}, text.encode(), "mine.txt", "mine"))
    b = store.load("lm", "mine")
    data = lm.heldout_data(b)
    assert len(data.docs) >= 1 and all(len(d) == 30 for d in data.docs)
    r = evaluate.run(b)
    assert r["overall"]["perplexity"] == pytest.approx(b.metrics["val_perplexity"], rel=1e-3)
    assert np.isfinite(r["overall"]["surprisal (bits)"])
