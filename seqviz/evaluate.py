"""Where does it fail? A model scored on a whole held-out set, example by example: overall and per-class metrics,
the confusion matrix, metrics per slice of the data, every example with its gold, prediction and confidence, and
a 2-D map of the model's own representation of each example.

An architecture contributes two functions (seqviz.contract's optional hooks):

    heldout_data(bundle)        -> its held-out examples, in the type its `read_upload` returns (generated data
                                   regenerated from the model's seed; a user's file's held-out rows kept with it)
    score_examples(bundle, data, batch=256) -> Scored: one row per example (per utterance for dialogue acts),
                                   scored in batches (memory with the batch, not the file)

and everything else is here, shared: the metrics (tested equal to scikit-learn's), the slices, the map (PCA and
t-SNE from scikit-learn), the service entry point `run` for the CLI and the pages.
"""
from __future__ import annotations

import re
from dataclasses import dataclass, field

import numpy as np

from seqviz.errors import SeqvizError

MAP_POINTS = 2000        # the map draws at most this many examples: every error kept, the rest sampled evenly
# The second files a labelled file needs to be scored (captioning's image features; training's optional ones,
# dialogue acts' word vectors, change nothing in a trained model)
FILES = ("features",)


@dataclass
class Scored:
    """A model's examples scored one by one (an architecture's `score_examples`): N rows."""
    unit: str                                  # what a row is: "sentence", "utterance", ...
    inputs: list[str]                          # per row, the input that opens it on a page (utterance: its dialogue)
    gold: list[str]
    pred: list[str]
    confidence: np.ndarray                     # (N,) the model's probability of its prediction
    labels: list[str] | None = None            # the classes (per-class metrics, confusion); None: none to count
    slices: dict[str, list[str]] = field(default_factory=dict)     # name -> per row its bucket
    also: dict[str, list[str]] = field(default_factory=dict)       # other predictions per row, scored alike
    vectors: np.ndarray | None = None          # (N, H) the model's own representation of each row (the map)
    shown: list[str] | None = None             # per row, what the table shows of it (None: its input)
    shown_name: str | None = None              # the table's header for it (None: the unit)
    accuracy_name: str = "accuracy"            # what gold == pred means here ("exact match" for a sequence)
    notes: list[str] = field(default_factory=list)                # what was left out, and why (one sentence each)
    columns: dict[str, list] = field(default_factory=dict)        # more per-row values the table shows
    # per-row measures beside exact match, each (numerator (N,), denominator (N,)): summed overall and per slice
    # bucket (micro-averaged: seq2seq's token accuracy = right tokens / tokens), a row's own shown in the table
    measures: dict[str, tuple] = field(default_factory=dict)
    worse: dict[str, str] = field(default_factory=dict)           # a measure where "high" is worse (surprisal)
    extra: dict[str, float] = field(default_factory=dict)         # more overall figures (the LM's perplexity)
    colour: str | None = None                  # the slice the map colours by (None: the gold label)
    order: dict[str, list] = field(default_factory=dict)          # a slice's buckets in this order (else natural)


# ---------------------------------------------------------------------------------------------
# Metrics
# ---------------------------------------------------------------------------------------------
def confusion(gold, pred, labels: list[str]) -> np.ndarray:
    """(K, K) counts: row = gold label, column = predicted label."""
    index = {k: i for i, k in enumerate(labels)}
    m = np.zeros((len(labels), len(labels)), np.int64)
    np.add.at(m, (np.array([index[g] for g in gold], int), np.array([index[p] for p in pred], int)), 1)
    return m


def per_class(m: np.ndarray, labels: list[str]) -> list[dict]:
    """Precision, recall, F1 and support per class from a confusion matrix (0 where undefined, as
    scikit-learn's zero_division=0)."""
    tp, gold_n, pred_n = np.diag(m).astype(float), m.sum(1).astype(float), m.sum(0).astype(float)
    p = np.divide(tp, pred_n, out=np.zeros_like(tp), where=pred_n > 0)
    r = np.divide(tp, gold_n, out=np.zeros_like(tp), where=gold_n > 0)
    f = np.divide(2 * p * r, p + r, out=np.zeros_like(tp), where=(p + r) > 0)
    return [{"label": k, "precision": float(p[i]), "recall": float(r[i]), "f1": float(f[i]),
             "support": int(gold_n[i])} for i, k in enumerate(labels)]


def _ratio(num, den, at=None) -> float:
    num, den = np.asarray(num, float), np.asarray(den, float)
    if at is not None:
        num, den = num[at], den[at]
    return float(num.sum() / den.sum()) if den.sum() else float("nan")


def summary(gold, pred, labels: list[str] | None) -> dict:
    """{"n", "accuracy", and with labels "macro_f1", "per_class", "confusion": {"labels", "matrix"}}."""
    right = np.array(gold, dtype=object) == np.array(pred, dtype=object)
    out = {"n": len(gold), "accuracy": float(right.mean()) if len(gold) else float("nan")}
    if labels is not None:
        m = confusion(gold, pred, labels)
        rows = per_class(m, labels)
        present = [r for r in rows if r["support"] > 0]
        out.update(macro_f1=float(np.mean([r["f1"] for r in present])) if present else float("nan"),
                   per_class=rows, confusion={"labels": list(labels), "matrix": m.tolist()})
    return out


def bucket(n: int, edges: tuple, unit: str) -> str:
    """A count's bucket, for a slice: with edges (5, 10): "1-5 words", "6-10 words", "over 10 words"."""
    lo = 1
    for e in edges:
        if n <= e:
            return f"{lo}-{e} {unit}".strip() if lo < e else f"{e} {unit}".strip()
        lo = e + 1
    return f"over {edges[-1]} {unit}".strip()


def _natural(value) -> list:
    """Sort key: numbers inside a bucket's name compare as numbers ("6-10" before "11-20"; "over" last)."""
    text = str(value)
    return [text.startswith("over")] + [int(t) if t.isdigit() else t for t in re.split(r"(\d+)", text)]


def slice_metrics(scored: Scored) -> dict[str, list[dict]]:
    """Per slice, per bucket (in natural order): {"value", "n", "accuracy"}, and each `also` prediction's
    accuracy beside it."""
    right = np.array(scored.gold, dtype=object) == np.array(scored.pred, dtype=object)
    also = {k: np.array(scored.gold, dtype=object) == np.array(v, dtype=object) for k, v in scored.also.items()}
    out = {}
    for name, values in scored.slices.items():
        values = np.array(values, dtype=object)
        rows = []
        for v in [v for v in scored.order.get(name, []) if v in set(values)] or sorted(set(values), key=_natural):
            at = values == v
            rows.append({"value": v, "n": int(at.sum()), "accuracy": float(right[at].mean()),
                         **{f"{k}_accuracy": float(a[at].mean()) for k, a in also.items()},
                         **{k: _ratio(*m, at) for k, m in scored.measures.items()}})
        out[name] = rows
    return out


# ---------------------------------------------------------------------------------------------
# The map: the model's representation of each example in 2-D
# ---------------------------------------------------------------------------------------------
def map_sample(wrong: np.ndarray, max_points: int = MAP_POINTS) -> np.ndarray:
    """Indices of at most `max_points` rows: every wrong one (up to the cap), then the right ones sampled evenly."""
    wrong_i, right_i = np.flatnonzero(wrong), np.flatnonzero(~wrong)
    if len(wrong_i) >= max_points:
        return wrong_i[np.linspace(0, len(wrong_i) - 1, max_points).astype(int)]
    room = max_points - len(wrong_i)
    if len(right_i) > room:
        right_i = right_i[np.linspace(0, len(right_i) - 1, room).astype(int)]
    return np.sort(np.concatenate([wrong_i, right_i]))


def project(vectors: np.ndarray, method: str = "pca", seed: int = 0) -> np.ndarray:
    """(N, H) -> (N, 2): scikit-learn's PCA, or t-SNE (initialised by PCA, perplexity up to 30)."""
    from sklearn.decomposition import PCA
    from sklearn.manifold import TSNE
    x = np.asarray(vectors, np.float64)
    if len(x) < 3:
        return np.zeros((len(x), 2))
    if method == "pca":
        return PCA(n_components=2, random_state=seed).fit_transform(x)
    if method == "tsne":
        return TSNE(n_components=2, perplexity=float(min(30, len(x) - 1)), init="pca", random_state=seed,
                    learning_rate="auto").fit_transform(x)
    raise SeqvizError(f"Unknown projection {method!r}; choose pca or tsne.")


# ---------------------------------------------------------------------------------------------
# The report: the CLI's JSON and everything a page draws
# ---------------------------------------------------------------------------------------------
def report(scored: Scored, examples: bool = True) -> dict:
    """The JSON the CLI prints: {"unit", "shown_name", "overall", "also": {name: overall}, "slices", "notes", "columns",
    "examples": [one per row: {"input", "shown", "gold", "pred", "confidence", "correct", each slice, each `also`,
    each of "columns"}]}.
    Where rows share inputs (the utterances of one dialogue), the inputs are listed once, as "inputs", and a
    row's "input" is its index there."""
    out = {"unit": scored.unit, "shown_name": scored.shown_name or scored.unit, "accuracy_name": scored.accuracy_name,
           "overall": {**summary(scored.gold, scored.pred, scored.labels),
                       **{k: _ratio(*m) for k, m in scored.measures.items()}, **scored.extra},
           "also": {k: summary(scored.gold, v, scored.labels) for k, v in scored.also.items()},
           "slices": slice_metrics(scored), "notes": list(scored.notes),
           "columns": list(scored.columns), "measures": list(scored.measures), "worse": dict(scored.worse),
           "colour": scored.colour, "extra": list(scored.extra)}
    if examples:
        distinct = list(dict.fromkeys(scored.inputs))
        if len(distinct) < len(scored.inputs):
            out["inputs"] = distinct
        out["examples"] = rows(scored, {x: i for i, x in enumerate(distinct)} if "inputs" in out else None)
    return out


def rows(scored: Scored, index: dict | None = None) -> list[dict]:
    shown = scored.shown or scored.inputs
    extra = {**scored.slices, **scored.also, **scored.columns,
             **{k: [n / d if d else float("nan") for n, d in zip(*m)] for k, m in scored.measures.items()}}
    return [{"input": scored.inputs[i] if index is None else index[scored.inputs[i]], "shown": shown[i],
             "gold": scored.gold[i], "pred": scored.pred[i], "confidence": float(scored.confidence[i]),
             "correct": scored.gold[i] == scored.pred[i], **{k: v[i] for k, v in extra.items()}}
            for i in range(len(scored.gold))]


def input_of(report_: dict, row: dict) -> str:
    """An example's input (its text), wherever `report` put it."""
    return report_["inputs"][row["input"]] if "inputs" in report_ else row["input"]


def score(bundle, raw: bytes | None = None, filename: str | None = None, files: dict | None = None) -> Scored:
    """A model scored on its held-out set, or on a labelled file of the formats it trains on (`raw`, with the
    second files captioning reads in `files`: {key: (filename, bytes)})."""
    from seqviz import archs, budget, contract
    mod = archs.get(bundle.arch).module()
    if raw is None:
        data = contract.hook(mod, "heldout_data")(bundle)
    else:
        files = dict(files or {})
        cost = contract.hook(mod, "READ_COST")
        budget.check_read([(filename or "upload", len(raw), cost.get("upload", budget.READ_COST))] +
                          [(name, len(content), cost.get(k, budget.READ_COST)) for k, (name, content) in files.items()])
        data = mod.read_upload(raw, filename or "upload", **files)
    return contract.hook(mod, "score_examples")(bundle, data)


def heldout_scored(bundle) -> Scored:
    """`score` of the model's own held-out set, kept on the loaded model: the page's table, metrics and map
    score it once."""
    got = getattr(bundle.model, "_seqviz_heldout", None)
    if got is None:
        got = bundle.model._seqviz_heldout = score(bundle)
    return got


def heldout_report(bundle) -> dict:
    """The page's held-out view: `report` of the held-out set."""
    return report(heldout_scored(bundle))


def file_scored(bundle, raw: bytes, filename: str, files: tuple = ()) -> Scored:
    """`score` of a labelled file (`files`: ((key, filename, bytes), ...), captioning's features), the last two
    kept on the loaded model: the page's report and map of one upload score it once."""
    import hashlib
    digest = hashlib.sha1(raw + b"".join(k.encode() + c for k, _, c in files)).hexdigest() + filename
    kept = bundle.model.__dict__.setdefault("_seqviz_files", {})
    if digest not in kept:
        while len(kept) >= 2:
            kept.pop(next(iter(kept)))
        kept[digest] = score(bundle, raw, filename, {k: (name, c) for k, name, c in files})
    return kept[digest]


def file_report(bundle, raw: bytes, filename: str, files: tuple = ()) -> dict:
    """The page's view of a labelled file: `report` of `file_scored`."""
    return report(file_scored(bundle, raw, filename, files))


def file_map(bundle, raw: bytes, filename: str, files: tuple = (), method: str = "pca") -> dict:
    """`heldout_map` of a labelled file."""
    return map_of(file_scored(bundle, raw, filename, files), method, bundle.arch)


def heldout_map(bundle, method: str = "pca") -> dict:
    """The map of the held-out set: at most MAP_POINTS examples (`map_sample`: the errors kept), their
    representation projected to 2-D -> {"index": [row], "xy": [[x, y]], "method", "n"}."""
    return map_of(heldout_scored(bundle), method, bundle.arch)


def map_of(scored: Scored, method: str, arch: str = "") -> dict:
    if scored.vectors is None:
        raise SeqvizError(f"The {arch} models have no representation of an example to map.")
    wrong = np.array(scored.gold, dtype=object) != np.array(scored.pred, dtype=object)
    at = map_sample(wrong)
    return {"index": at.tolist(), "xy": project(scored.vectors[at], method).tolist(), "method": method,
            "n": len(wrong)}


def compare(a: Scored, b: Scored) -> dict:
    """Two models' rows of the same examples side by side: {"b_pred" (one per row of `a`, None where `b` left the
    row out), "a_only" (rows `a` gets right and `b` wrong), "b_only", "both_wrong", "n", "b_accuracy"}. Rows
    are matched by (input, what is shown, gold): `b` may have left some out (a label it never saw)."""
    shown_a, shown_b = a.shown or a.inputs, b.shown or b.inputs
    of_b: dict = {}
    for i, k in enumerate(zip(b.inputs, shown_b, b.gold)):
        of_b.setdefault(k, []).append(i)
    b_pred = []
    for k in zip(a.inputs, shown_a, a.gold):
        at = of_b.get(k)
        b_pred.append(b.pred[at.pop(0)] if at else None)
    a_right = [g == p for g, p in zip(a.gold, a.pred)]
    b_right = [q is not None and g == q for g, q in zip(a.gold, b_pred)]
    both = [i for i, q in enumerate(b_pred) if q is not None]
    return {"b_pred": b_pred, "n": len(both),
            "a_only": [i for i in both if a_right[i] and not b_right[i]],
            "b_only": [i for i in both if b_right[i] and not a_right[i]],
            "both_wrong": sum(not a_right[i] and not b_right[i] for i in both),
            "b_accuracy": float(np.mean([b_right[i] for i in both])) if both else float("nan")}


def heldout_compare(bundle, other: str, stamp: float | None = None) -> dict:
    """`compare` of `bundle` with its architecture's model `other`, on `bundle`'s held-out set (`other` scores
    the same examples; `stamp`: the other's store stamp, so a cached comparison follows a retrained model)."""
    from seqviz import archs, contract, store
    b = store.load(bundle.arch, other)
    mod = archs.get(bundle.arch).module()
    data = contract.hook(mod, "heldout_data")(bundle)
    return {"model": other, **compare(heldout_scored(bundle), contract.hook(mod, "score_examples")(b, data))}


def run(bundle, raw: bytes | None = None, filename: str | None = None, files: dict | None = None) -> dict:
    """`report` of `score` (the CLI's `evaluate`)."""
    return report(score(bundle, raw, filename, files))
