"""Captioning on the user's own files: image features (.npy, N x D) and a captions CSV (row,caption_1,caption_2),
through the training service and the CLI: the checks, the held-out captions it learns, predicting on it.

The tests here train or load a model; those that need none are in tests/unit/test_captioning_files.py."""
import contextlib
import io
import json

import numpy as np
import pytest

from seqviz import captioning, cli, store, training
from seqviz.errors import SeqvizError
from tests.unit.test_captioning_files import npy


SMALL = {"epochs": 8, "units": 32, "image_units": 32, "embed_dim": 16}


def user_files(n: int = 1000, dim: int = 64):
    """Generated scenes written as a user would have them: (captions CSV, features .npy), the CSV's rows in a
    shuffled order pointing at their images."""
    d = captioning.make_data(n, 1, dim, 0.3, 0)
    order = np.random.default_rng(0).permutation(n)
    csv = "row,caption_1,caption_2\r\n" + "".join(f"{i},{' '.join(d.captions[0][i]).capitalize()}.,"
                                                  f"\"{' '.join(d.captions[1][i])}\"\r\n" for i in order)
    return csv.encode(), npy(d.features), d


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    root = tmp_path_factory.mktemp("models")
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("SEQVIZ_MODELS", str(root))
        csv, feats, d = user_files()
        bundle = training.train(training.plan("captioning", SMALL, csv, "caps.csv", "mine",
                                              files={"features": ("feats.npy", feats)}))
        yield root, bundle, d


def test_it_learns_both_heads_from_the_users_files(trained):
    _, bundle, _ = trained
    p, m = bundle.params, bundle.metrics
    assert p["feature_dim"] == 64 and (p["max_len1"], p["max_len2"]) == (9, 6)     # from the files
    assert bundle.data["filename"] == "caps.csv" and bundle.data["features"]["filename"] == "feats.npy"
    assert m["n_train"] + m["n_val"] == 1000 and m["n_val"] == 150                  # 15% of the images held out
    assert m["val_exact_1"] >= 0.6 and m["val_exact_2"] >= 0.6, m                   # captions of unseen images
    assert m["ablate1_exact_1"] < m["val_exact_1"]                                  # each head reads both branches
    assert "." not in bundle.vocabs["caption1"].tokens and "there" in bundle.vocabs["caption1"].tokens


def test_a_trained_model_captions_feature_files_and_refuses_generated_scenes(trained):
    root, bundle, d = trained
    r = captioning.predict_file(bundle, npy(d.features[:3]), "three.npy", beam=1)
    assert r["heads"] == ["caption 1", "caption 2"] and len(r["rows"]) == 3
    assert r["rows"][0]["captions"][0].split()[0] == "there"
    with pytest.raises(SeqvizError, match="trained on your own image features"):
        captioning.predict(bundle, "sample 1")
    with pytest.raises(SeqvizError, match="reads 64-d features"):
        captioning.predict_file(bundle, npy(np.zeros((2, 65), np.float32)), "wide.npy")
    again = store.load("captioning", "mine")
    assert captioning.predict_file(again, npy(d.features[:3]), "three.npy", beam=1) == r


def test_a_model_of_your_files_keeps_its_held_out_images_with_their_captions(trained, monkeypatch):
    _, bundle, d = trained
    held = captioning.heldout_images(store.load("captioning", "mine"))
    rows = np.random.default_rng(0).permutation(1000)          # user_files' CSV order: pair i is image rows[i]
    _, val_idx = captioning.split_images(rows, bundle.params["seed"])
    assert [i["row"] for i in held] == sorted(rows[val_idx[:captioning.MAX_HELDOUT]])   # held out, never trained on
    for image in held:                 # its features and the file's captions (as read: lower-case words)
        np.testing.assert_array_equal(image["features"], d.features[image["row"]])
        assert image["truth"] == ([" ".join(d.captions[0][image["row"]])], [" ".join(d.captions[1][image["row"]])])
    monkeypatch.delenv("SEQVIZ_MODELS")                          # the shipped default: generated scenes keep none
    assert store.load("captioning", "default").heldout is None


def test_cli_trains_on_both_files_and_exits_2_on_a_bad_one(tmp_store, tmp_path):
    csv, feats, _ = user_files(120, 16)
    (tmp_path / "caps.csv").write_bytes(csv)
    (tmp_path / "feats.npy").write_bytes(feats)
    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        code = cli.main(["train", "captioning", "--data", str(tmp_path / "caps.csv"), "--features",
                         str(tmp_path / "feats.npy"), "--set", "epochs=1", "--set", "units=8", "--name", "cli"])
    assert code == 0
    summary = json.loads(out.getvalue().strip().splitlines()[-1])
    assert summary["params"]["feature_dim"] == 16 and summary["data"]["features"]["filename"] == "feats.npy"
    (tmp_path / "few.npy").write_bytes(npy(np.ones((10, 16), np.float32)))
    err = io.StringIO()
    with contextlib.redirect_stderr(err):
        code = cli.main(["train", "captioning", "--data", str(tmp_path / "caps.csv"), "--features",
                         str(tmp_path / "few.npy"), "--name", "bad"])
    assert code == 2 and "few.npy has 10 rows" in err.getvalue()
    assert not (tmp_store / "captioning" / "bad").exists()


def test_a_background_job_carries_the_features_file_to_its_worker(tmp_store):
    csv, feats, _ = user_files(100, 16)
    job = training.submit(training.plan("captioning", {"epochs": 1, "units": 8}, csv, "caps.csv", "bg",
                                        files={"features": ("feats.npy", feats)}))
    assert job.wait(600) and job.status == "done", job.error
    config = json.loads((tmp_store / "captioning" / "bg" / "config.json").read_text())
    assert config["params"]["feature_dim"] == 16 and config["data"]["features"]["bytes"] == len(feats)
