"""seq2seq on the user's own pairs: the CSV's checks, tokens=char|word, training through the service, the
held-out metrics, predict (joined like the targets, unknown tokens marked, the gold of a held-out source),
the store round trip and the CLI.

The tests here train or load a model; those that need none are in tests/unit/test_seq2seq_pairs.py."""
import json

import numpy as np
import pytest

from seqviz import seq2seq, store, training
from seqviz.errors import SeqvizError
from tests.unit.test_seq2seq_pairs import LETTERS, shift, shift_csv


CHAR = {"tokens": "char", "units": 32, "embed_dim": 16, "epochs": 6, "max_len": 6}


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    """One char-level attention model of the shift task, trained through the training service into a temp store."""
    import os
    root = tmp_path_factory.mktemp("models")
    old = os.environ.get("SEQVIZ_MODELS")
    os.environ["SEQVIZ_MODELS"] = str(root)
    try:
        p = training.plan("seq2seq", CHAR, shift_csv(), "shift.csv", "shift")
        bundle = training.train(p)
        yield root, bundle
    finally:
        if old is None:
            del os.environ["SEQVIZ_MODELS"]
        else:
            os.environ["SEQVIZ_MODELS"] = old


# ---------------------------------------------------------------------------------------------
# A trained model of the user's pairs
# ---------------------------------------------------------------------------------------------
def test_it_learns_the_pairs_and_reports_held_out_metrics(trained):
    _, bundle = trained
    m = bundle.metrics
    assert bundle.params["task"] == seq2seq.FILE and bundle.data["filename"] == "shift.csv"
    assert m["n_train"] + m["n_val"] == 1500 and m["n_val"] == 225
    assert m["val_exact"] >= 0.95 and m["val_token_accuracy"] >= 0.95, m
    # vocabularies from the training rows: the source's letters, the target's capitals (+ specials)
    assert set(bundle.vocabs["source"].tokens[2:]) == set(LETTERS)
    assert set(bundle.vocabs["target"].tokens[4:]) == set(shift(LETTERS))
    # held-out examples kept for the page: never a training source
    assert len(m["examples"]) == seq2seq.MAX_EXAMPLES and all(t == shift(s) for s, t in m["examples"])


def test_a_batch_of_sources_decodes_greedily_as_predict_does_alone(trained):
    """predict_batch at beam 1 (the batch side by side): held-out sources find their gold (the exposure view),
    a typed source has none, an unknown letter is marked, an empty row is refused in its place."""
    from tests.model.test_replay import _close
    _, bundle = trained
    texts = [s for s, _ in bundle.metrics["examples"][:5]] + ["abz", "", "ab"]
    got = seq2seq.predict_batch(bundle, texts, beam=1)
    assert isinstance(got[6], SeqvizError) and "empty" in str(got[6])
    for i, text in enumerate(texts):
        if i != 6:
            assert _close(json.loads(json.dumps(got[i])), json.loads(json.dumps(seq2seq.predict(bundle, text,
                                                                                                  beam=1)))), text
    assert got[0]["gold"] is not None and got[0]["teacher_forced"] is not None
    assert got[5]["unknown"] == [False, False, True] and got[5]["gold"] is None and got[5]["teacher_forced"] is None


def test_predict_writes_like_the_targets_and_marks_unknown_tokens(trained):
    _, bundle = trained
    source, gold = bundle.metrics["examples"][0]
    r = seq2seq.predict(bundle, source)
    assert r["text"] == "".join(r["output"]) and r["gold"] == list(gold)     # a held-out source finds its gold
    assert r["correct"] == (r["text"] == gold) and r["teacher_forced"] is not None
    assert r["unknown"] == [False] * len(source)
    typed = seq2seq.predict(bundle, "abz")                                     # z never seen: <unk>, marked
    assert typed["unknown"] == [False, False, True] and typed["gold"] is None and typed["correct"] is None
    assert typed["teacher_forced"] is None and typed["text"].startswith("BC")
    told = seq2seq.predict(bundle, "abz", expected="BC?")
    assert told["gold"] == ["B", "C", "?"] and told["correct"] is False and told["free_running"] is not None
    pinned = seq2seq.predict(bundle, "abc", prefix="BD")                     # a char model pins characters
    assert pinned["output"][:2] == ["B", "D"]
    with pytest.raises(SeqvizError, match="at most 6"):
        seq2seq.predict(bundle, "abcdefgh")
    with pytest.raises(SeqvizError, match="empty"):
        seq2seq.predict(bundle, "   ")


def test_the_stored_model_reloads_to_the_same_decodes(trained):
    _, bundle = trained
    again = store.load("seq2seq", "shift")
    assert again.params == bundle.params
    for source, _ in bundle.metrics["examples"][:5]:
        a, b = seq2seq.predict(bundle, source), seq2seq.predict(again, source)
        assert a["output"] == b["output"] and np.allclose(a["attention"], b["attention"], atol=1e-6)


def test_word_tokens_train_and_join_with_spaces(tmp_store):
    rng = np.random.default_rng(1)
    words = "le chat chien noir blanc petit grand mange dort".split()
    rows = {" ".join(rng.choice(words, rng.integers(1, 4))) for _ in range(400)}
    csv = "source,target\n" + "".join(f"{r},{' '.join(reversed(r.split()))}\n" for r in sorted(rows))
    p = training.plan("seq2seq", {"tokens": "word", "units": 16, "embed_dim": 8, "epochs": 1, "max_len": 3},
                      csv.encode(), "words.csv", "words")
    bundle = training.train(p)
    assert set(bundle.vocabs["source"].tokens[2:]) == set(words)
    r = seq2seq.predict(bundle, "le chat noir")
    assert r["source"] == ["le", "chat", "noir"] and r["text"] == " ".join(r["output"])


def test_cli_trains_on_a_file_and_predicts_joined_like_the_targets(trained, tmp_path):
    from seqviz import cli
    root, _ = trained
    data = tmp_path / "shift.csv"
    data.write_bytes(shift_csv(300))
    import contextlib
    import io
    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        assert cli.main(["train", "seq2seq", "--data", str(data), "--set", "tokens=char", "--set", "epochs=1",
                         "--set", "units=8", "--set", "embed_dim=4", "--set", "max_len=6", "--name", "cli"]) == 0
        assert cli.main(["predict", "seq2seq", "--model", "shift", "--text", "abc", "--set", "expected=BCD"]) == 0
    trained_line, predicted_line = out.getvalue().strip().splitlines()[-2:]
    assert json.loads(trained_line)["params"]["task"] == "file"
    r = json.loads(predicted_line)
    assert r["text"] == "".join(r["output"]) and r["gold"] == list("BCD")
    err = io.StringIO()
    with contextlib.redirect_stderr(err):
        bad = tmp_path / "bad.csv"
        bad.write_text("source,target\n" + "ab,BC\n" * 20 + "abcdefgh,X\n")
        assert cli.main(["train", "seq2seq", "--data", str(bad), "--set", "tokens=char", "--set", "max_len=6",
                         "--name", "bad"]) == 2
    assert "bad.csv: data row 21's source has 8 characters" in err.getvalue()
    assert not (root / "seq2seq" / "bad").exists()


def test_the_export_reads_and_writes_like_predict(trained, tmp_path):
    from tests.model.test_export import close, run_export
    _, bundle = trained
    texts = [bundle.metrics["examples"][0][0], "abz", " hgf ", "a c"]     # unknown 'z' and ' ', case kept
    got = run_export(tmp_path, "seq2seq", "shift", [{"text": t} for t in texts])
    for text, g in zip(texts, got):
        want = seq2seq.predict(bundle, text, beam=1, exposure=False)
        assert g["source"] == want["source"] and g["unknown"] == want["unknown"]
        assert g["tokens"] == want["output"] and g["output"] == want["text"]
        assert close(g["alignment"], want["attention"])
