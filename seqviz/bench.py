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
            for arch in archs.ARCHS.values():
                bundle = training.train(training.plan(arch.id, {}, name="bench"))
                row = {"arch": arch.id, "seconds": bundle.metrics["train_seconds"],
                       **{k: bundle.metrics.get(k) for k in arch.headline if k != "train_seconds"}}
                _say(" ".join(f"{k}={v}" for k, v in row.items()))
                results.append(row)
        finally:
            if old is None:
                del os.environ["SEQVIZ_MODELS"]
            else:
                os.environ["SEQVIZ_MODELS"] = old
    return {"results": results}


BENCHES = {"attention-single-pass": attention_single_pass, "train-defaults": train_defaults}


def run(name: str, quick: bool = False) -> dict:
    if name not in BENCHES:
        raise SeqvizError(f"Unknown benchmark {name!r}; choose one of: {', '.join(BENCHES)}.")
    return BENCHES[name](quick)
