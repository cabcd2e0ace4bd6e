"""Why did it say that? Explanations of one prediction, and whether they agree with each other and with attention.

Every method gives one importance per input unit (a token) for one target score (the predicted class's
probability, ...), computed on the model's own embeddings, so an architecture contributes only a `Subject`: the
input's embeddings and a traced function giving its target's score from embeddings (the rest of its model,
called layer by layer: never a second copy of its maths). The methods (LIT's salience maps; Jain & Wallace 2019):

    grad       gradient × input   Σ_e ∂s/∂x_te · x_te            first-order change when unit t is zeroed
    gradl2     gradient L2        ‖∂s/∂x_t‖₂                     how sensitive s is to unit t (no sign)
    ig         integrated grads   Σ_e x_te · mean_α ∂s/∂x_te(αx)  m midpoints α on the way from the zero embedding;
                                                                 they sum to s(x) − s(0) (completeness)
    occlusion  leave-one-out      s(x) − s(x with unit t → <unk>) the drop when the model cannot read the unit

Each method is one batched call of the traced score (ig: all m steps at once; occlusion: all T variants).
`agreement` compares any two importances: Kendall's τ-b over the units and whether their top units coincide.
`faithfulness` is the test of whether attention explains (Jain & Wallace; Wiegreffe & Pinter): the output's
change when the weights are shuffled, and accuracy with uniform weights instead of learned ones.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Callable

import numpy as np

METHODS = {"grad": "gradient × input", "gradl2": "gradient L2", "ig": "integrated gradients",
           "occlusion": "leave-one-out"}
IG_STEPS = 32


@dataclass
class Subject:
    """N inputs of one model as the methods see them (an architecture's `explainable` makes it; N = 1 for the
    page's input, the held-out set in one batch for the figures over it)."""
    units: list[list[str]]           # per input, what gets one importance each: the first len(units[i]) rows
    embedded: np.ndarray             # (N, T, E) float32: the inputs' embeddings (padding after their units)
    unk: np.ndarray                  # (E,) what an occluded unit reads instead: the model's <unk>; or (N, T, E)
    #                                  one per unit (captioning: a word's <unk>, zeros for the image)
    score: Callable                  # traced: (M, T, E) embeddings, *args (M, ...) -> (M,) the target's score
    args: tuple = ()                 # the score's other inputs, each (N, ...): repeated with the embeddings
    target: list[str] = field(default_factory=list)   # per input, the target in words: "P(food)"
    extras: dict = field(default_factory=dict)        # what the model shows itself, per unit: {"attention": (N, T)}
    ig_steps: int = IG_STEPS         # integrated gradients' steps by default: more where the path bends sharply


def _traced(score, emb: np.ndarray, args: tuple):
    """(the score, its gradient) as concrete functions of any batch and length (traced once per score function,
    kept on it): (M, T, E), *args -> s (M,), and -> (s, ∂s/∂embeddings (M, T, E))."""
    fns = getattr(score, "_seqviz_explain", None)
    if fns is None:
        import tensorflow as tf
        spec = [tf.TensorSpec((None,) * (emb.ndim - 1) + emb.shape[-1:], tf.float32),
                *(tf.TensorSpec((None,) * np.ndim(a), tf.as_dtype(np.asarray(a).dtype)) for a in args)]

        def gradient(e, *rest):
            with tf.GradientTape() as tape:
                tape.watch(e)
                s = score(e, *rest)
            return s, tape.gradient(s, e)
        fns = score._seqviz_explain = tuple(tf.function(f, input_signature=spec, autograph=False)
                                            .get_concrete_function() for f in (score, gradient))
    return fns


def _call(subject: Subject, emb: np.ndarray, args: tuple, grad: bool = False):
    fn = _traced(subject.score, emb, args)[int(grad)]
    return fn(emb.astype(np.float32), *args)


def _args(subject: Subject, k: int, repeat: bool = False) -> tuple:
    """The score's other inputs for k variants of every input: variant-major (tiled) or input-major (repeat)."""
    return tuple(np.repeat(a, k, axis=0) if repeat else np.tile(a, (k,) + (1,) * (a.ndim - 1))
                 for a in subject.args)


def value(subject: Subject, emb: np.ndarray | None = None) -> np.ndarray:
    """The target's score (N,) of each input, or of other embeddings of them (N, T, E)."""
    return np.asarray(_call(subject, subject.embedded if emb is None else emb, subject.args))


def gradients(subject: Subject) -> np.ndarray:
    """∂(each input's target score)/∂(its embeddings): (N, T, E), one call."""
    return np.asarray(_call(subject, subject.embedded, subject.args, grad=True)[1])


def grad_input(subject: Subject) -> np.ndarray:
    return (gradients(subject) * subject.embedded).sum(-1)


def grad_l2(subject: Subject) -> np.ndarray:
    return np.linalg.norm(gradients(subject), axis=-1)


def integrated_gradients(subject: Subject, m: int | None = None) -> np.ndarray:
    """Integrated gradients from the zero embedding, the midpoint rule over m steps (None: the subject's
    `ig_steps`): all m x N in one call."""
    m = m or subject.ig_steps
    alphas = (np.arange(m, dtype=np.float32) + 0.5) / m
    path = (alphas[:, None, None, None] * subject.embedded[None]).reshape(-1, *subject.embedded.shape[1:])
    _, g = _call(subject, path, _args(subject, m), grad=True)
    return (subject.embedded * np.asarray(g).reshape(m, *subject.embedded.shape).mean(0)).sum(-1)


def occlusion(subject: Subject) -> np.ndarray:
    """s(x) − s(x with unit t read as <unk>), every unit t of every input in one call (t's row → <unk>'s; 0 past
    an input's units)."""
    n, t, _ = subject.embedded.shape
    k = max(map(len, subject.units))                                     # units to occlude, at most
    variants = np.repeat(subject.embedded, k + 1, axis=0).reshape(n, k + 1, t, -1)   # variant 0: the input
    variants[:, np.arange(1, k + 1), np.arange(k)] = subject.unk if subject.unk.ndim == 1 else subject.unk[:, :k]
    s = np.asarray(_call(subject, variants.reshape(n * (k + 1), t, -1), _args(subject, k + 1, repeat=True)))
    drop = np.zeros((n, t), np.float32)
    drop[:, :k] = s.reshape(n, k + 1)[:, :1] - s.reshape(n, k + 1)[:, 1:]
    lengths = np.array([len(u) for u in subject.units])
    return np.where(np.arange(t)[None] < lengths[:, None], drop, 0.0)


RUN = {"grad": grad_input, "gradl2": grad_l2, "ig": integrated_gradients, "occlusion": occlusion}


def importances(subject: Subject, methods=tuple(METHODS), m: int | None = None) -> dict[str, np.ndarray]:
    """{method: (N, T)}: each method's importance of every unit of every input (past an input's units: padding)."""
    return {k: integrated_gradients(subject, m) if k == "ig" else RUN[k](subject) for k in methods}


def explain(subject: Subject, methods=tuple(METHODS), m: int | None = None) -> dict:
    """One input (the subject's first): every method's importance per unit, the target's score, and each
    method's agreement with the others and with the model's own weights where it has them: {"units", "target",
    "score", "importance": {method: [one per unit]}, "agreement": {"a|b": {"tau", "top1"}}, "ig_steps",
    "ig_completeness": {"sum", "expected"} (expected = s(x) − s(zero embedding))}."""
    one = Subject(subject.units[:1], subject.embedded[:1], subject.unk[:1] if subject.unk.ndim == 3 else subject.unk,
                  subject.score, tuple(a[:1] for a in subject.args), subject.target[:1],
                  {k: np.asarray(v)[:1] for k, v in subject.extras.items()}, subject.ig_steps)
    cut = len(one.units[0])
    imp = {k: v[0, :cut] for k, v in importances(one, methods, m).items()}
    out = {"units": list(one.units[0]), "target": one.target[0] if one.target else "",
           "score": float(value(one)[0]), "importance": {k: [float(x) for x in v] for k, v in imp.items()}}
    if "ig" in imp:     # completeness: the attributions add up to s(x) − s(zero embedding)
        out["ig_steps"] = m or one.ig_steps
        base = float(value(one, np.zeros_like(one.embedded))[0])
        out["ig_completeness"] = {"sum": float(imp["ig"].sum()), "expected": out["score"] - base}
    shown = {**imp, **{k: np.asarray(v)[0, :cut] for k, v in one.extras.items()}}
    out["agreement"] = {f"{a}|{b}": agreement(shown[a], shown[b])
                        for i, a in enumerate(shown) for b in list(shown)[i + 1:]}
    return out


# ---------------------------------------------------------------------------------------------
# Agreement: do two explanations rank the units alike?
# ---------------------------------------------------------------------------------------------
def kendall_tau(a, b) -> float:
    """Kendall's τ-b (ties in either ranking accounted for): +1 the same order, 0 unrelated, −1 reversed;
    0.0 when either ranking is constant (nothing to order)."""
    a, b = np.asarray(a, float), np.asarray(b, float)
    i, j = np.triu_indices(len(a), k=1)
    da, db = np.sign(a[i] - a[j]), np.sign(b[i] - b[j])
    n_a, n_b = np.count_nonzero(da), np.count_nonzero(db)        # pairs not tied in a, in b
    if n_a == 0 or n_b == 0:
        return 0.0
    return float((da * db).sum() / np.sqrt(n_a * n_b))


def top_k_overlap(a, b, k: int = 1) -> float:
    """The share of a's k most important units that are among b's k most important."""
    k = min(k, len(a))
    top = lambda v: set(np.argsort(-np.asarray(v, float), kind="stable")[:k].tolist())   # noqa: E731
    return len(top(a) & top(b)) / k if k else 0.0


def agreement(a, b) -> dict:
    return {"tau": kendall_tau(a, b), "top1": top_k_overlap(a, b, 1)}


def over(subjects, methods=tuple(METHODS), m: int | None = None) -> dict:
    """The explanations of many inputs as distributions (each subject one input or more, e.g. the held-out set):
    for every pair of methods, and of a method and the model's own weights where it shows them, the median of
    their Kendall τ with its quartiles, and the share of inputs whose top unit is the same. An input of one unit
    has nothing to rank and is left out. -> {"n", "ig_steps", "pairs": {"a|b": {"tau", "tau_q1", "tau_q3",
    "top1"}}}."""
    taus: dict[str, list[float]] = {}
    tops: dict[str, list[float]] = {}
    n, steps = 0, set()
    for sub in subjects:
        imp = importances(sub, methods, m)
        steps.add(m or sub.ig_steps)
        for i, units in enumerate(sub.units):
            cut = len(units)
            if cut < 2:
                continue
            n += 1
            shown = {k: np.asarray(v)[i, :cut] for k, v in {**imp, **sub.extras}.items()}
            names = list(shown)
            for j, a in enumerate(names):
                for b in names[j + 1:]:
                    taus.setdefault(f"{a}|{b}", []).append(kendall_tau(shown[a], shown[b]))
                    tops.setdefault(f"{a}|{b}", []).append(top_k_overlap(shown[a], shown[b]))
    pairs = {k: {"tau": float(np.median(v)), "tau_q1": float(np.percentile(v, 25)),
                 "tau_q3": float(np.percentile(v, 75)), "top1": float(np.mean(tops[k]))} for k, v in taus.items()}
    return {"n": n, "ig_steps": sorted(steps)[0] if len(steps) == 1 else sorted(steps), "pairs": pairs}


def plausibility(importance, truth) -> float:
    """The share of the positive importance on the units that truly decide (generated data knows its cue
    words); nan when there is no positive importance."""
    pos = np.clip(np.asarray(importance, float), 0, None)
    return float(pos[np.asarray(truth, bool)].sum() / pos.sum()) if pos.sum() > 0 else float("nan")


# ---------------------------------------------------------------------------------------------
# Is attention an explanation? (an attention model with a way to feed it given weights)
# ---------------------------------------------------------------------------------------------
def total_variation(p: np.ndarray, q: np.ndarray) -> np.ndarray:
    """Half the L1 distance between output distributions (last axis): 0 the same, 1 disjoint."""
    return 0.5 * np.abs(p - q).sum(-1)


def faithfulness(probs_given: Callable, weights: np.ndarray, lengths: np.ndarray, labels: np.ndarray,
                 permutations: int = 20, seed: int = 0) -> dict:
    """Jain & Wallace's permutation test and Wiegreffe & Pinter's uniform baseline on a held-out set.

    `probs_given(weights (N, T)) -> (N, C)` runs the model with the attention weights given (the same states);
    `weights` (N, T) are its learned weights (0 past each sentence's `lengths`), `labels` (N,) the gold classes.
    -> {"permutation_tvd": median over sentences of the median output change (total variation) when the weights
    are shuffled among a sentence's words, "permutation_flips": share of (sentence, shuffle) pairs whose label
    changes, "accuracy": with the learned weights, "uniform_accuracy": with 1/len on every word,
    "uniform_tvd": median output change from learned to uniform}."""
    rng = np.random.default_rng(seed)
    n, t = weights.shape
    learned = np.asarray(probs_given(weights))
    shuffled = np.zeros((permutations, n, t), np.float32)
    for k in range(permutations):
        for i, length in enumerate(lengths):
            shuffled[k, i, :length] = weights[i, rng.permutation(length)]
    perm = np.asarray(probs_given(shuffled.reshape(-1, t))).reshape(permutations, n, -1)
    uniform = (np.arange(t)[None] < lengths[:, None]) / lengths[:, None].astype(np.float32)
    flat = np.asarray(probs_given(uniform.astype(np.float32)))
    return {"permutation_tvd": float(np.median(np.median(total_variation(perm, learned[None]), axis=0))),
            "permutation_flips": float(np.mean(perm.argmax(-1) != learned.argmax(-1)[None])),
            "accuracy": float(np.mean(learned.argmax(-1) == labels)),
            "uniform_accuracy": float(np.mean(flat.argmax(-1) == labels)),
            "uniform_tvd": float(np.median(total_variation(flat, learned))),
            "n": int(n), "permutations": permutations}


# ---------------------------------------------------------------------------------------------
# The services' entry points (the CLI, the pages): any architecture with an `explainable`
# ---------------------------------------------------------------------------------------------
def of(bundle, text: str, target: str | None = None, methods=tuple(METHODS), m: int | None = None) -> dict:
    """`explain` of one input of a loaded model, for the target its architecture names (None: its prediction)."""
    from seqviz import archs, contract
    unknown = [k for k in methods if k not in METHODS]
    if unknown or not methods:
        from seqviz.errors import SeqvizError
        raise SeqvizError(f"Unknown explanation method {', '.join(unknown) or '(none)'}; choose from "
                          f"{', '.join(METHODS)} or all.")
    subject = contract.hook(archs.get(bundle.arch).module(), "explainable")(bundle, text, target)
    return explain(subject, tuple(methods), m)


def heldout(bundle, n: int | None = None) -> dict:
    """The explanations over a model's held-out set (`n` cases, None: its architecture's default): by default
    `over` its architecture's `heldout_cases`; the attention classifier adds the faithfulness tests."""
    from seqviz import archs, contract
    return contract.hook(archs.get(bundle.arch).module(), "explain_heldout")(bundle, *([] if n is None else [n]))


def over_cases(mod, bundle, n: int | None = None) -> dict:
    """`over` the held-out cases (input, target) of an architecture's `heldout_cases(bundle, n)`, each explained
    by its `explainable` (the default `explain_heldout`)."""
    from seqviz import contract
    cases = contract.hook(mod, "heldout_cases")(bundle, *([] if n is None else [n]))
    explainable = contract.hook(mod, "explainable")
    return {"cases": len(cases), **over(explainable(bundle, x, target) for x, target in cases)}
