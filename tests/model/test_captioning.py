"""Captioning: the scenes and their two captions, the aligned pipeline and its mismatch error, the user's
shapes, the default model's held-out exact match, decoding, .npy validation and the CLI.

The tests here train or load a model; those that need none are in tests/unit/test_captioning.py."""
import json

import numpy as np
import pytest
import tensorflow as tf

from seqviz import captioning as cap
from seqviz import cli, store, training
from seqviz.errors import SeqvizError
from seqviz.params import resolve
from seqviz.vocab import Vocab
from tests import reference_decoding as reference
from tests.unit.test_captioning import BAD_FILES, D


TINY = {"n_scenes": 60, "feature_dim": 16, "epochs": 1, "units": 8, "image_units": 8, "embed_dim": 8,
        "batch_size": 64}


def test_without_the_check_tensorflow_fails_deep_inside_with_the_users_error():
    """What the user saw: the model itself only fails where the two LSTM states are concatenated."""
    vocabs = {"caption1": Vocab(["a", "b"]), "caption2": Vocab(["c"])}
    model = cap.build(resolve(cap.PARAMS, TINY), vocabs)
    f = np.zeros((47, 16), np.float32)
    with pytest.raises(tf.errors.InvalidArgumentError, match="must match|ConcatOp|ConcatOffset"):
        model([f, np.ones((47, 9), np.int32), f[:4], np.ones((4, 6), np.int32)], training=False)


def test_the_users_shapes_build_and_train_one_epoch():
    """4096-d features, partial captions of 34 and 21 tokens, vocabularies of 3,000 and 2,000 words."""
    params = resolve(cap.PARAMS, {"feature_dim": 4096, "max_len1": 34, "max_len2": 21, "image_units": 32,
                                  "units": 32, "embed_dim": 16, "epochs": 1, "batch_size": 64})
    rng = np.random.default_rng(0)
    words = [[f"en{i}" for i in range(3000)], [f"fr{i}" for i in range(2000)]]
    vocabs = {f"caption{k}": Vocab(w, specials=(cap.PAD, cap.UNK, cap.START, cap.END)) for k, w in zip((1, 2), words)}
    caps = [[list(rng.choice(w, size=n)) for n in sizes] for w, sizes in zip(words, ([33, 25, 12, 30], [20, 3, 9, 14]))]
    features = rng.random((4, 4096)).astype(np.float32)
    model, hist = cap.train_on(params, vocabs, features, *caps)
    assert [tuple(t.shape) for t in model.inputs] == [(None, 4096), (None, 34), (None, 4096), (None, 21)]
    assert [tuple(t.shape) for t in model.outputs] == [(None, 3004), (None, 2004)]
    assert len(hist.history["loss"]) == 1 and np.isfinite(hist.history["loss"][0])
    # one epoch = 34 + 26 + 13 + 31 = 104 rows (the longer caption of each scene + </s>): 2 batches of 64
    assert hist.history["loss"][0] > 0 and cap.input_lengths(params) == (34, 21)
    with pytest.raises(SeqvizError, match=r"Caption 1 has up to 33 words, which needs max_len1 >= 34 .* it is 30"):
        cap.train_on({**params, "max_len1": 30}, vocabs, features, *caps)


def test_tiny_training_round_trips_through_the_store_without_optimizer_slots(tmp_store):
    trained = training.train(training.plan("captioning", TINY, name="tiny"))
    entry = tmp_store / "captioning" / "tiny"
    assert sorted(p.name for p in entry.iterdir()) == ["config.json", "metrics.json", "model.weights.h5",
                                                      "replay.json", "vocab_caption1.json", "vocab_caption2.json"]
    loaded = store.load("captioning", "tiny")
    x = cap.scene_features(cap.SAMPLES, 16)
    p = [cap.pad([[2, 5, 6]] * len(x), n) for n in cap.input_lengths(loaded.params)]
    for a, b in zip(cap.forward(trained.model, x, *p), cap.forward(loaded.model, x, *p)):
        np.testing.assert_array_equal(a, b)
    m = loaded.metrics
    assert {"val_exact_1", "val_exact_2", "val_bleu1_1", "val_bleu1_2", "ablate1_exact_2"} <= set(m)
    assert len(m["history"]["loss"]) == 1 and "val_next_2_accuracy" in m["history"]
    # the layers' weights only, without Adam's slots (with D = 4096 they would triple the file past 5 MB)
    import h5py
    with h5py.File(entry / "model.weights.h5") as f:
        assert "layers" in f and "optimizer" not in f


# ---------------------------------------------------------------------------------------------
# The default model
# ---------------------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def default():
    return store.load("captioning", "default")


def test_default_model_captions_held_out_scenes_exactly(default):
    """Fresh scenes (another seed and noise draw) whose object combination the default model never saw."""
    p = default.params
    trained = cap.make_scenes(p["n_scenes"], p["max_objects"], p["seed"])
    seen = {trained[i] for i in cap.split(trained, p["seed"])[0]}
    scenes = [s for s in cap.make_scenes(600, p["max_objects"], seed=424_242) if s not in seen]
    x = cap.scene_features(scenes, p["feature_dim"], p["noise"], seed=7)
    got = cap.greedy_captions(default.model, p, default.vocabs, x)
    scores = {}
    for k, truth in ((1, [cap.english(s) for s in scenes]), (2, [cap.french(s) for s in scenes])):
        scores[f"exact_{k}"] = np.mean([g == t for g, t in zip(got[k - 1], truth)])
        scores[f"bleu1_{k}"] = np.mean([cap.bleu1(g, t) for g, t in zip(got[k - 1], truth)])
    print(f"default captioning model on {len(scenes)} unseen scenes: {scores}")
    assert len(scenes) > 50
    assert scores["exact_1"] >= 0.9 and scores["exact_2"] >= 0.9
    assert scores["bleu1_1"] >= 0.95 and scores["bleu1_2"] >= 0.95
    m = default.metrics                      # the same measure at training time, on its own held-out scenes
    assert m["val_exact_1"] >= 0.9 and m["val_exact_2"] >= 0.9 and m["n_val"] > 100
    # each head needs both branches: zeroing either one costs both heads most of their exact matches
    for a in "12":
        assert m[f"ablate{a}_exact_1"] < m["val_exact_1"] - 0.3 and m[f"ablate{a}_exact_2"] < m["val_exact_2"] - 0.3


def reference_greedy(model, params, vocabs, features: np.ndarray, ablate: str = "none") -> list[np.ndarray]:
    """The reference for the compiled `greedy_batch`: lock-step greedy decoding step by step in numpy, one
    model call per step."""
    b = len(features)
    lengths = cap.input_lengths(params)
    partial = [np.zeros((b, n + 1), np.int32) for n in lengths]
    n_tokens = [np.ones(b, np.int64), np.ones(b, np.int64)]
    done = [np.zeros(b, bool), np.zeros(b, bool)]
    ends = [vocabs[f"caption{k}"].index[cap.END] for k in (1, 2)]
    for k in (0, 1):
        partial[k][:, 0] = vocabs[f"caption{k + 1}"].index[cap.START]
    for _ in range(max(lengths)):
        probs = cap.forward(model, features, partial[0][:, :lengths[0]], partial[1][:, :lengths[1]], ablate)
        for k in (0, 1):
            live = np.flatnonzero(~done[k])
            tok = probs[k][live].argmax(-1)
            ended = tok == ends[k]
            grow = live[~ended]
            partial[k][grow, n_tokens[k][grow]] = tok[~ended]
            n_tokens[k][grow] += 1
            done[k][live[ended]] = True
            done[k][n_tokens[k] > lengths[k]] = True
        if all(d.all() for d in done):
            break
    return partial


def test_compiled_greedy_equals_the_step_by_step_reference(default):
    x = np.stack([cap.sample_features(i, D, default.params["noise"]) for i in range(len(cap.SAMPLES))])
    x[3] *= 0.3
    x[4] = 0.0  # no scene at all
    for ablate in ("none", "1", "2"):
        got = cap.greedy_batch(default.model, default.params, default.vocabs, x, ablate)
        want = reference_greedy(default.model, default.params, default.vocabs, x, ablate)
        for g, w in zip(got, want):
            np.testing.assert_array_equal(g, w)


def test_a_beam_of_width_one_reproduces_the_lock_step_greedy_captions(default):
    x = np.stack([cap.sample_features(i, D, default.params["noise"]) for i in range(len(cap.SAMPLES))])
    x[3] *= 0.3  # a damaged scene too, where the model is unsure
    greedy = cap.greedy_captions(default.model, default.params, default.vocabs, x)
    for i in range(len(x)):
        for ablate in ("none", "1"):
            r = cap.decode(default, x[i], beam=1, ablate=ablate)
            g = cap.greedy_captions(default.model, default.params, default.vocabs, x[i:i + 1], ablate)
            assert r["captions"] == r["greedy"] == [" ".join(g[0][0]), " ".join(g[1][0])]
        assert cap.decode(default, x[i], beam=1)["greedy"] == [" ".join(greedy[0][i]), " ".join(greedy[1][i])]


def test_decode_steps_and_beams_are_consistent(default):
    r = cap.decode(default, cap.sample_features(0, D, default.params["noise"]), beam=4, top_k=3)
    assert r["captions"] == ["there are two red circles on the left", "deux cercles rouges à gauche"]
    for k in range(2):
        beams, steps = r["beams"][k], r["steps"][k]
        assert len(beams) == 4 and beams[0]["caption"] == r["captions"][k]
        assert [b["logprob"] for b in beams] == sorted((b["logprob"] for b in beams), reverse=True)
        assert r["logprob"][k] == pytest.approx(sum(np.log(s["prob"]) for s in steps))
        assert [s["word"] for s in steps] == r["captions"][k].split() + [cap.END]
        for s in steps:
            assert len(s["top"]) == 3 and s["top"][0]["prob"] >= s["top"][1]["prob"] >= s["top"][2]["prob"]
            assert s["prob"] == pytest.approx(next(t["prob"] for t in s["top"] if t["word"] == s["word"]))
        # scoring the caption word by word gives the same per-step probabilities (the other branch reads
        # the other head's greedy caption in both, which here is the same caption)
        assert cap.score(default, cap.sample_features(0, D, default.params["noise"]), r["captions"])[k] == \
            pytest.approx([s["prob"] for s in steps], rel=1e-5)


def test_compiled_head_beams_equal_the_step_by_step_reference(default):
    """Each head's compiled beam search gives what the numpy reference gives, calling the whole model once per
    step on the beams' partial captions (the other branch reading the other head's greedy caption)."""
    params, vocabs = default.params, default.vocabs
    x = np.stack([cap.sample_features(i, D, default.params["noise"]) for i in range(3)])
    x[2] *= 0.3  # unsure
    for features, ablate, beam in [(x[0], "none", 4), (x[1], "2", 3), (x[2], "none", 6)]:
        r = cap.decode(default, features, beam=beam, top_k=4, ablate=ablate)
        greedy = [ids[0] for ids in cap.greedy_batch(default.model, params, vocabs, features[None], ablate)]
        for head in (1, 2):
            other = greedy[2 - head][:max(1, int(np.count_nonzero(greedy[2 - head])))]

            def step(tokens, state, head=head, other=other, features=features, ablate=ablate):
                (partial,) = state
                partial = np.concatenate([partial, tokens[:, None].astype(np.int32)], axis=1)
                inputs = cap.head_inputs(params, head, partial, other)
                probs = cap.forward(default.model, np.repeat(features[None], len(partial), 0), *inputs, ablate)
                return np.log(np.maximum(probs[head - 1], 1e-30)), [partial]
            vocab = vocabs[f"caption{head}"]
            want = reference.beam_search(step, [np.zeros((1, 0), np.int32)], vocab.index[cap.START],
                                         vocab.index[cap.END], beam, cap.input_lengths(params)[head - 1], top_k=4)
            got = r["beams"][head - 1]
            assert [b["tokens"] for b in got] == [vocab.decode(h.tokens) for h in want]
            assert [b["logprob"] for b in got] == pytest.approx([h.logprob for h in want], abs=1e-4)
            assert [s["prob"] for s in r["steps"][head - 1]] == pytest.approx(np.exp(want[0].step_logprobs), rel=1e-4)


def test_ablation_feeds_zeros_to_one_branch(default):
    x = cap.sample_features(0, D, default.params["noise"])[None]
    p = [cap.pad([[2, 4]], n) for n in cap.input_lengths(default.params)]
    zero = np.zeros_like(x)
    for ablate, inputs in (("1", [zero, p[0], x, p[1]]), ("2", [x, p[0], zero, p[1]])):
        want = [t.numpy() for t in default.model(inputs, training=False)]
        for a, b in zip(cap.forward(default.model, x, *p, ablate=ablate), want):
            np.testing.assert_allclose(a, b, atol=1e-6)
    full = cap.decode(default, x[0])
    cut = cap.decode(default, x[0], ablate="2")
    assert cut["captions"] != full["captions"]
    assert min(cap.score(default, x[0], full["captions"], ablate="2")[0]) < 0.5   # the position word, here


def test_predict_text_gives_the_design_json(default):
    r = cap.predict(default, "a yellow square on the right", beam=2, top_k=4)
    assert r["captions"] == r["truth"] == ["there is a yellow square on the right", "un carré jaune à droite"]
    assert r["heads"] == list(cap.HEADS) and isinstance(r["seen_in_training"], bool)
    assert len(r["steps"]) == 2 and len(r["steps"][1]) == 6 and len(r["steps"][1][0]["top"]) == 4
    with pytest.raises(SeqvizError, match="trained on scenes of at most 1"):
        cap.predict(default, "a red star left and a blue star right")


# ---------------------------------------------------------------------------------------------
# CLI
# ---------------------------------------------------------------------------------------------
def run(capsys, *argv):
    code = cli.main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


def test_cli_predict_file_prints_both_captions_and_steps(store_with_defaults, capsys, tmp_path):
    f = tmp_path / "scene.npy"
    np.save(f, cap.sample_features(1, D, 0.3))
    code, out, _ = run(capsys, "predict", "captioning", "--file", str(f), "--set", "beam=2", "--set", "top_k=3")
    assert code == 0
    r = json.loads(out)
    assert r["captions"] == ["there is a blue star at the top", "une étoile bleue en haut"]
    assert [[s["word"] for s in steps] for steps in r["steps"]] == [c.split() + ["</s>"] for c in r["captions"]]
    assert all(len(s["top"]) == 3 and 0 < s["prob"] <= 1 for steps in r["steps"] for s in steps)
    assert len(r["beams"][0]) == 2 and r["heads"] == list(cap.HEADS)


def test_cli_predict_file_of_n_rows_gives_one_result_per_row(store_with_defaults, capsys, tmp_path):
    f = tmp_path / "scenes.npy"
    np.save(f, cap.scene_features(cap.SAMPLES[:3], D))
    code, out, _ = run(capsys, "predict", "captioning", "--file", str(f), "--set", "ablate=2")
    r = json.loads(out)
    assert code == 0 and r["ablate"] == "2" and len(r["rows"]) == 3
    assert all(len(row["captions"]) == 2 and len(row["steps"]) == 2 for row in r["rows"])
    code, out, _ = run(capsys, "predict", "captioning", "--file", str(f))
    assert [row["captions"][0] for row in json.loads(out)["rows"]] == [
        " ".join(cap.english(s)) for s in cap.SAMPLES[:3]]


def test_cli_predict_text_names_a_sample_or_describes_a_scene(store_with_defaults, capsys):
    code, out, _ = run(capsys, "predict", "captioning", "--text", "sample 2")
    assert code == 0 and json.loads(out)["captions"][1] == "une étoile bleue en haut"
    code, out, _ = run(capsys, "predict", "captioning", "--text", "4 green circles on the left")
    assert code == 0 and json.loads(out)["captions"][1] == "quatre cercles verts à gauche"


@pytest.mark.parametrize("name", ["wrong dimension", "strings", "NaN", "object array", "3-D", "not .npy",
                                  "over the cap"])
def test_cli_refuses_bad_npy_files_with_exit_2_and_one_line(store_with_defaults, capsys, tmp_path, name,
                                                            monkeypatch):
    monkeypatch.setenv("SEQVIZ_MAX_FILE_MB", "5")
    raw, words = BAD_FILES[name]
    f = tmp_path / "bad.npy"
    f.write_bytes(raw)
    code, out, err = run(capsys, "predict", "captioning", "--file", str(f))
    assert code == 2 and out == ""
    assert err.count("\n") == 1 and err.startswith("error: bad.npy ") and words in err


@pytest.mark.parametrize("argv, words", [
    (["--text", "2 orange circles left"], "Cannot read 'orange'"),
    (["--text", "sample 1", "--set", "beam=0"], "beam must be between 1 and 20"),
    (["--text", "sample 1", "--set", "ablate=3"], "ablate must be one of none, 1, 2"),
])
def test_cli_refuses_bad_text_and_options(store_with_defaults, capsys, argv, words):
    code, out, err = run(capsys, "predict", "captioning", *argv)
    assert code == 2 and out == "" and words in err
