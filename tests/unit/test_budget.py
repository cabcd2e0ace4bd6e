"""The memory budget (seqviz.budget) and the inputs that used to escape it: a device read whole, a forged
.npy header, the LM's knobs at their maxima, a small CSV with 50,000 labels. Each is refused with one clear
line, and the process that refused it stayed far under the budget (its peak RSS, measured).

The tests here need no model; those that train or load one are in tests/model/test_budget.py."""
import json

import pytest

from seqviz import archs, budget, store, training, uploads
from seqviz.errors import SeqvizError
from seqviz.params import resolve


LM_MAXIMA = {"vocab_size": 100_000, "embed_dim": 1024, "units": 1024, "seq_len": 200, "batch_size": 1024,
             "num_sampled": 16_384, "epochs": 50}


def _labels_csv(n_rows: int, n_labels: int) -> bytes:
    return ("text,label\n" + "".join(f"words of row {i},label{i % n_labels}\n" for i in range(n_rows))).encode()


def test_a_file_is_measured_before_it_is_read(tmp_path, monkeypatch):
    big = tmp_path / "big.txt"
    with open(big, "wb") as f:                 # a sparse 3 GB file: its size says no before a byte is read
        f.truncate(3 * 2**30)
    with pytest.raises(SeqvizError, match=r"big.txt is 3072.0 MB; the limit is 1024 MB"):
        uploads.read_path(str(big))            # the documented default: 1 GiB
    monkeypatch.setenv("SEQVIZ_MAX_FILE_MB", "5")
    with pytest.raises(SeqvizError, match=r"big.txt is 3072.0 MB; the limit is 5 MB"):
        uploads.read_path(str(big))
    with pytest.raises(SeqvizError, match="larger than the 5 MB limit"):
        uploads.read_path("/dev/zero")         # no size: read up to the limit + 1 byte, then refused
    with pytest.raises(SeqvizError, match="is a folder"):
        uploads.read_path(str(tmp_path))
    with pytest.raises(SeqvizError, match="No such file"):
        uploads.read_path(str(tmp_path / "missing.csv"))
    ok = tmp_path / "ok.txt"
    ok.write_bytes(b"hello")
    assert uploads.read_path(str(ok)) == b"hello"


@pytest.mark.parametrize("n_rows, n_labels, refused", [(20_000, 20_000, True), (1_000, 300, True),
                                                         (2_000, 1_500, True), (100, 20, False),
                                                         (1_000, 200, False)])
def test_label_counts_are_bounded(n_rows, n_labels, refused):
    raw = _labels_csv(n_rows, n_labels)
    if refused:
        with pytest.raises(SeqvizError, match=f"{n_labels:,} distinct labels in {n_rows:,} rows"):
            training.plan("attention", {}, raw, "labels.csv")
    else:
        assert training.plan("attention", {}, raw, "labels.csv").data is not None


def test_the_budget_comes_from_the_environment(monkeypatch):
    monkeypatch.setenv(budget.ENV, "12")
    assert budget.limit() == 12e9
    monkeypatch.delenv(budget.ENV)
    assert budget.limit() == budget.DEFAULT_GB * 1e9
    for bad in ("lots", "-1", "0", "nan", "inf"):
        monkeypatch.setenv(budget.ENV, bad)
        with pytest.raises(SeqvizError, match="SEQVIZ_MEMORY_GB must be a number of gigabytes"):
            budget.limit()
    monkeypatch.setenv(budget.ENV, "0.5")                     # below what TensorFlow alone holds
    with pytest.raises(SeqvizError, match="a TensorFlow process alone holds about 750 MB; raise SEQVIZ_MEMORY_GB"):
        training.plan("attention", {})


@pytest.mark.parametrize("arch", list(archs.ARCHS))
def test_every_default_and_quick_preset_fits_the_default_budget(arch):
    mod = archs.get(arch).module()
    for over in ({}, mod.QUICK):
        params = resolve(mod.PARAMS, over)
        assert budget.need(mod.memory(params)) < budget.DEFAULT_GB * 1e9 / 2, (arch, over)
        budget.check(lambda p: mod.memory(p), params, mod.PARAMS)


def test_the_suggested_value_is_the_largest_that_fits():
    """seq2seq at batch 1024, 512 units, depth 4: refused, naming batch_size; the suggested batch size fits
    and one more does not."""
    from seqviz import seq2seq
    params = resolve(seq2seq.PARAMS, {"batch_size": 1024, "units": 512, "depth": 4, "max_len": 20})
    with pytest.raises(SeqvizError) as e:
        budget.check(lambda p: seq2seq.memory(p), params, seq2seq.PARAMS)
    message = str(e.value)
    assert "over the 4.0 GB budget (SEQVIZ_MEMORY_GB)" in message and "batch_size × units × depth" in message
    best = int(message.split("batch_size ")[-1].split(" or less")[0].replace(",", ""))
    need = lambda b: budget.need(seq2seq.memory({**params, "batch_size": b}))   # noqa: E731
    assert 8 <= best < 1024 and need(best) <= 4e9 < need(best + 1)


def test_no_single_knob_is_said_when_none_would_do():
    from seqviz import lm
    params = resolve(lm.PARAMS, LM_MAXIMA)
    with pytest.raises(SeqvizError, match="no one setting alone brings it under the budget"):
        budget.check(lambda p: lm.memory(p), params, lm.PARAMS)


def test_a_stored_model_whose_weights_exceed_the_budget_is_refused_before_building(store_with_defaults, monkeypatch):
    """Within every knob's range, an LM of 100,000 words x 1024 units holds 0.8 GB of weights: under a 1.5 GB
    budget it is refused at load, before a weight is allocated."""
    entry = store_with_defaults / "lm" / "default"
    config = json.loads((entry / "config.json").read_text())
    config["params"].update(vocab_size=100_000, embed_dim=1024, units=1024, num_sampled=16_384)
    (entry / "config.json").write_text(json.dumps(config))
    monkeypatch.setenv(budget.ENV, "1.5")
    with pytest.raises(SeqvizError, match=r"The store entry lm/default's weights need about 1.6 GB of memory, "
                                          r"over the 1.5 GB budget"):
        store.load("lm", "default")


def test_a_file_whose_reading_would_not_fit_is_refused_before_it_is_parsed(tmp_store, monkeypatch):
    """A CSV holds ~12x its size once read into Python strings: under a 1 GB budget a 30 MB file is refused with
    that sentence (nothing parsed), and SEQVIZ_MAX_FILE_MB must be a number."""
    monkeypatch.setenv("SEQVIZ_MEMORY_GB", "1")
    raw = b"conversation_id,utterance,act\n" + b"1,hello there,x\n" * (30 * 2**20 // 16)
    with pytest.raises(SeqvizError) as e:
        training.plan("dialogue-acts", {}, raw, "big.csv")
    assert all(w in str(e.value) for w in ["big.csv is 31 MB", "reading it holds about", "12× its size",
                                            "SEQVIZ_MEMORY_GB"]), str(e.value)
    monkeypatch.setenv("SEQVIZ_MAX_FILE_MB", "lots")
    with pytest.raises(SeqvizError, match="SEQVIZ_MAX_FILE_MB must be a number of megabytes"):
        uploads.read_path("/dev/null")
