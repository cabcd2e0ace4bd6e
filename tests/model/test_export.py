"""`python -m seqviz export`: a SavedModel whose signature takes raw inputs and runs where seqviz is absent.

Each architecture's shipped default is exported, then loaded in a separate Python process that refuses to
import seqviz (a meta-path hook raises on it, and the process asserts it never got in); its outputs on
several inputs, unknown words among them, are compared with `predict` on the same inputs here.

The tests here train or load a model; those that need none are in tests/unit/test_export.py."""
import json
import subprocess
import sys

import numpy as np
import pytest

from seqviz import cli, export, lm, store


LOADER = r"""
import importlib.abc, json, sys

class NoSeqviz(importlib.abc.MetaPathFinder):
    def find_spec(self, name, path=None, target=None):
        if name.split(".")[0] == "seqviz":
            raise ImportError("seqviz must not be needed to run an export")

sys.meta_path.insert(0, NoSeqviz())
import numpy as np
import tensorflow as tf

folder, calls = sys.argv[1], json.load(open(sys.argv[2]))
serve = tf.saved_model.load(folder).signatures["serving_default"]
out = []
for call in calls:
    args = {k: tf.constant(np.load(v) if isinstance(v, str) and v.endswith(".npy") else v) for k, v in call.items()}
    result = {}
    for k, v in serve(**args).items():
        v = np.asarray(v.numpy())
        result[k] = np.char.decode(v.astype(bytes), "utf-8").tolist() if v.dtype.kind in "OS" else v.tolist()
    out.append(result)
assert "seqviz" not in sys.modules
print(json.dumps(out))
"""


def run_export(tmp_path, arch: str, model: str, calls: list[dict]) -> list[dict]:
    """Export arch/model with the CLI's code, then run `calls` on it in a process without seqviz."""
    summary = export.export(arch, model, tmp_path / "export")
    assert summary["path"] == str(tmp_path / "export") and summary["bytes"] > 0
    assert {"saved_model.pb", "README.md", "config.json"} <= {p.name for p in (tmp_path / "export").iterdir()}
    (tmp_path / "calls.json").write_text(json.dumps(calls))
    (tmp_path / "load.py").write_text(LOADER)
    done = subprocess.run([sys.executable, str(tmp_path / "load.py"), str(tmp_path / "export"),
                           str(tmp_path / "calls.json")], capture_output=True, text=True, cwd=tmp_path, timeout=300)
    assert done.returncode == 0, done.stderr[-3000:]
    return json.loads(done.stdout.strip().splitlines()[-1])


def close(a, b):
    return np.max(np.abs(np.asarray(a, np.float64) - np.asarray(b, np.float64))) < 1e-5


@pytest.mark.parametrize("model", ["default", "default-seed"])   # the seed score pads to max_len in the graph
def test_attention_export_equals_predict(store_with_defaults, tmp_path, model):
    from seqviz import attention
    texts = [attention.EXAMPLE, "The STORM and the rain, again!", "my zzneighbour's quxlaptop crashed at the server",
             "the guitar"]
    got = run_export(tmp_path, "attention", model, [{"text": t} for t in texts])
    bundle = store.load("attention", model)
    for text, g in zip(texts, got):
        want = attention.predict(bundle, text)
        assert g["tokens"] == want["tokens"] and g["unknown"] == want["unknown"] and g["label"] == want["label"]
        assert close(g["attention"], want["attention"])
        assert close(g["probs"], [want["probs"][k] for k in g["labels"]])
    assert any(any(g["unknown"]) for g in got)                     # unknown words were part of it
    assert all(g["length"] == len(g["tokens"]) for g in got)


@pytest.mark.parametrize("model", ["default", "default-seed"])
def test_attention_export_takes_a_batch_equal_row_by_row(store_with_defaults, tmp_path, model):
    from seqviz import attention
    texts = [attention.EXAMPLE, "the guitar", "my zzneighbour's quxlaptop crashed at the server", "rain"]
    (got,) = run_export(tmp_path, "attention", model, [{"text": texts}])
    bundle = store.load("attention", model)
    assert len(got["label"]) == len(texts) and len(got["probs"]) == len(texts)
    width = max(got["length"])
    for i, text in enumerate(texts):
        want, n = attention.predict(bundle, text), got["length"][i]
        assert got["tokens"][i][:n] == want["tokens"] and got["tokens"][i][n:] == [""] * (width - n)
        assert got["unknown"][i][:n] == want["unknown"] and got["label"][i] == want["label"]
        assert close(got["attention"][i][:n], want["attention"]) and not any(got["attention"][i][n:])
        assert close(got["probs"][i], [want["probs"][k] for k in got["labels"]])
    readme = (tmp_path / "export" / "README.md").read_text()
    assert '{"instances": [{"text": ' in readme and "A batch in one call" in readme


def test_a_use_speaker_export_takes_the_speakers_too(store_with_defaults, tmp_path):
    from seqviz import dialogue_acts, training
    tiny = {"n_dialogues": 40, "max_utterances": 12, "embed_dim": 8, "word_units": 8, "context_units": 8,
            "epochs": 1, "batch_size": 8, "use_speaker": True}
    training.train(training.plan("dialogue-acts", tiny, name="spk"))
    texts = ["A: did you see the game\nB: yeah\nA: the game was great\nB: yeah", "A: hi\nA: okay\nB: bye"]
    calls = [dict(zip(("speakers", "utterances"), dialogue_acts.parse(t))) for t in texts]
    batch = {k: [c[k] + [""] * (4 - len(c[k])) for c in calls] for k in ("speakers", "utterances")}
    *got, many = run_export(tmp_path, "dialogue-acts", "spk", calls + [batch])
    bundle = store.load("dialogue-acts", "spk")
    for i, (text, g) in enumerate(zip(texts, got)):
        want = dialogue_acts.predict(bundle, text)
        assert g["tags"] == want["tags"] and close(g["emissions"], want["emissions"])
        n = many["tags_length"][i]                   # the batch: each dialogue's rows, its padding dropped
        assert n == len(want["tags"]) and many["tags"][i][:n] == want["tags"]
        assert close(np.asarray(many["emissions"][i])[:n], want["emissions"])


def test_dialogue_acts_export_equals_predict(store_with_defaults, tmp_path):
    from seqviz import dialogue_acts
    dialogues = [dialogue_acts.EXAMPLE, "hi there\ndo you like zzjazz\nyeah\nokay\nbye now",
                 "is it cold in paris\nright\nwhat about the quxgym\nI don't know, it's fine"]
    calls = [{"utterances": dialogue_acts.parse(d)[1]} for d in dialogues]
    longest = max(len(c["utterances"]) for c in calls)
    batch = {"utterances": [c["utterances"] + [""] * (longest - len(c["utterances"])) for c in calls]}
    *got, many = run_export(tmp_path, "dialogue-acts", "default", calls + [batch])
    bundle = store.load("dialogue-acts")
    for i, (d, g) in enumerate(zip(dialogues, got)):
        want = dialogue_acts.predict(bundle, d)
        assert g["labels"] == want["labels"] and g["tags"] == want["tags"]
        assert close(g["emissions"], want["emissions"]) and close(g["transitions"], want["transitions"])
        n = many["tags_length"][i]           # a batch of dialogues padded with "": row by row the same
        assert n == len(want["tags"]) and many["tags"][i][:n] == want["tags"]
        assert close(np.asarray(many["emissions"][i])[:n], want["emissions"])
    assert all(close(t, want["transitions"]) and lab == want["labels"]          # per row, like every output
               for t, lab in zip(many["transitions"], many["labels"]))
    readme = (tmp_path / "export" / "README.md").read_text()
    assert '"instances": [{"utterances": [' in readme and 'padded with ""' in readme


@pytest.mark.parametrize("model, texts", [
    ("default-attention", ["6 9 7 3 4 4 1 0 7 4", "471", " 1 2 3 ", "9"]),
    ("default-piglatin", ["string", "Python", "zebra"]),
    ("default-sort-basic", ["4 7 1 9 2 8 3 6", "52"]),
])
def test_seq2seq_export_equals_a_greedy_predict(store_with_defaults, tmp_path, model, texts):
    from seqviz import seq2seq
    got = run_export(tmp_path, "seq2seq", model, [{"text": t} for t in texts])
    bundle = store.load("seq2seq", model)
    sep = seq2seq.joiner(bundle.params)
    for text, g in zip(texts, got):
        want = seq2seq.predict(bundle, text, beam=1, exposure=False)
        assert g["source"] == want["source"] and not any(g["unknown"])
        assert g["tokens"] == want["output"] and g["output"] == sep.join(want["output"])
        assert g["finished"] == want["beams"][0]["finished"]
        if bundle.params["mode"] == "attention":
            assert close(g["alignment"], want["attention"])
        else:
            assert "alignment" not in g


def test_seq2seq_export_reads_unknown_characters_as_unk(store_with_defaults, tmp_path):
    got, = run_export(tmp_path, "seq2seq", "default-attention", [{"text": "4 x 7"}])
    assert got["source"] == ["4", "x", "7"] and got["unknown"] == [False, True, False]
    assert got["tokens"][0] == "four" and got["tokens"][-1] == "seven"


def test_captioning_export_equals_the_greedy_captions(store_with_defaults, tmp_path):
    from seqviz import captioning
    bundle = store.load("captioning")
    d = bundle.params["feature_dim"]
    x = np.stack([captioning.sample_features(i, d, bundle.params["noise"]) for i in range(len(captioning.SAMPLES))]
                 + [np.random.default_rng(0).normal(size=d)]).astype(np.float32)   # and one unlike any scene
    np.save(tmp_path / "features.npy", x)
    got, = run_export(tmp_path, "captioning", "default", [{"features": str(tmp_path / "features.npy")}])
    for i, row in enumerate(x):
        want = captioning.decode(bundle, row, beam=1)["greedy"]
        assert [got["caption_1"][i], got["caption_2"][i]] == want
    assert got["caption_1"][0] == "there are two red circles on the left"


def test_lm_export_equals_predict(store_with_defaults, tmp_path):
    texts = [lm.EXAMPLE, "Return the zzfoo of", "self.value = 'x'; if the", "It's a file"]
    got = run_export(tmp_path, "lm", "default", [{"text": t} for t in texts])
    bundle = store.load("lm")
    for text, g in zip(texts, got):
        want = lm.predict(bundle, text, n_words=0)
        assert g["tokens"] == want["prompt"]
        assert [t for t, u in zip(g["tokens"], g["unknown"]) if u] == want["unknown"]
        assert g["next_words"] == list(want["next_word"]) and close(g["next_probs"], list(want["next_word"].values()))


def test_the_export_readme_shows_how_to_load_it(store_with_defaults, tmp_path, capsys):
    code = cli.main(["export", "attention", "--out", str(tmp_path / "att")])
    out, err = capsys.readouterr()
    assert code == 0, err
    summary = json.loads(out.strip().splitlines()[-1])
    assert summary["path"] == str(tmp_path / "att") and set(summary["outputs"]) >= {"label", "attention", "tokens"}
    readme = (tmp_path / "att" / "README.md").read_text()
    assert 'tf.saved_model.load("path/to/this/folder").signatures["serving_default"]' in readme
    assert "serve(text=tf.constant(" in readme and "| `attention` |" in readme and "tensorflow/serving" in readme
    config = json.loads((tmp_path / "att" / "config.json").read_text())
    assert config == json.loads((store_with_defaults / "attention" / "default" / "config.json").read_text())


def test_the_zip_holds_the_same_savedmodel(store_with_defaults, tmp_path, monkeypatch):
    import io
    import tempfile
    import zipfile
    monkeypatch.setattr(tempfile, "tempdir", str(tmp_path))
    names = zipfile.ZipFile(io.BytesIO(export.zip_bytes("lm", "default"))).namelist()
    assert {"default/saved_model.pb", "default/README.md", "default/config.json"} <= set(names)
    assert any(n.startswith("default/variables/") for n in names)
    assert not list(tmp_path.glob("seqviz-export-*"))


@pytest.mark.parametrize("arch, model, texts", [
    ("seq2seq", "default-attention", ["3 1 4 1 5", "2 7", "9 9 8 1 0 4 4"]),
    ("seq2seq", "default-piglatin", ["hello", "strength", "a"]),
    ("lm", "default", [lm.EXAMPLE, "if self", "the value of the"]),
])
def test_a_one_input_export_takes_a_batch_too(store_with_defaults, tmp_path, arch, model, texts):
    """seqviz.export.one_or_many: N strings in one call give, row by row, what one string gives (each output
    padded to the longest row, `<name>_length` beside the ones whose length varies)."""
    *singles, many = run_export(tmp_path, arch, model, [{"text": t} for t in texts] + [{"text": texts}])
    for i, one in enumerate(singles):
        for k, v in one.items():
            a, b = np.asarray(v), np.asarray(many[k][i])
            if k.endswith("_length"):
                assert b == a
                continue
            cut = b[tuple(slice(0, d) for d in a.shape)]
            if a.dtype.kind in "fc":
                assert close(cut, a), (k, i)
            else:
                assert cut.tolist() == a.tolist(), (k, i)
    assert any(f"{k}_length" in many for k in ("tokens", "output"))
