"""The explanations over the held-out set of every architecture but the attention classifier's (which adds its
faithfulness tests, tests/model/test_explain_attention.py): seqviz.explain.over of each one's held-out cases, and
the CLI's --heldout and --file."""
import json

import numpy as np
import pytest

from seqviz import captioning, cli, dialogue_acts, explain, lm, seq2seq, store
from seqviz.errors import SeqvizError

PAIRS = {"grad|gradl2", "grad|ig", "grad|occlusion", "gradl2|ig", "gradl2|occlusion", "ig|occlusion"}


@pytest.mark.parametrize("arch,name,n", [("lm", "default", 30), ("dialogue-acts", "default", 20),
                                         ("captioning", "default", 20)])
def test_held_out_agreement_of_every_pair_of_methods(arch, name, n):
    r = explain.heldout(store.load(arch, name), n)
    assert r["cases"] == n and 0 < r["n"] <= n and set(r["pairs"]) == PAIRS
    for pair in r["pairs"].values():
        assert -1 <= pair["tau_q1"] <= pair["tau"] <= pair["tau_q3"] <= 1 and 0 <= pair["top1"] <= 1
    # integrated gradients and leave-one-out measure the same thing two ways: they agree on most inputs
    assert r["pairs"]["ig|occlusion"]["tau"] > 0.2, r["pairs"]["ig|occlusion"]


def test_held_out_cases_are_the_models_held_out_inputs():
    b = store.load("captioning", "default")
    cases = captioning.heldout_cases(b, 12)
    assert [t for _, t in cases[:10]] == [f"1:{k}" for k in range(1, 10)] + ["2:1"]      # every word, both heads
    assert all(x.shape == (b.params["feature_dim"],) for x, _ in cases)
    assert {t for _, t in dialogue_acts.heldout_cases(store.load("dialogue-acts", "default"), 5)} == \
        {"1", "2", "3", "4", "5"}
    prompts = lm.heldout_cases(store.load("lm", "default"), 3)
    assert len(prompts) == 3 and all(len(p.split()) == 8 and t is None for p, t in prompts)
    for arch, heldout_cases in (("lm", lm.heldout_cases), ("dialogue-acts", dialogue_acts.heldout_cases)):
        d = store.load(arch, "default")
        upload = store.Bundle(d.arch, "mine", d.params, d.model, d.vocabs, {}, {"source": "upload"})
        with pytest.raises(SeqvizError, match="which it does not keep"):
            heldout_cases(upload)


def test_the_attention_alignment_agrees_with_the_gradients_over_the_held_out_sources(capsys):
    assert cli.main(["explain", "seq2seq", "--model", "default-attention", "--heldout"]) == 0
    r = json.loads(capsys.readouterr().out)
    assert r["cases"] == 40 and r["n"] > 40                                   # one input per output step
    assert set(r["pairs"]) == PAIRS | {f"{k}|attention" for k in explain.METHODS}
    assert r["pairs"]["ig|attention"]["tau"] > 0.2 and r["pairs"]["ig|attention"]["top1"] > 0.7
    basic = seq2seq.heldout_cases(store.load("seq2seq", "default-basic"), 3)
    assert len(basic) == 3 and all(t is None and s for s, t in basic)


def test_the_cli_explains_a_feature_file_and_refuses_in_one_line(tmp_path, capsys):
    b = store.load("captioning", "default")
    one = tmp_path / "one.npy"
    np.save(one, captioning.text_features(b, "sample 1")[0][None])               # (1, D): one row
    assert cli.main(["explain", "captioning", "--file", str(one), "--target", "2:3", "--method", "occlusion"]) == 0
    r = json.loads(capsys.readouterr().out)
    assert r["target"] == "P(caption 2 word 3 = rouges)" and r["units"][:2] == ["image → branch 1", "image → branch 2"]
    two = tmp_path / "two.npy"
    np.save(two, np.zeros((2, b.params["feature_dim"]), np.float32))
    for argv, said in ((["--file", str(two)], "has 2 rows; explain reads one image's features"),
                       (["--file", str(one), "--text", "sample 1"], "one of them"),
                       (["--text", "sample 1", "--target", "3:1"], "head 1 has words 1 to 9"),
                       (["--heldout", "--file", str(one)], "leave out --text")):
        assert cli.main(["explain", "captioning", *argv]) == 2
        assert said in capsys.readouterr().err
