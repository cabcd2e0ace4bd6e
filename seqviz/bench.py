"""Benchmarks, run as `python -m seqviz bench NAME [--quick]`: figures printed as they come (stderr),
a JSON summary returned (the CLI prints it as the last line). Ratios are measured side by side in one run."""
from __future__ import annotations

import sys
import time
from pathlib import Path

from seqviz.errors import SeqvizError


def _say(msg: str) -> None:
    print(msg, file=sys.stderr, flush=True)


def _best_of(fn, repeats: int) -> tuple[float, object]:
    best, out = float("inf"), None
    for _ in range(repeats):
        t0 = time.perf_counter()
        out = fn()
        best = min(best, time.perf_counter() - t0)
    return best, out


def attention_single_pass(quick: bool = False) -> dict:
    """The default attention model on N generated inputs: one `predict` that returns [probs, attention]
    against the intermediate-model way (predict, predict again up to the BiLSTM, redo the maths)."""
    import numpy as np
    from seqviz import attention, store
    bundle = store.load("attention")
    n = 400 if quick else 2000
    data = attention.make_toy(n, seed=12345)
    x = attention.encode(bundle.vocabs["words"], data.texts, bundle.params["max_len"])
    model = bundle.model
    two_pass = attention.two_pass(model)
    model.predict(x[:256], batch_size=256, verbose=0)            # warm up both paths (tracing)
    two_pass(x[:256])
    repeats = 3 if quick else 7
    one_s, (probs1, att1) = _best_of(lambda: model.predict(x, batch_size=256, verbose=0), repeats)
    _say(f"one pass : {one_s:.3f} s for {n} inputs")
    two_s, (probs2, att2) = _best_of(lambda: two_pass(x), repeats)
    _say(f"two pass : {two_s:.3f} s for {n} inputs")
    diff = float(max(np.abs(att1 - att2).max(), np.abs(probs1 - probs2).max()))
    _say(f"ratio {two_s / one_s:.2f}x, max |attention difference| {diff:.2e}")
    return {"n": n, "one_pass_s": round(one_s, 4), "two_pass_s": round(two_s, 4),
            "ratio": round(two_s / one_s, 3), "max_abs_diff": diff}


def _defaults(arch_list):
    """(arch, store name, knob overrides) of every shipped default (the registry's `defaults`)."""
    for arch in arch_list:
        for name, overrides in arch.defaults.items():
            yield arch, name, overrides


class _temp_store:
    """SEQVIZ_MODELS pointed at a throw-away store for the block."""

    def __enter__(self):
        import os
        import tempfile
        self.tmp = tempfile.TemporaryDirectory()
        self.old, os.environ["SEQVIZ_MODELS"] = os.environ.get("SEQVIZ_MODELS"), self.tmp.name

    def __exit__(self, *exc):
        import os
        if self.old is None:
            del os.environ["SEQVIZ_MODELS"]
        else:
            os.environ["SEQVIZ_MODELS"] = self.old
        self.tmp.cleanup()


def train_defaults(quick: bool = False) -> dict:
    """Seconds for each architecture's default config to train (the same run as the sidebar's Train
    button with untouched knobs), into a throw-away store, with the metrics it reached."""
    from seqviz import archs, training
    results = []
    with _temp_store():
        for arch, name, overrides in _defaults(archs.ARCHS.values()):
            bundle = training.train(training.plan(arch.id, overrides, name="bench"))
            row = {"arch": arch.id, "model": name, "seconds": bundle.metrics["train_seconds"],
                   **{k: bundle.metrics.get(k) for k in arch.headline if k != "train_seconds"}}
            _say(" ".join(f"{k}={v}" for k, v in row.items()))
            results.append(row)
    return {"results": results}


def replay_overhead(quick: bool = False) -> dict:
    """What recording a replay (seqviz.replay) costs a training run: every shipped default's config (--quick: the
    first of each architecture) trained with the snapshots off and on, side by side (the order alternating from
    one config to the next), each run's own train_seconds, ratio on / off; and the seconds the snapshots
    themselves took in the run with them (replay_seconds), as a share of that run."""
    import statistics
    from seqviz import archs, training
    configs = list(_defaults(archs.ARCHS.values()))
    if quick:
        configs = [c for i, c in enumerate(configs) if c[0] not in [a for a, _, _ in configs[:i]]]
    rows = []
    with _temp_store():
        for i, (arch, name, overrides) in enumerate(configs):
            seconds, share = {}, None
            for snapshots in ((False, True) if i % 2 == 0 else (True, False)):
                b = training.train(training.plan(arch.id, overrides, name="bench", overwrite=True),
                                   snapshots=snapshots)
                seconds[snapshots] = b.metrics["train_seconds"]
                if snapshots:
                    share = b.metrics["replay_seconds"] / b.metrics["train_seconds"]
            row = {"arch": arch.id, "model": name, "off_s": seconds[False], "on_s": seconds[True],
                   "ratio": round(seconds[True] / seconds[False], 3), "snapshot_share": round(share, 4)}
            _say(" ".join(f"{k}={v}" for k, v in row.items()))
            rows.append(row)
    return {"results": rows, "median_ratio": statistics.median(r["ratio"] for r in rows),
            "max_snapshot_share": max(r["snapshot_share"] for r in rows)}


def dialogue_memory(quick: bool = False) -> dict:
    """One training epoch of the dialogue-acts model on a corpus shaped like the Keras user's (51
    conversations, up to 3391 utterances of up to 431 words, ~9.5k word types, 300-d embeddings), read
    through the same bucketed-window pipeline as every training run. Dense padding of that corpus
    would need 51 x 3391 x 431 x 300 float32 = 89 GB for the embeddings alone."""
    import resource
    import numpy as np
    from seqviz import dialogue_acts as da
    from seqviz.params import resolve
    from seqviz.vocab import Vocab
    rng = np.random.default_rng(0)
    n_conv, max_utts = (8, 400) if quick else (51, 3391)
    max_words, n_words, n_tags = 431, 9500, 10
    lengths = rng.integers(max_utts // 10, max_utts + 1, size=n_conv)
    lengths[0] = max_utts
    zipf = 1.0 / np.arange(1, n_words + 1)
    zipf /= zipf.sum()
    ids, tags = [], []
    for n in lengths:  # utterance lengths: log-normal around 8 words, clipped to 1..431
        words = np.clip(rng.lognormal(2.0, 0.9, size=n).astype(int), 1, max_words)
        ids.append([list(rng.choice(n_words, size=w, p=zipf) + 2) for w in words])
        tags.append(list(rng.integers(0, n_tags, size=n)))
    ids[0][0] = list(rng.integers(2, n_words + 2, size=max_words))      # one utterance of exactly 431 words
    shape = [n_conv, int(max(lengths)), max(len(u) for d in ids for u in d)]
    n_utts, n_tokens = int(sum(lengths)), sum(len(u) for d in ids for u in d)
    _say(f"corpus: {n_conv} conversations, {n_utts:,} utterances, {n_tokens:,} words, shape {shape}; dense "
         f"padding would need {np.prod(shape) * 300 * 4 / 1e9:.0f} GB of embeddings")
    params = resolve(da.PARAMS, {"embed_dim": 300, "word_units": 16, "context_units": 16, "epochs": 1,
                                 "window": 64, "batch_size": 8, "max_words": max_words})
    vocabs = {"words": Vocab([f"w{i}" for i in range(n_words)]), "tags": Vocab([f"t{i}" for i in range(n_tags)],
                                                                             specials=())}
    t0 = time.perf_counter()
    da.train_on_ids(params, vocabs, ids, tags)
    seconds = time.perf_counter() - t0
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 2**20     # KiB -> GiB
    _say(f"one epoch: {seconds:.1f} s, peak RSS {peak:.2f} GB")
    return {"shape": shape, "utterances": n_utts, "words": n_tokens, "peak_rss_gb": round(peak, 3),
            "seconds": round(seconds, 1)}


def swda_csv(path, quick: bool = False, seed: int = 0, words: list[str] | None = None) -> dict:
    """Write a generated corpus with the Switchboard DA corpus' shape as a user's CSV (conversation_id, utterance,
    act, speaker): 1,155 conversations (--quick: 116), ~221k utterances (~191 per conversation), 42 tags following
    a Markov chain with Zipf-like frequencies, utterances of log-normal length (median ~6 words, up to 80) over a
    Zipfian vocabulary of 20k words (or `words`), speakers alternating in turns. Returns its shape."""
    import csv

    import numpy as np
    rng = np.random.default_rng(seed)
    n_conv, n_tags, n_words = (116 if quick else 1155), 42, 20_000 if words is None else len(words)
    weights = 1.0 / np.arange(1, n_tags + 1) ** 1.1                         # a few acts dominate, as in SwDA
    chain = rng.dirichlet(np.full(n_tags, 0.3), size=n_tags) * 0.5 + weights / weights.sum() * 0.5
    zipf = 1.0 / np.arange(1, n_words + 1)
    zipf /= zipf.sum()
    vocab = np.array([f"w{i}" for i in range(n_words)] if words is None else words)
    utts = 0
    with open(path, "w", newline="", encoding="utf-8") as f:
        out = csv.writer(f)
        out.writerow(["conversation_id", "utterance", "act", "speaker"])
        for c in range(n_conv):
            n = max(20, int(rng.normal(191, 60)))
            lengths = np.clip(rng.lognormal(1.8, 0.8, size=n).astype(int), 1, 80)
            words = vocab[rng.choice(n_words, size=int(lengths.sum()), p=zipf)]
            tag, speaker, start = int(rng.integers(n_tags)), "A", 0
            for length in lengths:
                out.writerow([f"sw{c:04d}", " ".join(words[start:start + length]), f"t{tag}", speaker])
                start += length
                tag = int(rng.choice(n_tags, p=chain[tag]))
                speaker = speaker if rng.random() < 0.3 else ("B" if speaker == "A" else "A")
            utts += n
    return {"conversations": n_conv, "utterances": utts, "tags": n_tags}


_SWDA_RUN = """
import json, resource, sys, time
from seqviz import training
from seqviz.uploads import read_path
times = {}
def on(e):
    if e["type"] == "begin": times["fit"] = time.perf_counter()
    if e["type"] == "epoch": times["epoch"] = time.perf_counter()
t0 = time.perf_counter()
p = training.plan("dialogue-acts", {"epochs": 1}, read_path(sys.argv[1]), "swda.csv", "swda")
read = time.perf_counter() - t0
bundle = training.train(p, on_event=on)
print(json.dumps({"read_s": read, "epoch_s": times["epoch"] - times["fit"], "train_s": bundle.metrics["train_seconds"],
                  "test_accuracy": bundle.metrics["val_accuracy"], "n_train": bundle.metrics["n_train_dialogues"],
                  "peak_rss_gb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 2**20}))
"""


def dialogue_swda(quick: bool = False) -> dict:
    """A Switchboard-shaped corpus (`swda_csv`) written as a CSV and trained through the same path as a user's
    file (the CLI's `read_path`, `training.plan`, `training.train`), one epoch at the default settings, in a
    fresh process: the CSV's size, that process's peak RSS, the epoch's seconds and utterances per second."""
    import json
    import os
    import subprocess
    import tempfile
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "swda.csv"
        shape = swda_csv(path, quick)
        mb = path.stat().st_size / 1e6
        _say(f"corpus: {shape['conversations']:,} conversations, {shape['utterances']:,} utterances, "
             f"{shape['tags']} tags: {mb:.1f} MB CSV")
        here = str(Path(__file__).resolve().parent.parent)
        env = {**os.environ, "SEQVIZ_MODELS": str(Path(tmp) / "models"), "PYTHONPATH": here,
               "TF_CPP_MIN_LOG_LEVEL": "3"}
        done = subprocess.run([sys.executable, "-c", _SWDA_RUN, str(path)], capture_output=True, text=True, env=env)
        if done.returncode != 0:
            raise SeqvizError(f"the training process failed: {done.stderr.strip()[-500:]}")
        r = json.loads(done.stdout.strip().splitlines()[-1])
    n_train = r["n_train"] / shape["conversations"] * shape["utterances"]       # utterances trained on, about
    out = {**shape, "csv_mb": round(mb, 1), "peak_rss_gb": round(r["peak_rss_gb"], 2),
           "read_s": round(r["read_s"], 1), "epoch_s": round(r["epoch_s"], 1), "train_s": r["train_s"],
           "utterances_per_s": round(n_train / r["epoch_s"]), "held_out_accuracy": round(r["test_accuracy"], 3)}
    _say(f"read {out['read_s']} s; one epoch {out['epoch_s']} s ({out['utterances_per_s']:,} utterances/s); "
         f"whole run {out['train_s']} s; peak RSS {out['peak_rss_gb']} GB")
    return out


_EVALUATE_RUN = """
import json, resource, sys, time
from seqviz import evaluate, store
from seqviz.uploads import read_path
t0 = time.perf_counter()
raw = read_path(sys.argv[3])
r = evaluate.run(store.load(sys.argv[1], sys.argv[2]), raw, "file.csv")
rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 2**20
print(json.dumps({"seconds": time.perf_counter() - t0, "n": r["overall"]["n"], "accuracy": r["overall"]["accuracy"],
                  "examples": len(r["examples"]), "peak_rss_gb": rss}))
"""


def evaluate_files(quick: bool = False) -> dict:
    """`evaluate` end to end on files, each in a fresh process (the CLI's path: read_path, the architecture's
    read_upload, scoring in batches, the report with every example): a 20k-row attention CSV (2k with --quick)
    scored by the shipped default, and the Switchboard-shaped dialogue CSV (`swda_csv`) scored by a model
    trained one epoch on a tenth of it (its own 42 tags). Rows per second and each process's peak RSS (goal:
    <= 4 GB)."""
    import json
    import os
    import subprocess
    import tempfile

    from seqviz import attention
    here = str(Path(__file__).resolve().parent.parent)

    def child(code: str, *args, env: dict) -> dict:
        done = subprocess.run([sys.executable, "-c", code, *args], capture_output=True, text=True, env=env)
        if done.returncode != 0:
            raise SeqvizError(f"the process failed: {done.stderr.strip()[-500:]}")
        return json.loads(done.stdout.strip().splitlines()[-1])

    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        env = {**os.environ, "SEQVIZ_MODELS": str(Path(tmp) / "models"), "PYTHONPATH": here,
               "TF_CPP_MIN_LOG_LEVEL": "3"}
        n = 2_000 if quick else 20_000
        toy = attention.make_toy(n, seed=7)
        csv = Path(tmp) / "sentences.csv"
        csv.write_text("text,label\n" + "".join(f"{t},{label}\n" for t, label in zip(toy.texts, toy.labels)))
        r = child(_EVALUATE_RUN, "attention", "default", str(csv),
                  env={**env, "SEQVIZ_MODELS": os.environ.get("SEQVIZ_MODELS", str(Path(here) / "models"))})
        rows.append({"file": f"attention: {n:,} sentences ({csv.stat().st_size / 1e6:.1f} MB)", **r})
        _say(f"{rows[-1]}")
        small, full = Path(tmp) / "swda-small.csv", Path(tmp) / "swda.csv"
        swda_csv(small, quick=True, seed=1)
        shape = swda_csv(full, quick)
        child(_SWDA_RUN, str(small), env=env)                                   # trains "swda" into the temp store
        r = child(_EVALUATE_RUN, "dialogue-acts", "swda", str(full), env=env)
        rows.append({"file": f"dialogue acts: {shape['conversations']:,} conversations, {shape['utterances']:,} "
                             f"utterances ({full.stat().st_size / 1e6:.1f} MB)", **r})
        _say(f"{rows[-1]}")
    for row in rows:
        row["rows_per_s"] = round(row["n"] / row["seconds"])
        row["seconds"], row["peak_rss_gb"] = round(row["seconds"], 1), round(row["peak_rss_gb"], 2)
    return {"results": rows}


def states_bench(quick: bool = False) -> dict:
    """seqviz.states on each page's default: every LSTM layer's h, c and gates for one input, the first call
    and then the median of 10 (3 with --quick) inputs never seen (goal: <= 100 ms each after the first call);
    each unit's effect on the output (states.effects, the layer that feeds it); the held-out set's states of
    that layer, once per model (`heldout_s`), then LSTMVis' match search over them for the units on over each
    step of the input in turn, the median (`match_ms`; goal: <= 1 s)."""
    import statistics

    import numpy as np

    from seqviz import states, store
    n = 3 if quick else 10
    rows = []
    for page, (arch, name) in EXPLAIN_INPUTS.items():
        bundle = store.load(arch, name)
        texts = _inputs(page, n + 1)
        t0 = time.perf_counter()
        got = states.of(bundle, texts[-1])["layers"]
        first = time.perf_counter() - t0
        times, effects = [], []
        for text in texts[:n]:
            t0 = time.perf_counter()
            states.of(bundle, text)
            times.append(time.perf_counter() - t0)
        layer = next(g for g in got if states.effects(bundle, texts[-1], g["name"]) is not None)
        for text in texts[:n]:
            t0 = time.perf_counter()
            states.effects(bundle, text, layer["name"])
            effects.append(time.perf_counter() - t0)
        t0 = time.perf_counter()
        held = states.heldout(bundle, layer["layer"])
        heldout_s = time.perf_counter() - t0
        direction = next(iter(layer["directions"]))
        a = np.array(layer["directions"][direction]["h"], dtype=float)
        searches = []
        for step in range(len(layer["steps"])):
            on = states.span_units(a, step, step, 0.3)["on"] or states.span_units(a, step, step, 0.0)["ranked"][:1]
            t0 = time.perf_counter()
            states.heldout_matches(bundle, layer["layer"], direction, "h", on, 0.3, 1)
            searches.append(time.perf_counter() - t0)
        rows.append({"page": page, "model": name, "layers": len(got), "first_call_s": round(first, 2),
                     "ms": round(1000 * statistics.median(times), 1), "effects_layer": layer["name"],
                     "effects_ms": round(1000 * statistics.median(effects), 1), "heldout_inputs": len(held["inputs"]),
                     "heldout_rows": len(held["steps"]), "heldout_s": round(heldout_s, 2),
                     "match_ms": round(1000 * statistics.median(searches), 1)})
        _say(f"{rows[-1]}")
    return {"results": rows}


def batch_predict(quick: bool = False) -> dict:
    """predict --data on the attention default, as its author scored 10,000 examples with their attention
    weights: 10,000 generated sentences (--quick: 2,000) in a CSV through seqviz.batch (reading the file,
    tokenising, checking each row, the model in batches of 256, a JSON line per sentence written to a file),
    against Keras' own `model.predict` of the same sentences already encoded and padded (the model alone), twice
    each, alternating, in one run; the ratio of the medians (goal <= 1.5) and the peak RSS. Then the exported
    SavedModel's `serving_default` on the same sentences in batches of 256, raw strings in (tokenised in its
    graph), labels out (goal: within 1.5x of predict --data)."""
    import json
    import resource
    import statistics
    import tempfile
    from pathlib import Path

    import numpy as np

    from seqviz import attention, batch, store
    from seqviz.cli import to_json
    n = 2_000 if quick else 10_000
    bundle = store.load("attention", "default")
    texts = attention.make_toy(n, seed=7).texts
    raw = ("text\n" + "".join(f"{t}\n" for t in texts)).encode()
    ids = attention.encode(bundle.vocabs["words"], texts, bundle.params["max_len"])
    times = {"seqviz": [], "keras": []}
    with tempfile.TemporaryDirectory() as tmp:
        out = Path(tmp) / "out.jsonl"
        for _ in range(2):
            t0 = time.perf_counter()
            rows = batch.read_inputs("attention", raw, "bench.csv")
            with open(out, "w", encoding="utf-8") as f:                     # as predict --data --out writes
                summary = batch.run(bundle, rows, lambda r, f=f: f.write(to_json(r) + "\n"))
            times["seqviz"].append(time.perf_counter() - t0)
            t0 = time.perf_counter()
            probs, att = bundle.model.predict(ids, batch_size=batch.BATCH, verbose=0)
            times["keras"].append(time.perf_counter() - t0)
        text = out.read_text(encoding="utf-8")
        import tensorflow as tf
        from seqviz import export
        export.export("attention", "default", Path(tmp) / "saved")
        serve = tf.saved_model.load(str(Path(tmp) / "saved")).signatures["serving_default"]
        serve(text=tf.constant(texts[:batch.BATCH]))                      # the first call traces
        exported = []
        for _ in range(2):
            t0 = time.perf_counter()
            labels = [lab for i in range(0, n, batch.BATCH)
                      for lab in serve(text=tf.constant(texts[i:i + batch.BATCH]))["label"].numpy()]
            exported.append(time.perf_counter() - t0)
    lines = text.splitlines()
    assert summary["errors"] == 0 and len(lines) == n
    first = json.loads(lines[0])
    assert first["label"] == bundle.vocabs["labels"].tokens[int(np.argmax(probs[0]))]
    seqviz_s, keras_s = (statistics.median(v) for v in times.values())
    out = {"sentences": n, "predict_data_s": round(seqviz_s, 2), "rows_per_s": round(n / seqviz_s),
           "keras_predict_s": round(keras_s, 2), "ratio": round(seqviz_s / keras_s, 2),
           "export_s": round(statistics.median(exported), 2),
           "export_ratio": round(statistics.median(exported) / seqviz_s, 2),
           "export_agrees": float(np.mean([lab.decode() == json.loads(x)["label"] for lab, x in zip(labels, lines)])),
           "peak_rss_gb": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1e6, 2),
           "jsonl_mb": round(len(text.encode()) / 1e6, 1)}
    _say(str(out))
    return {"attention": out, "seq2seq": _batch_seq2seq(quick), "dialogue-acts": _batch_dialogue(quick)}


def _predict_data(bundle, raw: bytes, filename: str, out, options: dict | None = None) -> tuple[dict, float]:
    """predict --data's path into the file `out`: read the rows, run them, a JSON line each. -> (summary, s)."""
    from seqviz import batch
    from seqviz.cli import to_json
    t0 = time.perf_counter()
    rows = batch.read_inputs(bundle.arch, raw, filename)
    with open(out, "w", encoding="utf-8") as f:
        summary = batch.run(bundle, rows, lambda r: f.write(to_json(r) + "\n"), options)
    return summary, time.perf_counter() - t0


def _batch_seq2seq(quick: bool) -> dict:
    """seq2seq's attention default on 10,000 generated sources (--quick: 2,000) with greedy decoding (beam 1: a
    batch side by side, step by step), against `predict` of each source alone (its beam-1 search graph) on the
    first 500 in the same run; then the export (one graph per row, tf.map_fn) in batches of 256."""
    import resource
    import tempfile
    from pathlib import Path

    import tensorflow as tf

    from seqviz import export, seq2seq, store
    n = 2_000 if quick else 10_000
    bundle = store.load("seq2seq", "default-attention")
    sources = [" ".join(s) for s, _ in seq2seq.make_pairs("digits", n, 1, bundle.params["max_len"], 11)]
    raw = ("source\n" + "".join(f"{t}\n" for t in sources)).encode()
    seq2seq.predict(bundle, sources[0], beam=1)                      # both paths traced before the clocks
    seq2seq.predict_batch(bundle, sources[:8], beam=1)
    with tempfile.TemporaryDirectory() as tmp:
        summary, batched = _predict_data(bundle, raw, "bench.csv", Path(tmp) / "out.jsonl", {"beam": 1})
        lines = (Path(tmp) / "out.jsonl").read_text(encoding="utf-8").count("\n")
        t0 = time.perf_counter()
        for text in sources[:500]:
            seq2seq.predict(bundle, text, beam=1)
        alone = (time.perf_counter() - t0) / 500
        export.export("seq2seq", "default-attention", Path(tmp) / "saved")
        serve = tf.saved_model.load(str(Path(tmp) / "saved")).signatures["serving_default"]
        serve(text=tf.constant(sources[:8]))
        t0 = time.perf_counter()
        for i in range(0, n, 256):
            serve(text=tf.constant(sources[i:i + 256]))
        exported = time.perf_counter() - t0
    assert summary["errors"] == 0 and lines == n
    out = {"sources": n, "predict_data_s": round(batched, 2), "rows_per_s": round(n / batched),
           "predict_alone_ms": round(1000 * alone, 2), "alone_projected_s": round(alone * n, 1),
           "speedup": round(alone * n / batched, 1), "export_s": round(exported, 2),
           "peak_rss_gb": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1e6, 2)}
    _say(f"seq2seq: {out}")
    return out


def _batch_dialogue(quick: bool) -> dict:
    """The dialogue-acts default on the Switchboard-shaped CSV (`swda_csv`: 1,155 conversations, ~221k
    utterances; --quick 116), predict --data: emissions 64 conversations a forward pass, each one's CRF decode
    and marginals; its words drawn from the model's own vocabulary (the cost is the shape's, not the words')."""
    import resource
    import tempfile
    from pathlib import Path

    from seqviz import store
    bundle = store.load("dialogue-acts", "default")
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "swda.csv"
        shape = swda_csv(path, quick, words=bundle.vocabs["words"].tokens[2:])
        summary, seconds = _predict_data(bundle, path.read_bytes(), "swda.csv", Path(tmp) / "out.jsonl")
        mb = (Path(tmp) / "out.jsonl").stat().st_size / 1e6
    assert summary["errors"] == 0 and summary["rows"] == shape["conversations"]
    out = {**shape, "predict_data_s": round(seconds, 1),
           "conversations_per_s": round(shape["conversations"] / seconds, 1),
           "utterances_per_s": round(shape["utterances"] / seconds), "jsonl_mb": round(mb),
           "peak_rss_gb": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1e6, 2)}
    _say(f"dialogue acts: {out}")
    return out


def sampled_softmax(quick: bool = False, sizes: tuple[int, ...] | None = None, hidden: int = 256,
                    num_sampled: int = 512, warmup: int | None = None, timed: int | None = None) -> dict:
    """Seconds per training step of the LSTM language model (seqviz.lm) with the full softmax and with
    the sampled softmax over V words (H = E = 256, num_sampled = 512, 64 windows of 20 words), on the same
    batches of the generated Zipfian corpus, with the same optimizer (LazyAdam): a few warm-up steps
    (graph building), then the median of timed steps taken alternately, full then sampled, so both sides
    see the same load on a shared machine. `--quick`: V of 10k and 50k, fewer steps."""
    import numpy as np
    import tensorflow as tf
    from seqviz import lm
    from seqviz.params import resolve
    from seqviz.vocab import Vocab
    sizes = sizes or ((10_000, 50_000) if quick else (10_000, 50_000, 100_000))
    warmup, timed = warmup or (2 if quick else 3), timed or (4 if quick else 15)
    batch, seq_len = 64, 20
    results = []
    for v in sizes:
        params = resolve(lm.PARAMS, {"vocab_size": v, "num_sampled": num_sampled, "units": hidden,
                                     "embed_dim": hidden, "batch_size": batch, "seq_len": seq_len})
        ids = lm.zipf_ids(v - len(lm.SPECIALS), (warmup + timed) * batch * seq_len + 1) + len(lm.SPECIALS)
        x, y = lm.windows(ids.astype(np.int32), seq_len)
        batches = [(x[i * batch:(i + 1) * batch], y[i * batch:(i + 1) * batch]) for i in range(warmup + timed)]
        vocabs = {"words": Vocab([f"w{i}" for i in range(v - len(lm.SPECIALS))], specials=lm.SPECIALS)}
        models = {}
        for side in ("full", "sampled"):
            tf.keras.utils.set_random_seed(0)   # the same initial weights on both sides
            models[side] = lm.build({**params, "softmax": side}, vocabs)
            models[side].compile(lm.optimizer(params))
        times = {"full": [], "sampled": []}
        for i, (bx, by) in enumerate(batches):
            for side, model in models.items():
                t0 = time.perf_counter()
                model.train_on_batch(bx, by)          # returns numbers: the step has finished
                if i >= warmup:
                    times[side].append(time.perf_counter() - t0)
        row = {"V": v, "full_s": round(float(np.median(times["full"])), 4),
               "sampled_s": round(float(np.median(times["sampled"])), 4)}
        row["ratio"] = round(row["full_s"] / row["sampled_s"], 2)
        _say(f"V={v:>7,}: full {row['full_s']:.4f} s/step, sampled {row['sampled_s']:.4f} s/step, "
             f"ratio {row['ratio']:.1f}x  (median of {timed}; fastest steps: full {min(times['full']):.4f} s, "
             f"sampled {min(times['sampled']):.4f} s; H={hidden}, num_sampled={num_sampled})")
        results.append(row)
        del models
    return {"results": results, "ratio_50k": next((r["ratio"] for r in results if r["V"] == 50_000), None)}


def _chromium():
    """Playwright's Chromium (Debian's /usr/bin/chromium), as the browser tests use it."""
    import os
    from playwright.sync_api import sync_playwright
    if not os.path.exists("/usr/bin/chromium"):
        raise SeqvizError("This benchmark needs Chromium at /usr/bin/chromium (apt-get install -y chromium).")
    pw = sync_playwright().start()
    browser = pw.chromium.launch(executable_path="/usr/bin/chromium", headless=True,
                                 args=["--no-sandbox", "--disable-gpu", "--no-first-run"])
    return pw, browser


def cold_start(quick: bool = False) -> dict:
    """`streamlit run app.py` on a free port until the home page's content is visible in Chromium (the
    browser is started first and not counted), median of 3 fresh servers (1 with --quick)."""
    import os
    import signal
    import socket
    import subprocess
    import sys
    from pathlib import Path
    root = Path(__file__).resolve().parent.parent
    pw, browser = _chromium()
    runs = []
    try:
        for _ in range(1 if quick else 3):
            with socket.socket() as s:
                s.bind(("127.0.0.1", 0))
                port = s.getsockname()[1]
            page = browser.new_page()
            t0 = time.perf_counter()
            proc = subprocess.Popen([sys.executable, "-m", "streamlit", "run", "app.py", "--server.headless", "true",
                                     "--server.port", str(port), "--browser.gatherUsageStats", "false"],
                                    cwd=root, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                                    start_new_session=True, env={**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3"})
            try:
                while True:   # the server is up when the page loads at all
                    try:
                        page.goto(f"http://127.0.0.1:{port}/", timeout=2000)
                        break
                    except Exception:  # connection refused until streamlit listens
                        if time.perf_counter() - t0 > 120:
                            raise SeqvizError("streamlit did not answer within 120 s.") from None
                        time.sleep(0.05)
                page.get_by_text("seqviz: see inside").wait_for(state="visible", timeout=120_000)
                page.get_by_role("link", name="Open").last.wait_for(state="visible", timeout=120_000)
                runs.append(time.perf_counter() - t0)
                _say(f"cold start: home page visible after {runs[-1]:.2f} s")
            finally:
                page.close()
                os.killpg(proc.pid, signal.SIGKILL)
                proc.wait()
    finally:
        browser.close()
        pw.stop()
    import statistics
    return {"runs_s": [round(r, 2) for r in runs], "median_s": round(statistics.median(runs), 2)}


def _inputs(page: str, n: int) -> list[str]:
    """`n` different inputs a user might type on `page` (seeded): none repeats, so no rerun is answered
    from the prediction cache and every one runs the models."""
    import random
    rng = random.Random(1)
    if page == "attention":
        from seqviz import attention
        return attention.make_toy(n, seed=1).texts
    if page == "dialogue-acts":
        from seqviz import dialogue_acts
        d = dialogue_acts.make_toy(n, max_utterances=10, seed=1)
        return ["\n".join(f"{w}: {u}" for w, u in zip(who, utts)) for who, utts in zip(d.speakers, d.utterances)]
    if page == "seq2seq":
        return [" ".join(str(rng.randrange(10)) for _ in range(2 + i % 9)) for i in range(n)]
    if page == "captioning":
        from seqviz import captioning
        # distinct scenes of one group each, as the default model knows them
        scenes = dict.fromkeys(captioning.make_scenes(4 * n, max_objects=1, seed=1))
        return [" ".join(captioning.english(s)) for s in list(scenes)[:n]]
    words = "the a this if it returns function module object list value file name is of to".split()
    return [" ".join(rng.choice(words) for _ in range(2 + i % 3)) + f" {words[i % len(words)]}" for i in range(n)]


# Per page: its text box and the query string that shows it.
INTERACTIONS = {"attention": ("attention:text", {}), "dialogue-acts": ("dialogue-acts:text", {}),
                "seq2seq": ("seq2seq:text", {}), "captioning": ("captioning:text", {"source": "describe"}),
                "lm": ("lm:text", {})}


def interaction(quick: bool = False) -> dict:
    """Per page, with the default model already loaded: type an input -> the whole page re-runs, its
    models answer and every figure is built (Streamlit's AppTest runs the page script as the server
    would, minus the browser). 20 different inputs per page (5 with --quick), none seen before: median."""
    from unittest import mock

    from streamlit.runtime.scriptrunner.script_cache import ScriptCache
    n = 5 if quick else 20
    # The server compiles a page once (its ScriptCache lives as long as the server); AppTest makes a new
    # cache every run and recompiles the page each time (15-35 ms). Share one, as the server does.
    cache = ScriptCache()
    with mock.patch("streamlit.testing.v1.local_script_runner.ScriptCache", lambda: cache), \
            mock.patch("streamlit.testing.v1.app_test.ScriptCache", lambda: cache):
        return {"results": [_interaction(arch_id, key, query, n) for arch_id, (key, query) in INTERACTIONS.items()]}


def _interaction(arch_id: str, key: str, query: dict, n: int) -> dict:
    import statistics

    from streamlit.testing.v1 import AppTest
    from seqviz import archs
    page = archs.get(arch_id).page
    texts = _inputs(arch_id, n + 1)
    if len(set(texts)) != len(texts):
        raise SeqvizError(f"{arch_id}: the generated inputs repeat.")
    at = AppTest.from_file(page, default_timeout=300)
    for k, v in query.items():
        at.query_params[k] = v
    at.run()                                                   # loads the model
    at.text_area(key=key).input(texts[-1]).run()               # first call: traces the forward passes
    times = []
    for text in texts[:n]:
        t0 = time.perf_counter()
        at.text_area(key=key).input(text).run()
        times.append(time.perf_counter() - t0)
        if at.exception or at.error:
            raise SeqvizError(f"{page} failed on {text!r}: "
                              f"{[e.value for e in at.error] or [e.message for e in at.exception]}")
    row = {"page": page, "median_ms": round(1000 * statistics.median(times), 1),
           "max_ms": round(1000 * max(times), 1), "figures": len(at.get("plotly_chart"))}
    _say(f"{page}: median {row['median_ms']} ms, max {row['max_ms']} ms, {row['figures']} figures")
    return row


def captioning_decode(quick: bool = False) -> dict:
    """The default captioning model decodes every sample scene (lock-step greedy, then a beam of 3 per head,
    as the page and the CLI do; ~25 forward passes per scene), compiled into one graph (traced once, one
    call per scene) against the same Python run eagerly, op by op. Best of 3 (1 with --quick); the captions
    must be the same."""
    import numpy as np
    import tensorflow as tf
    from seqviz import captioning, store
    bundle = store.load("captioning")
    p = bundle.params
    x = np.stack([captioning.sample_features(i, p["feature_dim"], p["noise"]) for i in range(len(captioning.SAMPLES))])

    def decode_all():
        return [captioning.decode(bundle, row, beam=3)["captions"] for row in x]

    t0 = time.perf_counter()
    compiled_caps = decode_all()                                 # traces the graph once
    first = time.perf_counter() - t0
    repeats = 1 if quick else 3
    compiled_s, _ = _best_of(decode_all, repeats)
    _say(f"compiled: {compiled_s:.3f} s for {len(x)} scenes (first call, with the trace: {first:.2f} s)")
    tf.config.run_functions_eagerly(True)
    try:
        eager_s, eager_caps = _best_of(decode_all, 1)
    finally:
        tf.config.run_functions_eagerly(False)
    _say(f"eager   : {eager_s:.3f} s for {len(x)} scenes; ratio {eager_s / compiled_s:.1f}x")
    if eager_caps != compiled_caps:
        raise SeqvizError("The compiled and the eager decodes differ.")
    return {"scenes": len(x), "compiled_s": round(compiled_s, 4), "first_call_s": round(first, 3),
            "eager_s": round(eager_s, 4), "ratio": round(eager_s / compiled_s, 2), "same_captions": True}


# The small configs `train-watched` trains (knob overrides; the sidebar form is filled by the knobs' labels)
WATCHED = {"attention": {"epochs": 3, "n_train": 2000},
           "dialogue-acts": {"epochs": 2, "n_dialogues": 200},
           "seq2seq": {"epochs": 3, "n_train": 2000, "units": 32},
           "captioning": {"epochs": 2, "n_scenes": 600},
           "lm": {"epochs": 1, "vocab_size": 2000}}


def sidebar_train(page, name: str, knobs: dict[str, str], upload=None):
    """In a page open in Chromium: open the sidebar's Train form, attach the file `upload` (a path) if given,
    set `knobs` ({label: value}) and the model's name, press Train. Returns the sidebar. (The browser tests
    use it too.)"""
    sidebar = page.get_by_test_id("stSidebar")
    sidebar.get_by_text("Train a model", exact=True).click()
    if upload is not None:
        sidebar.locator("input[type='file']").first.set_input_files(str(upload), timeout=120_000)
        sidebar.get_by_text(Path(upload).name).wait_for(timeout=120_000)
    for label, value in knobs.items():
        box = sidebar.get_by_role("spinbutton", name=label, exact=True)
        box.fill(value)
        box.press("Tab")
    box = sidebar.get_by_role("textbox", name="Name (optional)")
    box.fill(name)
    box.press("Tab")
    sidebar.get_by_role("button", name="Train", exact=True).click()
    return sidebar


def _serve(root, store, env=None, log=None):
    """`streamlit run app.py` of the checkout `root` on a free port with its own store: (process, base URL).
    Its output goes to `log` (a path) when given."""
    import os
    import socket
    import subprocess
    import sys
    import urllib.request
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    proc = subprocess.Popen([sys.executable, "-m", "streamlit", "run", "app.py", "--server.headless", "true",
                             "--server.port", str(port), "--browser.gatherUsageStats", "false"],
                            cwd=root, stdout=open(log, "wb") if log else subprocess.DEVNULL,
                            stderr=subprocess.STDOUT if log else subprocess.DEVNULL, start_new_session=True,
                            env={**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3", "SEQVIZ_MODELS": str(store), **(env or {})})
    base, t0 = f"http://127.0.0.1:{port}", time.perf_counter()
    while True:
        try:
            if urllib.request.urlopen(base + "/_stcore/health", timeout=2).read().strip() == b"ok":
                return proc, base
        except OSError:
            if time.perf_counter() - t0 > 120:
                raise SeqvizError("streamlit did not answer within 120 s.") from None
            time.sleep(0.2)


def train_watched(quick: bool = False) -> dict:
    """The same small config per architecture trained (a) through the CLI's code path (`training.train`,
    as `python -m seqviz train` runs it) with no page anywhere, and (b) from the sidebar of its page open in
    Chromium, the page just opened (its own models loading) and its training panel polling until the run
    ends; alternating a, b (two rounds; one with --quick). Seconds are the run's own `train_seconds` (data,
    graph, fit and evaluation; the same clock in both), and the click-to-"Trained" wall time for (b). The
    server's warm-up is over before the first run (as on a server that has been up a while).
    `SEQVIZ_BENCH_APP=<checkout>` serves another checkout's app for (b) (to measure before/after)."""
    import json
    import os
    import shutil
    import signal
    import statistics
    import tempfile
    from pathlib import Path

    from seqviz import archs, training
    here = Path(__file__).resolve().parent.parent
    app_root = Path(os.environ.get("SEQVIZ_BENCH_APP") or here)
    rounds = 1 if quick else 2
    tmp = Path(tempfile.mkdtemp())
    shutil.copytree(here / "models", tmp / "models")
    store = tmp / "models"
    old_store, os.environ["SEQVIZ_MODELS"] = os.environ.get("SEQVIZ_MODELS"), str(store)
    pw, browser = _chromium()
    proc, base = _serve(app_root, store, log=tmp / "server.log")
    if "SEQVIZ_WARMUP" not in os.environ:   # a server that has been up a while: its warm-up is over
        _warmed(tmp / "server.log")
    results = []
    try:
        for arch, overrides in WATCHED.items():
            titles = {p.name: p.title for p in archs.get(arch).module().PARAMS}
            knobs = {titles[k]: str(v) for k, v in overrides.items()}
            a, b, walls = [], [], []
            for r in range(rounds):
                bundle = training.train(training.plan(arch, overrides, name=f"unwatched-{r}"))
                a.append(bundle.metrics["train_seconds"])
                page = browser.new_page(viewport={"width": 1400, "height": 1000})
                page.set_default_timeout(600_000)
                try:
                    page.goto(f"{base}/{arch}")
                    page.get_by_test_id("stSidebar").get_by_text("Train a model", exact=True).wait_for()
                    t0 = time.perf_counter()
                    sidebar = sidebar_train(page, f"watched-{r}", knobs)
                    sidebar.get_by_text(f"Trained watched-{r}").wait_for(timeout=1_200_000)
                    walls.append(time.perf_counter() - t0)
                finally:
                    page.close()
                b.append(json.loads((store / arch / f"watched-{r}" / "metrics.json").read_text())["train_seconds"])
                _say(f"{arch}: unwatched {a[-1]:.1f} s, watched {b[-1]:.1f} s (click to done {walls[-1]:.1f} s)")
            row = {"arch": arch, "config": overrides, "unwatched_s": a, "watched_s": b,
                   "click_to_done_s": [round(w, 1) for w in walls],
                   "ratio": round(statistics.median(b) / statistics.median(a), 3)}
            _say(f"{arch}: ratio watched / unwatched {row['ratio']:.2f}")
            results.append(row)
    finally:
        os.killpg(proc.pid, signal.SIGKILL)
        proc.wait()
        browser.close()
        pw.stop()
        if old_store is None:
            del os.environ["SEQVIZ_MODELS"]
        else:
            os.environ["SEQVIZ_MODELS"] = old_store
        shutil.rmtree(tmp, ignore_errors=True)
    return {"results": results, "worst_ratio": max(r["ratio"] for r in results)}


FIRST_VISIT_CHARTS = {"attention": 3, "dialogue-acts": 4, "seq2seq": 2, "captioning": 6, "lm": 2}


def _rss_mb(pid: int) -> tuple[float, float]:
    """(current, peak) resident memory of a process in MB, from /proc."""
    fields = dict(line.split(":", 1) for line in open(f"/proc/{pid}/status") if ":" in line)
    return tuple(int(fields[k].split()[0]) / 1024 for k in ("VmRSS", "VmHWM"))


def _warmed(log) -> None:
    """Wait, visiting nothing, until a fresh server's warm-up (started with the server: app.py's lifespan) says
    in the server's log that it is done."""
    t0 = time.perf_counter()
    while "warm-up: done" not in log.read_text(errors="replace"):
        if time.perf_counter() - t0 > 600:
            raise SeqvizError("the warm-up did not finish within 600 s.")
        time.sleep(0.5)


def first_visit(quick: bool = False) -> dict:
    """A fresh `streamlit run app.py` with the warm-up on (it starts with the server: nobody visits before the
    pages are timed): wait until it is done (its log line), then open
    every page in a fresh browser context (no session, no cache of the browser's) and time navigation ->
    the page finished with its figures; then again in another fresh context. The same on a server with the
    warm-up off (SEQVIZ_WARMUP=0), for comparison. Also the warm-up's duration and the server's memory."""
    import os
    import re
    import shutil
    import signal
    import tempfile
    from pathlib import Path
    here = Path(__file__).resolve().parent.parent
    tmp = Path(tempfile.mkdtemp())
    shutil.copytree(here / "models", tmp / "models")
    pw, browser = _chromium()
    out = {}
    try:
        for warm in ("1", "0"):
            log = tmp / f"server-{warm}.log"
            proc, base = _serve(here, tmp / "models", env={"SEQVIZ_WARMUP": warm}, log=log)
            try:
                rss_before = _rss_mb(proc.pid)[0]
                if warm == "1":
                    _warmed(log)
                    done = re.search(r"warm-up: done in ([\d.]+) s", log.read_text(errors="replace"))
                    rss, peak = _rss_mb(proc.pid)
                    out["warmup"] = {"seconds": float(done.group(1)), "rss_before_mb": round(rss_before),
                                     "rss_after_mb": round(rss), "peak_mb": round(peak)}
                    _say(f"warm-up: {done.group(1)} s, server RSS {rss_before:.0f} -> {rss:.0f} MB (peak {peak:.0f})")
                rows = []
                for path, charts in FIRST_VISIT_CHARTS.items():
                    times = []
                    for _ in range(2):
                        ctx = browser.new_context(viewport={"width": 1400, "height": 1000})
                        page = ctx.new_page()
                        page.set_default_timeout(300_000)
                        t = time.perf_counter()
                        page.goto(f"{base}/{path}")
                        page.locator("[data-testid='stPlotlyChart']").nth(charts - 1).wait_for(state="visible")
                        page.wait_for_selector("[data-testid='stApp'][data-test-script-state='notRunning']")
                        times.append(time.perf_counter() - t)
                        ctx.close()
                    rows.append({"page": path, "first_s": round(times[0], 2), "second_s": round(times[1], 2),
                                 "ratio": round(times[0] / times[1], 2)})
                    _say(f"warm-up {'on' if warm == '1' else 'off'}: {path}: first {times[0]:.2f} s, "
                         f"second {times[1]:.2f} s, ratio {times[0] / times[1]:.2f}")
                out["warm" if warm == "1" else "cold"] = rows
            finally:
                os.killpg(proc.pid, signal.SIGKILL)
                proc.wait()
    finally:
        browser.close()
        pw.stop()
        shutil.rmtree(tmp, ignore_errors=True)
    out["worst_ratio_warm"] = max(r["ratio"] for r in out["warm"])
    return out


def export_defaults(quick: bool = False) -> dict:
    """Each shipped default exported as a SavedModel by `python -m seqviz export` in a fresh process (wall
    clock, TensorFlow's import included: what a user waits), with the export's own seconds (load, trace, save)
    and its size. `--quick`: one model per architecture."""
    import json
    import os
    import subprocess
    import tempfile
    from pathlib import Path

    from seqviz import archs
    rows = {}
    with tempfile.TemporaryDirectory() as tmp:
        for a in archs.ARCHS.values():
            for name in a.shipped[:1] if quick else a.shipped:
                t0 = time.perf_counter()
                done = subprocess.run([sys.executable, "-m", "seqviz", "export", a.id, "--model", name, "--out",
                                       str(Path(tmp) / f"{a.id}-{name}")], capture_output=True, text=True,
                                      env={**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3"})
                wall = time.perf_counter() - t0
                if done.returncode:
                    raise SeqvizError(f"export of {a.id}/{name} failed: {done.stderr.strip()[-300:]}")
                r = json.loads(done.stdout.strip().splitlines()[-1])
                rows[f"{a.id}/{name}"] = {"wall_s": round(wall, 2), "export_s": r["seconds"],
                                          "mb": round(r["bytes"] / 1e6, 2)}
                _say(f"{a.id}/{name}: {wall:.1f} s wall ({r['seconds']:.1f} s export), {r['bytes'] / 1e6:.1f} MB")
    return {"models": rows, "max_wall_s": max(r["wall_s"] for r in rows.values()),
            "max_export_s": max(r["export_s"] for r in rows.values())}


def addition_pairs(n: int, seed: int = 0, digits: int = 3) -> list[tuple[str, str]]:
    """keras-io's addition data (examples/nlp/addition_rnn.py): n distinct questions "a+b" -> "a+b's sum", each
    number drawn as keras-io draws it (1-`digits` random digits), a pair and its swap counted once. Unpadded and
    not reversed (keras-io's two tricks for its RepeatVector model): seqviz masks padding."""
    import numpy as np
    rng = np.random.default_rng(seed)
    number = lambda: int("".join(rng.choice(list("0123456789"), rng.integers(1, digits + 1))))  # noqa: E731
    seen, out = set(), []
    while len(out) < n:
        a, b = number(), number()
        if (key := (min(a, b), max(a, b))) not in seen:
            seen.add(key)
            out.append((f"{a}+{b}", str(a + b)))
    return out


ADDITION = {"tokens": "char", "decay": True}   # the addition bench's knobs (the rest: seq2seq's defaults)


def seq2seq_addition(quick: bool = False) -> dict:
    """keras-io's addition task (50k pairs; --quick 5k) written as a CSV and read through the upload path
    (`read_upload`, `check_params`, `fit`) with tokens=char, in attention and in basic mode: held-out exact
    match after every epoch (free-running greedy decodes of the held-out pairs), the first epoch at >= 99% and
    the seconds it took (training only; the per-epoch evaluation's time is left out). SEQVIZ_BENCH_MODES
    (e.g. "basic") runs some of the modes."""
    import csv
    import io
    import os
    n = 5000 if quick else 50_000
    buf = io.StringIO()
    csv.writer(buf).writerows([("source", "target"), *addition_pairs(n)])
    raw = buf.getvalue().encode()
    _say(f"addition pairs: {n:,} ({len(raw) / 1e6:.2f} MB CSV)")
    out = {"pairs": n, "csv_mb": round(len(raw) / 1e6, 2), "knobs": ADDITION}
    for mode in [m for m in os.environ.get("SEQVIZ_BENCH_MODES", "attention,basic").split(",") if m]:
        out[mode] = _addition_run(raw, mode, 4 if quick else {"attention": 20}.get(mode, 30))
    return out


def _addition_run(raw: bytes, mode: str, epochs: int) -> dict:
    import tensorflow as tf

    from seqviz import seq2seq
    from seqviz.params import resolve
    data = seq2seq.read_upload(raw, "addition.csv")
    params = seq2seq.check_params(resolve(seq2seq.PARAMS, {**ADDITION, "mode": mode, "epochs": epochs}), data)
    train, val, _ = seq2seq.task_of(params).data(params, data)
    vocabs = seq2seq.vocabularies(seq2seq.FILE, train)      # what fit builds from the same rows
    curve, clock = [], {"train": 0.0}

    class Held(tf.keras.callbacks.Callback):
        def on_epoch_begin(self, epoch, logs=None):
            clock["t0"] = time.perf_counter()

        def on_epoch_end(self, epoch, logs=None):
            clock["train"] += time.perf_counter() - clock["t0"]
            exact = seq2seq.evaluate(self.model, params, vocabs, val)["exact"]
            curve.append({"epoch": epoch + 1, "exact": round(exact, 4), "train_s": round(clock["train"], 1)})
            _say(f"{mode} epoch {epoch + 1}: held-out exact {exact:.4f} ({clock['train']:.0f} s training)")

    tf.keras.utils.set_random_seed(0)
    _, _, metrics = seq2seq.fit(params, data, [Held()])
    first = next((c for c in curve if c["exact"] >= 0.99), None)
    return {"epochs": epochs, "final_exact": metrics["val_exact"], "n_val": metrics["n_val"],
            "epochs_to_99": first and first["epoch"], "seconds_to_99": first and first["train_s"],
            "train_s": curve[-1]["train_s"], "curve": curve}


EXPLAIN_INPUTS = {"attention": ("attention", "default"), "dialogue-acts": ("dialogue-acts", "default"),
                  "seq2seq": ("seq2seq", "default-attention"), "captioning": ("captioning", "default"),
                  "lm": ("lm", "default")}
EXPLAIN_TARGETS = {"captioning": "1:9"}   # the caption's end: the most units (2 images + 9 + 6 words), 256 IG steps


def explain_bench(quick: bool = False) -> dict:
    """seqviz.explain on every page, its shipped default: the first call (which traces the score and its
    gradient) and then, on inputs never seen, every method's time and all four together (integrated gradients at
    the architecture's steps: 32; dialogue acts 128, captioning 256), median of 10 (3 with --quick); and the
    held-out figures of each default (the attention models: 300 sentences and the faithfulness tests; the others
    their default cases), a fifth of them with --quick. Goal: <= 300 ms for all methods on one input."""
    import statistics

    from seqviz import explain, store
    n = 3 if quick else 10
    rows = []
    for page, (arch, name) in EXPLAIN_INPUTS.items():
        bundle = store.load(arch, name)
        texts, target = _inputs(page, n + 1), EXPLAIN_TARGETS.get(page)
        t0 = time.perf_counter()
        explain.of(bundle, texts[-1], target)
        first = time.perf_counter() - t0
        per = {k: [] for k in [*explain.METHODS, "all"]}
        for text in texts[:n]:
            for k in per:
                t0 = time.perf_counter()
                explain.of(bundle, text, target, tuple(explain.METHODS) if k == "all" else (k,))
                per[k].append(time.perf_counter() - t0)
        row = {"page": page, "model": name, "first_call_s": round(first, 2),
               **{f"{k}_ms": round(1000 * statistics.median(v), 1) for k, v in per.items()}}
        _say(f"{page}: {row}")
        rows.append(row)
    held = []
    for arch, name, cases in (("attention", "default", 300), ("attention", "default-seed", 300),
                              ("dialogue-acts", "default", 60), ("seq2seq", "default-attention", 40),
                              ("captioning", "default", 60), ("lm", "default", 200)):
        bundle = store.load(arch, name)
        t0 = time.perf_counter()
        h = explain.heldout(bundle, cases // 5 if quick else cases)
        held.append({"arch": arch, "model": name, "cases": cases // 5 if quick else cases, "inputs": h["n"],
                     "seconds": round(time.perf_counter() - t0, 1)})
        _say(f"held-out {arch} {name}: {held[-1]}")
    return {"results": rows, "heldout": held}


class _Typist:
    """A browser session without a browser: Streamlit's own protocol (protobuf over /_stcore/stream), as the page's
    JavaScript speaks it. `visit(page)` runs a page; `type(text)` reruns the attention page with its text area set;
    each returns the seconds until the server says the script finished."""

    def __init__(self, base: str):
        self.base, self.ws, self.text_id = base, None, None

    async def _run(self, page: str, text: str | None = None) -> float:
        import websockets
        from streamlit.proto.BackMsg_pb2 import BackMsg
        from streamlit.proto.ForwardMsg_pb2 import ForwardMsg
        if self.ws is None:
            self.ws = await websockets.connect(self.base.replace("http", "ws") + "/_stcore/stream",
                                               subprotocols=["streamlit"], max_size=2 ** 27)
        msg = BackMsg()
        msg.rerun_script.page_name = page
        if text is not None:
            w = msg.rerun_script.widget_states.widgets.add()
            w.id, w.string_value = self.text_id, text
        t0 = time.perf_counter()
        await self.ws.send(msg.SerializeToString())
        while True:
            f = ForwardMsg()
            f.ParseFromString(await self.ws.recv())
            kind = f.WhichOneof("type")
            if kind == "delta" and f.delta.WhichOneof("type") == "new_element":
                el = f.delta.new_element
                if el.WhichOneof("type") == "text_area" and el.text_area.id.endswith("attention:text"):
                    self.text_id = el.text_area.id
            if kind == "script_finished":
                return time.perf_counter() - t0

    async def visit(self, page: str) -> float:
        return await self._run(page)

    async def type(self, text: str) -> float:
        if self.text_id is None:
            await self._run("attention")
        return await self._run("attention", text)

    async def close(self) -> None:
        if self.ws is not None:
            await self.ws.close()


def class_bench(quick: bool = False) -> dict:
    """A class on one server (`streamlit run app.py`, a copy of the store): 30 sessions (--quick: 6) for 10
    minutes (--quick: 1) each read pages and type sentences on the attention page through Streamlit's own
    protocol (`_Typist`: a think time of 1-4 s between actions, one in five a visit to another page), while 10 tabs
    in Chromium (--quick: 2) each train a Quick model from the sidebar at staggered times, the way a student
    would; these clients run at nice 19 (a class's browsers are not on its server). The typed-input latency
    (until the server's script finished) p50/p95 under that load against one idle session before it (goal: p95
    <= 3x idle); every run trained or refused with a reason; the server's peak RSS
    and its RSS 30 s and 150 s after the load (past Streamlit's 120-s TTL of closed sessions) against before it
    (goal: within 10%); errors in the server's log. Then the
    same 10 (--quick 4) Quick trainings through this process's training service: this server's one worker, and
    a Redis Queue pool (seqviz.pool, a real redis-server) of 1 and 2 workers (`_class_pool`;
    SEQVIZ_BENCH_POOL=0 skips it)."""
    import asyncio
    import os
    import random
    import shutil
    import statistics
    import tempfile
    import threading
    from pathlib import Path

    n_typists, n_trainers, seconds = (6, 2, 60) if quick else (30, 10, 600)
    pages = ["attention", "dialogue-acts", "seq2seq", "captioning", "lm"]
    sentences = ["the striker scored a goal", "the pizza was great", "rain and snow all day", "the concert was loud",
                 "no pizza but the concert was great", "the team won the match", "a warm and sunny afternoon"]
    root = Path(__file__).resolve().parent.parent
    tmp = Path(tempfile.mkdtemp(prefix="seqviz-class-"))
    store_dir = tmp / "models"
    shutil.copytree(root / "models", store_dir)
    log = tmp / "server.log"
    proc, base = _serve(root, store_dir, log=log)
    # The class's browsers are on the students' machines, not the server's: the load's clients (this process's 30
    # protocol sessions and the Chromium it starts) run at the lowest CPU priority, so the server and its training
    # process get the cores as they would alone (SEQVIZ_BENCH_CLIENT_NICE=0: the clients compete as equals).
    os.nice(int(os.environ.get("SEQVIZ_BENCH_CLIENT_NICE", "19")))

    def rss() -> float:
        for line in Path(f"/proc/{proc.pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 2 ** 20          # kB -> GB
        return 0.0

    async def idle_run() -> list[float]:
        t = _Typist(base)
        for page in pages:                                      # every page once: the warm-up's work is done
            await t.visit(page)
        out = [await t.type(random.choice(sentences)) for _ in range(20)]
        await t.close()
        return out

    try:
        random.seed(0)
        idle = asyncio.run(idle_run())
        rss_before, peak, stop = rss(), [rss()], threading.Event()

        def sample():
            while not stop.is_set():
                peak.append(rss())
                stop.wait(1.0)
        threading.Thread(target=sample, daemon=True).start()
        typed, visits, failures = [], [], []

        async def typist(i: int) -> None:
            rng, t, end = random.Random(i), _Typist(base), time.perf_counter() + seconds
            await asyncio.sleep(rng.uniform(0, 5))
            try:
                while time.perf_counter() < end:
                    if rng.random() < 0.2:
                        visits.append(await t.visit(rng.choice(pages)))
                    else:
                        typed.append(await t.type(rng.choice(sentences)))
                    await asyncio.sleep(rng.uniform(1, 4))
            except Exception as e:                              # a dropped connection: counted, not hidden
                failures.append(f"{type(e).__name__}: {e}")
            finally:
                await t.close()

        async def typists() -> None:
            await asyncio.gather(*(typist(i) for i in range(n_typists)))
        load = threading.Thread(target=lambda: asyncio.run(typists()))
        load.start()
        runs = _class_trainers(base, n_trainers, seconds)
        load.join()
        stop.set()
        time.sleep(30)                                          # the server at rest after the class
        rss_after = rss()
        time.sleep(120)                   # and once Streamlit dropped the closed sessions (disconnectedSessionTTL)
        rss_later = rss()
        lines = log.read_text(errors="replace").splitlines()
        errors = [i for i, ln in enumerate(lines) if ln.startswith("Traceback")   # a chained one's second part
                  and not any(p.startswith("During handling") for p in lines[max(i - 2, 0):i])]   # is not another
        first_error = "\n".join(lines[errors[0]:errors[0] + 60]) if errors else ""
        kinds: dict[str, int] = {}                              # each traceback's exception line, counted
        for i in errors:
            last = next((ln for ln in lines[i + 1:] if ln and not ln.startswith((" ", "Traceback", "During"))), "")
            kinds[last[:200]] = kinds.get(last[:200], 0) + 1
    finally:
        proc.terminate()
        proc.wait()
        shutil.rmtree(tmp, ignore_errors=True)
    q = lambda v, p: statistics.quantiles(v, n=100)[p - 1] if len(v) > 1 else v[0]  # noqa: E731
    out = {"sessions": n_typists, "trainers": n_trainers, "seconds": seconds,
           "idle_p50_s": round(q(idle, 50), 3), "idle_p95_s": round(q(idle, 95), 3),
           "typed": len(typed), "load_p50_s": round(q(typed, 50), 3), "load_p95_s": round(q(typed, 95), 3),
           "p95_ratio": round(q(typed, 95) / q(idle, 95), 2), "visits": len(visits),
           "visit_p95_s": round(q(visits, 95), 3) if visits else None, "session_failures": failures[:5],
           "runs": runs, "rss_before_gb": round(rss_before, 2), "rss_peak_gb": round(max(peak), 2),
           "rss_after_gb": round(rss_after, 2), "rss_after_ratio": round(rss_after / rss_before, 2),
           "rss_150s_after_gb": round(rss_later, 2), "rss_150s_after_ratio": round(rss_later / rss_before, 2),
           "log_tracebacks": len(errors), "traceback_kinds": kinds, "first_traceback": first_error}
    _say(str(out))
    if os.environ.get("SEQVIZ_BENCH_POOL", "1") != "0":          # 0: the class only (the pool's ~5 minutes skipped)
        out["pool"] = _class_pool(quick)
    return out


def _class_trainers(base: str, n: int, seconds: float) -> dict:
    """`n` tabs in Chromium press Quick, then Train on the attention page's sidebar at staggered times over
    `seconds`; each is followed until it says it trained (or why not). -> counts and what the tabs were told."""
    pw, browser = _chromium()
    tabs, told, done = [], {}, {}

    def look() -> None:                            # each tab's sidebar: what it was told, whether it is done
        for i, page, pressed in tabs:
            if i in done:
                continue
            text = page.get_by_test_id("stSidebar").inner_text()
            for line in text.splitlines():
                if line.startswith(("Queued:", "The training queue is full", "You already have")):
                    told.setdefault(i, line)
            if f"Trained class-{i}" in text or "Training failed" in text or "queue is full" in text:
                done[i] = ("trained" if f"Trained class-{i}" in text else "refused",
                           round(time.perf_counter() - pressed, 1))
    try:
        start = time.perf_counter()
        for i in range(n):
            while time.perf_counter() < start + i * seconds / (n + 1):
                look()
                time.sleep(2)
            page = browser.new_context(viewport={"width": 1300, "height": 900}).new_page()
            page.set_default_timeout(180_000)
            page.goto(f"{base}/attention")
            page.get_by_test_id("stSidebar").get_by_text("Train a model", exact=True).click()
            sidebar = page.get_by_test_id("stSidebar")
            sidebar.get_by_role("button", name="Quick", exact=True).click()
            box = sidebar.get_by_role("textbox", name="Name (optional)")
            box.fill(f"class-{i}")
            box.press("Tab")
            sidebar.get_by_role("button", name="Train", exact=True).click()
            tabs.append((i, page, time.perf_counter()))
        while len(done) < n and time.perf_counter() - start < seconds + 900:
            look()
            time.sleep(2)
    finally:
        browser.close()
        pw.stop()
    return {"trained": sum(v[0] == "trained" for v in done.values()), "refused": sum(v[0] == "refused"
                                                                                    for v in done.values()),
            "unfinished": n - len(done), "press_to_trained_s": sorted(v[1] for v in done.values()),
            "queued_told": sorted(told.values())[:10]}


def _class_pool(quick: bool) -> dict:
    """10 Quick attention trainings (--quick: 4) through the training service: this server's own worker, then a
    Redis Queue pool of 1 and of 2 workers (a real redis-server; seqviz.pool), wall seconds until all are saved."""
    import os
    import shutil
    import signal
    import socket
    import subprocess
    import sys
    import tempfile
    from pathlib import Path

    from seqviz import attention, pool, training
    n = 4 if quick else 10
    root = Path(__file__).resolve().parent.parent
    if shutil.which("redis-server") is None:
        raise SeqvizError("This benchmark needs redis-server (apt-get install -y redis-server).")
    out, old_env = {}, {k: os.environ.get(k) for k in ("SEQVIZ_MODELS", "SEQVIZ_QUEUE", "SEQVIZ_JOBS_PER_SESSION")}
    tmp = Path(tempfile.mkdtemp(prefix="seqviz-pool-"))
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    redis_proc = subprocess.Popen(["redis-server", "--port", str(port), "--bind", "127.0.0.1", "--save", "",
                                   "--appendonly", "no"], stdout=subprocess.DEVNULL)
    url, workers = f"redis://127.0.0.1:{port}/0", []
    try:
        time.sleep(0.5)
        for setting in ("local", 1, 2):
            store_dir = tmp / f"models-{setting}"
            store_dir.mkdir()
            os.environ["SEQVIZ_MODELS"] = str(store_dir)
            os.environ.pop("SEQVIZ_QUEUE", None)
            if setting != "local":
                while len(workers) < setting:
                    name = f"bench-w{len(workers) + 1}"
                    env = {**os.environ, "PYTHONPATH": str(root)}
                    workers.append(subprocess.Popen([sys.executable, "-m", "seqviz", "worker", "--queue", url,
                                                     "--name", name], env=env, stdout=subprocess.DEVNULL,
                                                    stderr=subprocess.DEVNULL, start_new_session=True))
                while len(pool.workers(pool.connect(url))) < setting:
                    time.sleep(0.2)
                os.environ["SEQVIZ_QUEUE"] = url
            time.sleep(3)                                       # spare training processes ready
            t0 = time.perf_counter()
            jobs = [training.submit(training.plan("attention", dict(attention.QUICK), name=f"pool-{i}"))
                    for i in range(n)]
            for job in jobs:
                job.wait()
            wall = time.perf_counter() - t0
            ok = sum(j.status == "done" for j in jobs)
            out[f"{setting}_workers" if setting != "local" else "this_server"] = {"runs": n, "trained": ok,
                                                                                   "seconds": round(wall, 1)}
            _say(f"pool {setting}: {out}")
    finally:
        for w in workers:
            os.killpg(w.pid, signal.SIGTERM)
        for w in workers:
            w.wait()
        redis_proc.kill()
        redis_proc.wait()
        for k, v in old_env.items():
            if v is None:
                os.environ.pop(k, None)
            else:
                os.environ[k] = v
        shutil.rmtree(tmp, ignore_errors=True)
    local = out["this_server"]["seconds"]
    out["speedup_1"] = round(local / out["1_workers"]["seconds"], 2)
    out["speedup_2"] = round(local / out["2_workers"]["seconds"], 2)
    return out


BENCHES = {"attention-single-pass": attention_single_pass, "dialogue-memory": dialogue_memory,
           "train-defaults": train_defaults, "captioning-decode": captioning_decode,
           "cold-start": cold_start, "interaction": interaction, "sampled-softmax": sampled_softmax,
           "train-watched": train_watched, "first-visit": first_visit, "export": export_defaults,
           "seq2seq-addition": seq2seq_addition, "dialogue-swda": dialogue_swda, "replay-overhead": replay_overhead,
           "explain": explain_bench, "evaluate": evaluate_files, "states": states_bench,
           "batch-predict": batch_predict, "class": class_bench}


def run(name: str, quick: bool = False) -> dict:
    if name not in BENCHES:
        raise SeqvizError(f"Unknown benchmark {name!r}; choose one of: {', '.join(BENCHES)}.")
    return BENCHES[name](quick)
