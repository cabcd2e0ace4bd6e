"""predict --data (seqviz.batch): a file of inputs through a stored model, one JSON line per input, equal row by
row to what `predict --text` prints for it, for every architecture; bad rows stop the run with their number or
get an error line in their place; --out is written whole or not at all."""
import json

import numpy as np
import pytest

from seqviz import archs, cli, contract, store
from tests.model.test_replay import _close     # JSON values equal, floats to 1e-5


def _lines(capsys, argv) -> list[dict]:
    assert cli.main(argv) == 0, capsys.readouterr().err
    return [json.loads(line) for line in capsys.readouterr().out.splitlines()]


def _alone(arch: str, name: str, x, **options) -> dict:
    mod = archs.get(arch).module()
    return json.loads(cli.to_json(contract.conform(mod, mod.predict(store.load(arch, name), x, **options))))


def test_attention_lines_equal_predict_row_by_row_across_batches(tmp_path, capsys):
    from seqviz import attention
    texts = attention.make_toy(70, seed=5).texts + ["no pizza but the concert was great"]
    path = tmp_path / "in.csv"
    path.write_text("text,label\n" + "".join(f"{t},x\n" for t in texts))
    got = _lines(capsys, ["predict", "attention", "--data", str(path), "--batch-size", "16"])
    assert len(got) == len(texts)
    for line, text in zip(got, texts):
        assert _close(line, _alone("attention", "default", text)), text


@pytest.mark.parametrize("arch,name,content,inputs", [
    ("seq2seq", "default-attention", "source,target\n3 1 4,x\n2 7 1 8 2 8,x\n9,x\n", ["3 1 4", "2 7 1 8 2 8", "9"]),
    ("lm", "default", "return the\n\nif self\n", ["return the", "if self"]),
    ("dialogue-acts", "default", "conversation_id,utterance,speaker\nc1,hi how are you,A\nc1,fine thanks,B\n"
                                 "c2,is it cold today,A\nc2,yes,B\nc2,bye,A\n",
     ["A: hi how are you\nB: fine thanks", "A: is it cold today\nB: yes\nA: bye"]),
])
def test_every_text_architecture_writes_what_predict_prints(tmp_path, capsys, arch, name, content, inputs):
    path = tmp_path / ("in.txt" if arch == "lm" else "in.csv")
    path.write_text(content)
    got = _lines(capsys, ["predict", arch, "--model", name, "--data", str(path)])
    assert len(got) == len(inputs)
    for line, x in zip(got, inputs):
        assert _close(line, _alone(arch, name, x)), x


@pytest.mark.parametrize("name", ["default-attention", "default-piglatin-peek", "default-sort-basic"])
def test_seq2seq_greedy_decodes_a_batch_side_by_side_equal_to_predict(tmp_path, capsys, name):
    """beam=1 decodes the whole batch step by step (seq2seq._greedy): sources of every length padded together,
    each line still what predict prints for it alone (decode, top-k, alignment, the exposure view)."""
    from seqviz import seq2seq
    b = store.load("seq2seq", name)
    task = seq2seq.task_of(b.params)
    sources = [task.joiner.join(s) for s, _ in seq2seq.make_pairs(b.params["task"], 40, 1, b.params["max_len"], 3)]
    sources.insert(7, "?!")                                   # a row the model cannot read: its line says why
    path = tmp_path / "in.txt"
    path.write_text("\n".join(sources) + "\n")
    got = _lines(capsys, ["predict", "seq2seq", "--model", name, "--data", str(path), "--batch-size", "16",
                          "--set", "beam=1", "--on-error", "skip"])
    assert len(got) == len(sources) and got[7]["row"] == "line 8" and got[7]["error"]
    for i, (line, x) in enumerate(zip(got, sources)):
        if i != 7:
            alone = _alone("seq2seq", name, x, beam=1)
            assert _close(line, alone) and alone["teacher_forced"] is not None, x


def test_dialogues_in_a_text_file_are_separated_by_blank_lines(tmp_path, capsys):
    path = tmp_path / "d.txt"
    path.write_text("A: hi\nB: hello\n\n\nA: did you see the game\nB: yeah\n")
    got = _lines(capsys, ["predict", "dialogue-acts", "--data", str(path)])
    assert [len(g["tags"]) for g in got] == [2, 2]
    assert _close(got[1], _alone("dialogue-acts", "default", "A: did you see the game\nB: yeah"))


def test_captioning_reads_an_npy_of_images_row_by_row(tmp_path, capsys):
    from seqviz import captioning
    b = store.load("captioning", "default")
    x = np.stack([captioning.text_features(b, f"sample {i}")[0] for i in (1, 2, 3)]).astype(np.float32)
    np.save(tmp_path / "f.npy", x)
    got = _lines(capsys, ["predict", "captioning", "--data", str(tmp_path / "f.npy"), "--set", "beam=2"])
    assert len(got) == 3
    for i, line in enumerate(got):
        np.save(tmp_path / "one.npy", x[i])
        assert cli.main(["predict", "captioning", "--file", str(tmp_path / "one.npy"), "--set", "beam=2"]) == 0
        assert _close(line, json.loads(capsys.readouterr().out))


def test_a_bad_row_stops_the_run_with_its_number_and_writes_nothing(tmp_path, capsys):
    path, out = tmp_path / "in.csv", tmp_path / "out.jsonl"
    path.write_text("text\nthe pizza was great\nxqzw vvv\nthe team won\n")
    assert cli.main(["predict", "attention", "--data", str(path), "--out", str(out)]) == 2
    err = capsys.readouterr().err
    assert "data row 2: None of the words are in the model's vocabulary" in err and "Traceback" not in err
    assert not out.exists() and not [p for p in tmp_path.iterdir() if p.name.startswith(".out")]


def test_skip_writes_an_error_line_in_the_bad_rows_place(tmp_path, capsys):
    path, out = tmp_path / "in.csv", tmp_path / "out.jsonl"
    path.write_text("text\nthe pizza was great\nxqzw vvv\nthe team won\n")
    assert cli.main(["predict", "attention", "--data", str(path), "--out", str(out), "--on-error", "skip"]) == 0
    err = capsys.readouterr().err
    assert "3/3 rows" in err and "1 refused" in err
    lines = [json.loads(line) for line in out.read_text().splitlines()]
    assert [line.get("label") for line in lines] == ["food", None, "sports"]
    assert lines[1]["row"] == "data row 2" and "vocabulary" in lines[1]["error"]


@pytest.mark.parametrize("argv,says", [
    (["--data", "{csv}", "--out", "/proc/x/out.jsonl"], "Cannot write /proc/x/out.jsonl"),
    (["--data", "{csv}", "--out", "/proc/out.jsonl"], "Cannot write /proc/out.jsonl"),
    (["--data", "{csv}", "--text", "hi"], "leave out --text"),
    (["--text", "hi", "--out", "o.jsonl"], "go with --data FILE"),
    (["--data", "{csv}", "--batch-size", "0"], "batch size must be a whole number from 1"),
    (["--data", "{empty}"], "has the header (text) but no data rows"),
    (["--data", "{nocol}"], "needs the columns text"),
])
def test_bad_batch_arguments_are_one_sentence_and_exit_2(tmp_path, capsys, argv, says):
    files = {"csv": "text\nthe pizza\n", "empty": "text\n", "nocol": "words\nthe pizza\n"}
    for k, v in files.items():
        (tmp_path / f"{k}.csv").write_text(v)
    argv = [a.format(**{k: str(tmp_path / f"{k}.csv") for k in files}) for a in argv]
    assert cli.main(["predict", "attention", *argv]) == 2
    err = capsys.readouterr().err
    assert says in err and "Traceback" not in err and len(err.strip().splitlines()) == 1


def test_export_into_a_folder_that_cannot_be_written_is_one_sentence(capsys):
    assert cli.main(["export", "attention", "--out", "/proc/x"]) == 2
    err = capsys.readouterr().err
    assert "Cannot write /proc/x" in err and "Traceback" not in err
