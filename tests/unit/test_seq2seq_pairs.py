"""seq2seq on the user's own pairs: the CSV's checks, tokens=char|word, training through the service, the
held-out metrics, predict (joined like the targets, unknown tokens marked, the gold of a held-out source),
the store round trip and the CLI.

The tests here need no model; those that train or load one are in tests/model/test_seq2seq_pairs.py."""

import numpy as np
import pytest

from seqviz import seq2seq, training
from seqviz.errors import SeqvizError
from seqviz.params import resolve


LETTERS = "abcdefgh"


def shift(word: str) -> str:
    """The toy task: each letter moved one on and upper-cased ("abc" -> "BCD")."""
    return "".join(chr(ord(c) + 1) for c in word).upper()


def shift_csv(n: int = 1500, bom: bool = False, crlf: bool = False) -> bytes:
    rng = np.random.default_rng(0)
    words: set = set()
    while len(words) < n:
        words.add("".join(rng.choice(list(LETTERS), rng.integers(2, 6))))
    nl = "\r\n" if crlf else "\n"
    text = nl.join(["source,target"] + [f"{w},{shift(w)}" for w in sorted(words)]) + nl
    return ("\ufeff" if bom else "").encode() + text.encode()


# ---------------------------------------------------------------------------------------------
# The file's checks
# ---------------------------------------------------------------------------------------------
def test_bom_and_crlf_are_read_like_plain_csv():
    plain = seq2seq.read_upload(shift_csv(100), "a.csv")
    odd = seq2seq.read_upload(shift_csv(100, bom=True, crlf=True), "a.csv")
    assert odd.sources == plain.sources and odd.targets == plain.targets
    assert plain.sources[0] == "aa" and plain.targets[0] == "BB"


@pytest.mark.parametrize("csv, words", [
    (b"src,tgt\n1,2\n", ["pairs.csv", "source, target", "missing source, target"]),
    (b"source,target\n" + b"1+1,2\n" * 5 + b"2+2,\n" + b"1+1,2\n" * 20, ["pairs.csv", "data row 6", "empty target"]),
    (b"source,target\n,2\n" + b"1+1,2\n" * 20, ["data row 1", "empty source"]),
    (b"source,target\n" + b"1+1,2\n" * 5, ["5 pairs", "at least 20"]),
    (b"source,target\n", ["no data rows"]),
])
def test_a_bad_file_gets_one_sentence(csv, words):
    with pytest.raises(SeqvizError) as e:
        seq2seq.read_upload(csv, "pairs.csv")
    for w in words:
        assert w in str(e.value), str(e.value)


def test_rows_longer_than_the_limit_are_named_with_the_fix():
    data = seq2seq.read_upload(b"source,target\n" + b"1+1,2\n" * 20 + b"123+456789,456912\n", "add.csv")
    params = resolve(seq2seq.PARAMS, {"tokens": "char", "max_len": 8})
    with pytest.raises(SeqvizError) as e:
        seq2seq.check_params(params, data)
    assert all(w in str(e.value) for w in ["add.csv", "data row 21", "source has 10 characters",
                                           "raise max_len to 10"]), str(e.value)
    ok = seq2seq.check_params({**params, "max_len": 10}, data)
    assert ok["task"] == seq2seq.FILE and params["task"] == "digits"      # the data decides the task


def test_a_target_of_one_token_and_task_file_without_a_file_are_refused():
    data = seq2seq.read_upload(b"source,target\n" + b"a b,x\n" * 20, "one.csv")
    with pytest.raises(SeqvizError, match="one token"):
        seq2seq.check_params(resolve(seq2seq.PARAMS, {"tokens": "word"}), data)
    with pytest.raises(SeqvizError, match="--data pairs.csv"):
        training.plan("seq2seq", {"task": "file"})


def test_word_and_char_tokens():
    assert seq2seq.split_tokens("12 + 3", "char") == ["1", "2", " ", "+", " ", "3"]       # spaces are tokens
    assert seq2seq.split_tokens(" le  chat noir ", "word") == ["le", "chat", "noir"]
    assert seq2seq.joiner({"task": "file", "tokens": "char"}) == ""
    assert seq2seq.joiner({"task": "file", "tokens": "word"}) == " "


def test_a_char_level_file_read_as_words_is_questioned_before_training():
    from seqviz import seq2seq, training
    rows = "source,target\n" + "".join(f"{a}+{b},{a + b}\n" for a in range(10, 40) for b in range(50, 52))
    p = training.plan("seq2seq", {"tokens": "word"}, rows.encode(), "addition.csv")
    assert len(p.advice) == 2 and p.advice[0].startswith("100% of your sources are a single word with tokens=word "
                                                          "(e.g. '10+50')")
    assert all("Did you mean tokens=char" in a for a in p.advice)
    assert training.plan("seq2seq", {"tokens": "char"}, rows.encode(), "addition.csv").advice == []
    assert training.plan("seq2seq", {}).advice == [] and training.plan("attention", {}).advice == []
    words = "source,target\n" + "".join(f"w{i} x{i},y{i} z{i}\n" for i in range(40))
    assert seq2seq.advise({"tokens": "word"}, seq2seq.read_upload(words.encode(), "w.csv")) == []
