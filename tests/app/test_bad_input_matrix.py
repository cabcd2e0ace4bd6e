"""The bad-input matrix: every page and the CLI, fed what users really type, paste, upload and link.

Each page case: the bad input gives exactly the expected clear message (an st.error), no exception
element, and the page still works afterwards with a good input. Each URL case: nonsense in the query
string never breaks the page. Each CLI case: exit code 2 and one line on stderr, no traceback. Each upload
case: the training service refuses the file with a sentence saying what is wrong.
"""
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pytest

from seqviz import cli, training
from seqviz.errors import SeqvizError
from tests.app.helpers import open_page

ROOT = Path(__file__).resolve().parents[2]


@dataclass
class PageCase:
    page: str        # views/<page>.py
    key: str         # its text box
    good: str        # an input that works, typed after the bad one
    ok: str          # text in a subheader/markdown that shows the good input worked
    query: dict = field(default_factory=dict)   # URL state the page needs to show that text box


PAGES = {
    "attention": PageCase("views/attention.py", "attention:text", "the striker scored a goal", "Predicted: sports"),
    "dialogue-acts": PageCase("views/dialogue_acts.py", "dialogue-acts:text", "A: hello\nB: is it cold today",
                              "2 utterances"),
    "seq2seq": PageCase("views/seq2seq.py", "seq2seq:text", "4 7 1", "✅ **four seven one**"),
    "lm": PageCase("views/lm.py", "lm:text", "the function returns", "the function returns"),
    "captioning": PageCase("views/captioning.py", "captioning:text", "three green stars at the top",
                           "trois étoiles vertes en haut", {"source": "describe"}),
}

CONTROL = "\x00\x07\x1b\x08\x7f"
TEXT_CASES = [  # (page, bad input, words the one error message must contain)
    ("attention", "", ["empty"]),
    ("attention", "   \n\t ", ["empty"]),
    ("attention", "zzzq qqqz", ["vocabulary"]),
    ("attention", "?!? ... ;;", ["no words"]),
    ("attention", "word " * 2000, ["10,000 characters", "limit is 2,000"]),
    ("attention", "天気 雨 雪 晴れ", ["vocabulary"]),
    ("attention", "🙂🍕⚽ 🎸", ["no words"]),
    ("attention", CONTROL, ["no words"]),
    ("dialogue-acts", "", ["empty"]),
    ("dialogue-acts", "A: hello", ["at least two lines"]),
    ("dialogue-acts", "A: zzzq\nB: qqqz", ["vocabulary"]),
    ("dialogue-acts", "A: hi there\nB: " + "x" * 60_000, ["characters", "limit is 50,000"]),
    ("dialogue-acts", "A: 你好\nB: 谢谢", ["vocabulary"]),
    ("dialogue-acts", "A: hello\nB: 🙂🙂", ["Line 2", "no words"]),
    ("dialogue-acts", "A: hello\nB: " + CONTROL, ["Line 2", "no words"]),
    ("seq2seq", "", ["empty"]),
    ("seq2seq", "4 x 7", ["'x'", "digits 0-9"]),
    ("seq2seq", "1 2 3 4 5 6 7 8 9 0 1", ["11 tokens", "at most 10"]),
    ("seq2seq", "4" * 10_000, ["10,000 characters"]),
    ("seq2seq", "四 七", ["'七'", "'四'"]),
    ("seq2seq", "4 🙂 7", ["'🙂'"]),
    ("seq2seq", "4 \x07 7", ["'x07'", "digits 0-9"]),  # repr'd in the message: '\\x07'
    ("lm", "", ["empty"]),
    ("lm", "zzzq qqqz", ["vocabulary"]),
    ("lm", "你好 世界", ["vocabulary"]),
    ("lm", "🙂🙂", ["vocabulary"]),
    ("lm", "word " * 2000, ["10,000 characters", "limit is 2,000"]),
    ("captioning", "", ["empty"]),
    ("captioning", "purple unicorns", ["'unicorns'", "a count (1-4)"]),
    ("captioning", "x" * 10_000, ["10,000 characters", "at most 300"]),
    ("captioning", "三 个 星", ["'三'"]),
    ("captioning", "🙂", ["no colour or shape"]),
    ("captioning", "sample 99", ["samples 1 to 6"]),
]


_run = open_page


def _texts(at) -> str:
    return "\n".join([s.value for s in at.subheader] + [m.value for m in at.markdown]).replace("\\", "")


@pytest.mark.parametrize("arch, bad, words", TEXT_CASES,
                         ids=[f"{a}-{i}" for i, (a, _, _) in enumerate(TEXT_CASES)])
def test_bad_text_gives_one_clear_error_and_the_page_recovers(arch, bad, words):
    case = PAGES[arch]
    at = _run(case.page, **case.query)
    at.text_area(key=case.key).input(bad).run()
    assert not at.exception, [e.message for e in at.exception]
    assert len(at.error) == 1, [e.value for e in at.error]
    message = at.error[0].value.replace("\\", "")
    for w in words:
        assert w in message, message
    assert len(message) < 400 and "Traceback" not in message
    at.text_area(key=case.key).input(case.good).run()
    assert not at.exception and not at.error, [e.value for e in at.error]
    assert case.ok in _texts(at)


URL_CASES = [  # (page, query) -- the page must still show its default view, with at most a warning
    ("attention", {"model": "../../etc/passwd"}),
    ("attention", {"model": "no-such-model", "text": "the pizza and the soup"}),
    ("attention", {"text": "x" * 5000}),
    ("dialogue-acts", {"model": "<script>alert(1)</script>"}),
    ("dialogue-acts", {"pin": "banana", "colour": "ultraviolet"}),
    ("seq2seq", {"beam": "-3", "modes": ",,,", "task": "🙂"}),
    ("seq2seq", {"beam": "99999999999999999999", "modes": "attention,attention"}),
]


@pytest.mark.parametrize("arch, query", URL_CASES, ids=[f"{a}-{i}" for i, (a, _) in enumerate(URL_CASES)])
def test_nonsense_in_the_url_never_breaks_a_page(arch, query):
    case = PAGES[arch]
    at = _run(case.page, **query)
    assert not at.exception, [e.message for e in at.exception]
    for w in at.warning:
        assert "<script>" not in w.value      # escaped, shown as text
    if "text" not in query:   # the default example is decoded
        assert not at.error, [e.value for e in at.error]
        assert len(at.get("plotly_chart")) >= 1
    at.text_area(key=case.key).input(case.good).run()
    assert not at.exception and not at.error and case.ok in _texts(at)


CLI_CASES = [  # (argv, words of the one stderr line)
    (["predict", "attention", "--text", ""], ["empty"]),
    (["predict", "attention"], ["--text", "--file"]),
    (["predict", "attention", "--text", "hi", "--model", "nope"], ["No attention model named 'nope'"]),
    (["predict", "attention", "--text", "hi", "--model", "../x"], ["not allowed"]),
    (["predict", "klingon", "--text", "hi"], ["Unknown architecture 'klingon'"]),
    (["predict", "attention", "--file", "/nonexistent.txt"], ["Cannot read /nonexistent.txt"]),
    (["predict", "seq2seq", "--text", "4 7", "--set", "beam=0"], ["beam must be between 1 and 20"]),
    (["predict", "seq2seq", "--text", "4 7", "--set", "beam=21"], ["beam must be between 1 and 20"]),
    (["predict", "seq2seq", "--text", "4 7", "--set", "beam=two"], ["beam must be a whole number"]),
    (["predict", "seq2seq", "--text", "4 x"], ["'x'"]),
    (["predict", "dialogue-acts", "--text", "A: hi"], ["at least two lines"]),
    (["train", "attention", "--set", "epochs=0"], ["epochs must be between 1 and 50"]),
    (["train", "attention", "--set", "units=100000"], ["units must be between"]),
    (["train", "attention", "--set", "learning_rate=nan"], ["learning_rate must be a number"]),
    (["train", "attention", "--set", "colour=red"], ["Unknown setting 'colour'"]),
    (["train", "attention", "--set", "epochs"], ["--set takes key=value"]),
    (["train", "seq2seq", "--set", "mode=peeky"], ["mode must be one of"]),
    (["train", "seq2seq", "--set", "min_len=9", "--set", "max_len=3"], ["min_len (9) is larger than max_len (3)"]),
    (["train", "attention", "--name", "a/b"], ["not allowed"]),
    (["bench", "nope"], ["Unknown benchmark 'nope'"]),
    (["frobnicate"], ["invalid choice"]),
]


@pytest.mark.parametrize("argv, words", CLI_CASES, ids=[" ".join(a)[:40] for a, _ in CLI_CASES])
def test_cli_bad_input_exits_2_with_one_clear_line(argv, words, capsys, tmp_path, monkeypatch):
    monkeypatch.setenv("SEQVIZ_MODELS", str(ROOT / "models"))    # read-only use: nothing gets trained
    if argv[0] == "train":
        monkeypatch.setattr(training, "train", lambda *a, **k: pytest.fail("bad input reached training"))
    assert cli.main(argv) == 2
    err = capsys.readouterr().err.strip()
    assert err.count("\n") == 0 and err.startswith("error: ") and "Traceback" not in err, err
    for w in words:
        assert w in err, err


def _csv(text: str, encoding: str = "utf-8") -> bytes:
    return text.encode(encoding)


UPLOAD_CASES = [  # (arch, bytes, filename, words)
    ("attention", b"", "empty.csv", ["empty"]),
    ("attention", _csv("sentence,category\nhello,a\n"), "cols.csv", ["text", "label"]),
    ("attention", _csv("text,label\n" + "café au lait,food\n" * 20, "latin-1"), "latin.csv", ["UTF-8"]),
    ("attention", bytes(range(256)) * 50, "binary.csv", ["UTF-8"]),
    ("attention", _csv("text,label\n" + "x,a\n" * 5), "few.csv", ["10"]),
    ("attention", _csv("text,label\n" + "hello world,a\n" * 20), "one.csv", ["single label"]),
    ("attention", b"text,label\n" + b"a" * (6 * 2**20), "huge.csv", ["MB"]),
    ("dialogue-acts", _csv("id,text\n1,hello\n"), "cols.csv", ["conversation_id", "utterance", "act"]),
    ("seq2seq", _csv("a,b\n1,2\n"), "pairs.csv", ["generated tasks only"]),
]


@pytest.mark.parametrize("arch, raw, filename, words", UPLOAD_CASES,
                         ids=[f"{a}-{f}" for a, _, f, _ in UPLOAD_CASES])
def test_bad_training_uploads_are_refused_before_any_work(arch, raw, filename, words):
    with pytest.raises(SeqvizError) as e:
        training.plan(arch, {}, raw, filename)
    message = str(e.value)
    for w in words:
        assert w in message, message


def test_the_matrix_is_big_enough():
    n = len(TEXT_CASES) + len(URL_CASES) + len(CLI_CASES) + len(UPLOAD_CASES)
    assert n >= 40, n
    assert np.unique([a for a, _, _ in TEXT_CASES]).size == len(PAGES)
