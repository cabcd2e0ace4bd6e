"""What the pages ask of the architecture modules instead of computing it themselves: seq2seq's models grouped
by task, the LM race's plan, its runs and traces, and the dialogue-acts decode a prediction carries.

The tests here need no model; those that train or load one are in tests/model/test_page_logic.py."""
import json
import os

import pytest

from seqviz import lm, seq2seq, store
from seqviz.errors import SeqvizError


def _entry(name: str, config: dict, metrics: dict, arch: str = "seq2seq") -> None:
    path = store.root() / arch / name
    path.mkdir(parents=True)
    (path / "config.json").write_text(json.dumps(config))
    (path / "metrics.json").write_text(json.dumps(metrics))


def test_seq2seq_models_are_grouped_by_task_and_mode(store_with_defaults):
    pairs = {"params": {"task": "file", "mode": "peek", "depth": 1},
             "data": {"filename": "sums.csv", "sha1": "0123456789abcdef"}}
    _entry("run-sums", pairs, {"examples": [["1+2", "3"], ["2+2", "4"]], "val_exact": 0.5, "n_val": 2})
    _entry("run-sums-2", {**pairs, "params": {**pairs["params"], "mode": "basic"}}, {"val_exact": 0.25})
    _entry("run-broken", {"params": "not a dict"}, {})
    os.utime(store.root() / "seq2seq" / "run-sums", (2e9, 2e9))    # the newest: the file's first model
    groups = seq2seq.group_by_task()
    assert "run-broken" not in groups.configs
    assert groups.tasks == ["digits", "sort", "piglatin", "file:0123456789"]   # every model of one file: one entry
    assert groups.label("digits") == "digits → words" and groups.label("file:0123456789") == "your pairs: sums.csv"
    assert groups.models("digits", "attention") == ["default-attention"]
    assert groups.models("sort") == ["default-sort", "default-sort-basic", "default-sort-feedback", "default-sort-peek"]
    assert groups.models("file:0123456789", "peek") == ["run-sums"]
    assert groups.models("file:0123456789") == ["run-sums", "run-sums-2"]
    assert groups.examples("digits") == [] and groups.examples("file:0123456789") == [["1+2", "3"], ["2+2", "4"]]
    rows = groups.accuracy("digits")
    assert [r["model"] for r in rows] == [f"default-{m}" for m in seq2seq.MODES]
    assert all(f"exact @ {store.read_json('seq2seq', r['model'])['len_long']}" in r for r in rows)
    mine = {r["model"]: r for r in groups.accuracy("file:0123456789")}
    assert mine["run-sums"]["exact (all)"] == 0.5 and not any(k.startswith("exact @") for k in mine["run-sums"])


def test_the_lm_race_is_planned_once_per_setting(tmp_store):
    knobs = lm.race_knobs()
    assert "softmax" not in [p.name for p in knobs] and next(p for p in knobs if p.name == "epochs").default == 1
    values = {p.name: p.default for p in knobs} | {"corpus": "zipf", "vocab_size": 300, "num_sampled": 20}
    race = lm.plan_race(values)
    assert lm.race_key(race.key) == race.key and not race.ran
    assert {side: p.params["softmax"] for side, p in race.runs.items()} == {"sampled": "sampled", "full": "full"}
    assert {p.name for p in race.runs.values()} == {f"race-{race.key}-sampled", f"race-{race.key}-full"}
    assert lm.plan_race(values).key == race.key != lm.plan_race({**values, "seed": 1}).key
    with pytest.raises(SeqvizError, match="num_sampled"):
        lm.plan_race({**values, "num_sampled": 300})
    for side in lm.RACE_SIDES:     # both models saved: the same settings show that race instead of running it
        _entry(lm.race_name(race.key, side), {"params": {}}, {}, arch="lm")
    assert lm.plan_race(values).ran
    assert lm.race_traces({}, race.key) == {"sampled": None, "full": None}      # saved without a trace
    assert lm.race_traces({}, "") == {} and lm.race_jobs(race.key) == {}
    assert lm.race_key("0123456789") == "0123456789"
    assert [lm.race_key(k) for k in ("012345678", "0123456789a", "ABCDEF0123", "²123456789", None)] == [""] * 5
