"""The captioner's held-out set, caption by caption (seqviz.evaluate through captioning's heldout_data and
score_examples): each head's stored exact match and BLEU-1 reproduced, the batched scoring equal to one image at a
time, a model of your files scored on the held-out pairs it keeps, and your files scored from the CLI."""
import json

import numpy as np
import pytest

from seqviz import captioning, cli, evaluate, store, training
from tests.model.test_captioning_files import user_files


def test_each_heads_stored_metrics_are_reproduced():
    b = store.load("captioning", "default")
    scored = evaluate.score(b)
    r = evaluate.report(scored)
    assert r["overall"]["n"] == 2 * b.metrics["n_val"]
    per_head = {x["value"]: x for x in r["slices"]["head"]}
    for k, name in enumerate(captioning.heads(b), 1):
        assert per_head[name]["accuracy"] == pytest.approx(b.metrics[f"val_exact_{k}"])
        assert per_head[name]["BLEU-1"] == pytest.approx(b.metrics[f"val_bleu1_{k}"])
    assert scored.vectors.shape == (2 * b.metrics["n_val"], 2 * b.params["image_units"])
    # the batched scoring = one image at a time; the confidence = the product of the caption's word probabilities
    data = captioning.heldout_data(b)
    x = data.features[:3]
    pairs = [(r["examples"][2 * i]["pred"], r["examples"][2 * i + 1]["pred"]) for i in range(3)]
    batched = captioning.score_pairs(b, x, pairs)
    for i in range(3):
        one = captioning.score(b, x[i], list(pairs[i]))
        assert batched[i][0] == pytest.approx(one[0], abs=1e-6) and batched[i][1] == pytest.approx(one[1], abs=1e-6)
        assert r["examples"][2 * i]["confidence"] == pytest.approx(np.prod(one[0]), rel=1e-5)


def test_your_files_are_scored_from_the_cli_and_a_model_of_them_keeps_its_held_out_pairs(tmp_store, tmp_path,
                                                                                        capsys):
    csv, feats, _ = user_files(100, 16)
    training.train(training.plan("captioning", {"epochs": 1, "units": 8}, csv, "caps.csv", "mine",
                                 files={"features": ("feats.npy", feats)}))
    b = store.load("captioning", "mine")
    data = captioning.heldout_data(b)
    assert len(data.rows) == min(captioning.MAX_HELDOUT, b.metrics["n_val"])
    assert all(isinstance(r, int) for r in data.image_rows)
    r = evaluate.run(b)
    assert r["shown_name"] == "image" and evaluate.input_of(r, r["examples"][0]).startswith("row ")
    (tmp_path / "caps.csv").write_bytes(csv)
    (tmp_path / "feats.npy").write_bytes(feats)
    assert cli.main(["evaluate", "captioning", "--model", "mine", "--data", str(tmp_path / "caps.csv"),
                     "--features", str(tmp_path / "feats.npy"), "--no-examples"]) == 0
    out = json.loads(capsys.readouterr().out)
    assert out["overall"]["n"] == 200 and set(out["slices"]) == {"head", "caption length"}
    assert cli.main(["evaluate", "captioning", "--features", str(tmp_path / "feats.npy")]) == 2
    assert "--features goes with --data" in capsys.readouterr().err
