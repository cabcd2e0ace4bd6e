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
from tests.conftest import FORGED_NPY, npy_header

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
    ("seq2seq", {"beam": "²"}),            # '²'.isdigit() is True, int('²') raises
    ("seq2seq", {"beam": "٣"}),            # an Arabic-Indic digit: int() would take it; the URL helper does not
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
    (["train", "attention", "--name", "x\n"], ["not allowed"]),
    (["train", "attention", "--name", "default-evil"], ["belong to the shipped models"]),
    (["train", "attention", "--name", "default"], ["belong to the shipped models"]),
    (["train", "attention", "--name", "default-evil", "--overwrite"], ["belong to the shipped models"]),
    (["train", "seq2seq", "--name", "default-peeky", "--overwrite"], ["belong to the shipped models"]),
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
    ("seq2seq", _csv("a,b\n1,2\n"), "pairs.csv", ["pairs.csv", "source, target"]),
    ("captioning", _csv("row,caption_1,caption_2\n0,a,b\n"), "caps.csv", ["needs two files", "features"]),
    ("dialogue-acts", _csv("conversation_id,utterance,act\n"), "header.csv", ["no data rows"]),
    ("attention", _csv("text,label\r\n"), "header.csv", ["no data rows"]),
]


@pytest.mark.parametrize("arch, raw, filename, words", UPLOAD_CASES,
                         ids=[f"{a}-{f}" for a, _, f, _ in UPLOAD_CASES])
def test_bad_training_uploads_are_refused_before_any_work(arch, raw, filename, words, monkeypatch):
    monkeypatch.setenv("SEQVIZ_MAX_FILE_MB", "5")     # huge.csv: over it
    with pytest.raises(SeqvizError) as e:
        training.plan(arch, {}, raw, filename)
    message = str(e.value)
    for w in words:
        assert w in message, message


def _npy(array: np.ndarray) -> bytes:
    import io
    buf = io.BytesIO()
    np.save(buf, array, allow_pickle=False)
    return buf.getvalue()


DIM = 4096
FILE_CASES = [  # (argv with FILE for the written file, its bytes, words of the one stderr line)
    (["predict", "captioning", "--file", "FILE"], _npy(np.full(DIM, 1e300)), ["float32's range"]),
    (["predict", "captioning", "--file", "FILE"],
     npy_header("{'descr': '<f4', 'fortran_order': False, 'shape': (print(1),), }"), ["header could not be read"]),
    (["predict", "captioning", "--file", "FILE"],
     FORGED_NPY,
     ["truncated or damaged", "1,638,400,000,000 bytes of data", "16 bytes follow"]),
]


@pytest.mark.parametrize("argv, raw, words", FILE_CASES, ids=[f"file-{i}" for i in range(len(FILE_CASES))])
def test_cli_bad_files_exit_2_with_one_clear_line(argv, raw, words, capsys, tmp_path, monkeypatch):
    monkeypatch.setenv("SEQVIZ_MODELS", str(ROOT / "models"))
    path = tmp_path / "input.npy"
    path.write_bytes(raw)
    assert cli.main([str(path) if a == "FILE" else a for a in argv]) == 2
    err = capsys.readouterr().err.strip()
    assert err.count("\n") == 0 and err.startswith("error: ") and "Traceback" not in err and "0x" not in err, err
    for w in words:
        assert w in err, err


def _strict_json(text: str):
    import json
    def no_nan(name):
        raise AssertionError(f"invalid JSON constant {name}")
    return json.loads(text, parse_constant=no_nan)


def test_list_shows_every_entry_when_some_are_damaged_and_prints_valid_json(store_with_defaults, capsys):
    import shutil
    att = store_with_defaults / "attention"
    for name, metrics in [("as-list", "[1, 2]"), ("as-string", '"hello"'), ("malformed", "{not json"),
                          ("with-nan", '{"val_accuracy": NaN, "n_train": 3}')]:
        shutil.copytree(att / "default", att / name)
        (att / name / "metrics.json").write_text(metrics)
    assert cli.main(["list"]) == 0
    out = _strict_json(capsys.readouterr().out)
    models = {m["name"]: m for a in out["archs"] if a["arch"] == "attention" for m in a["models"]}
    assert set(models) == {"default", "default-seed", "as-list", "as-string", "malformed", "with-nan"}
    assert models["default"]["metrics"]["val_accuracy"] > 0.9
    for name in ("as-list", "as-string", "malformed"):
        assert "damaged" in models[name]["error"], models[name]
    assert models["with-nan"]["metrics"] == {"val_accuracy": None, "n_train": 3}
    other = {a["arch"]: a["models"] for a in out["archs"]}
    assert [m["name"] for m in other["lm"]] == ["default"]      # the other architectures are listed whole


def test_a_stored_config_outside_the_knobs_ranges_is_refused_before_building(store_with_defaults, capsys):
    import json
    path = store_with_defaults / "attention" / "default" / "config.json"
    config = json.loads(path.read_text())
    config["params"]["units"] = 10**9
    path.write_text(json.dumps(config))
    assert cli.main(["predict", "attention", "--text", "the pizza was great"]) == 2
    err = capsys.readouterr().err.strip()
    assert "outside the knobs' ranges" in err and "units must be between 4 and 256" in err, err


def test_training_into_a_taken_name_is_refused_unless_overwrite(store_with_defaults, monkeypatch, capsys):
    import shutil
    shutil.copytree(store_with_defaults / "attention" / "default", store_with_defaults / "attention" / "mine")
    monkeypatch.setattr(training, "train", lambda *a, **k: pytest.fail("bad input reached training"))
    assert cli.main(["train", "attention", "--name", "mine"]) == 2
    assert "named 'mine' exists already" in capsys.readouterr().err
    assert training.plan("attention", {}, name="mine", overwrite=True).name == "mine"
    assert training.plan("attention", {}, name="default", overwrite=True).name == "default"   # regenerating it


def test_a_tiny_temperature_is_the_argmax_not_nan(capsys, monkeypatch):
    import json
    monkeypatch.setenv("SEQVIZ_MODELS", str(ROOT / "models"))
    outs = []
    for t in ("1e-320", "0"):
        assert cli.main(["predict", "lm", "--text", "the function returns", "--set", f"temperature={t}"]) == 0
        outs.append(json.loads(capsys.readouterr().out)["continuation"])
    assert outs[0] == outs[1] and outs[0]


def test_the_matrix_is_big_enough():
    n = (len(TEXT_CASES) + len(URL_CASES) + len(CLI_CASES) + len(UPLOAD_CASES) + len(FILE_CASES)
         + 4)   # the four store / temperature tests above
    assert n >= 40, n
    assert np.unique([a for a, _, _ in TEXT_CASES]).size == len(PAGES)
