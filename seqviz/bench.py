"""Benchmarks, run as `python -m seqviz bench NAME [--quick]`: figures printed as they come (stderr),
a JSON summary returned (the CLI prints it as the last line). Ratios are measured side by side in one run."""
from __future__ import annotations

import sys
import time

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
    """(arch, store name, knob overrides) of every shipped default: one per arch, or the module's
    DEFAULTS where it ships several (seq2seq: one per mode)."""
    from seqviz import store
    for arch in arch_list:
        for name, overrides in getattr(arch.module(), "DEFAULTS", {store.DEFAULT: {}}).items():
            yield arch, name, overrides


def train_defaults(quick: bool = False) -> dict:
    """Seconds for each architecture's default config to train (the same run as the sidebar's Train
    button with untouched knobs), into a throw-away store, with the metrics it reached."""
    import os
    import tempfile
    from seqviz import archs, training
    results = []
    with tempfile.TemporaryDirectory() as tmp:
        old, os.environ["SEQVIZ_MODELS"] = os.environ.get("SEQVIZ_MODELS"), tmp
        try:
            for arch, name, overrides in _defaults(archs.ARCHS.values()):
                bundle = training.train(training.plan(arch.id, overrides, name="bench"))
                row = {"arch": arch.id, "model": name, "seconds": bundle.metrics["train_seconds"],
                       **{k: bundle.metrics.get(k) for k in arch.headline if k != "train_seconds"}}
                _say(" ".join(f"{k}={v}" for k, v in row.items()))
                results.append(row)
        finally:
            if old is None:
                del os.environ["SEQVIZ_MODELS"]
            else:
                os.environ["SEQVIZ_MODELS"] = old
    return {"results": results}


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


BENCHES = {"attention-single-pass": attention_single_pass, "dialogue-memory": dialogue_memory,
           "train-defaults": train_defaults}


def run(name: str, quick: bool = False) -> dict:
    if name not in BENCHES:
        raise SeqvizError(f"Unknown benchmark {name!r}; choose one of: {', '.join(BENCHES)}.")
    return BENCHES[name](quick)
