"""The model store (round trips, atomic writes) and the training service (events, cancel, join, seeds).

The tests here need no model; those that train or load one are in tests/model/test_store_training.py."""

import pytest

from seqviz import graphs, store, training
from seqviz.errors import SeqvizError
from tests.conftest import TINY


def test_store_refuses_bad_names_and_missing_models(tmp_store):
    for bad in ["../evil", ".hidden", "", "a/b", "x" * 65]:
        with pytest.raises(SeqvizError, match="not allowed"):
            store.check_name(bad)
    with pytest.raises(SeqvizError, match="No attention model named 'nope'"):
        store.load("attention", "nope")
    with pytest.raises(SeqvizError, match="Unknown architecture"):
        store.list_models("transformer")
    broken = tmp_store / "attention" / "broken"
    broken.mkdir(parents=True)
    (broken / "config.json").write_text("{not json")
    (broken / "metrics.json").write_text("{not json")
    with pytest.raises(SeqvizError, match="attention/broken is damaged"):
        store.load("attention", "broken")
    with pytest.raises(SeqvizError, match="damaged"):
        store.read_json("attention", "broken")


def test_plan_validates_settings_and_uploads_before_any_work(tmp_store):
    with pytest.raises(SeqvizError, match="epochs must be between 1 and 50"):
        training.plan("attention", {"epochs": 0})
    with pytest.raises(SeqvizError, match="single label"):
        training.plan("attention", {}, upload=b"text,label\n" + b"some words,a\n" * 12, filename="one.csv")
    a = training.plan("attention", TINY)
    assert a.name == f"run-{a.key}" and a.key == training.plan("attention", TINY).key
    assert training.plan("attention", {**TINY, "epochs": 2}).key != a.key


def test_once_per_model_builds_once_when_threads_ask_together():
    """A model's traced graphs are built once, though a page's worker threads (or two sessions) ask at the
    same time; each model gets its own."""
    import time
    from concurrent.futures import ThreadPoolExecutor
    built = []

    @graphs.once_per_model
    def graph(model, arg):
        built.append(arg)
        time.sleep(0.05)           # a slow build: the other callers arrive while it runs
        return object()

    class Model:
        pass
    one, other = Model(), Model()
    with ThreadPoolExecutor(8) as pool:
        got = list(pool.map(lambda i: graph(one, i), range(8)))
    assert len(built) == 1 and all(g is got[0] for g in got)
    assert graph(other, 9) is not got[0] and built[1:] == [9]
    assert graph(one, 10) is got[0] and len(built) == 2


def test_a_finished_run_says_its_score_and_what_would_help_when_it_is_low(tmp_path, monkeypatch):
    import json
    from seqviz import training
    monkeypatch.setenv("SEQVIZ_MODELS", str(tmp_path))
    for name, metrics in {"low": {"val_exact": 0.011}, "good": {"val_exact": 0.97}, "none": {}}.items():
        (tmp_path / "seq2seq" / name).mkdir(parents=True)
        (tmp_path / "seq2seq" / name / "metrics.json").write_text(json.dumps(metrics))
    low = training.outcome("seq2seq", "low")
    assert low.startswith("held-out exact match 1.1%: low, the model has not learned its task yet; more training "
                          "examples or more epochs (the Full preset")
    assert training.outcome("seq2seq", "low", {"source": "upload"}).endswith("more rows of your data or more "
                                                                             "epochs would help")
    assert training.outcome("seq2seq", "good") == "held-out exact match 97.0%"
    assert training.outcome("seq2seq", "none") == ""
    (tmp_path / "lm" / "m").mkdir(parents=True)
    (tmp_path / "lm" / "m" / "metrics.json").write_text(json.dumps({"val_perplexity": 191.24}))
    assert training.outcome("lm", "m") == "held-out perplexity 191.2"
