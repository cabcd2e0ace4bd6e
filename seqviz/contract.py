"""The architecture contract, as code: every hook the shared services call on an architecture module.

An architecture is one module (seqviz/<arch>.py) registered in `seqviz.archs`. The services (training, the
store, replay, compare, export, the memory budget, the pages' warm-up, the CLI) call only the names below;
`check(module)` verifies a module has all of them with the right signatures (the registry runs it when it first
imports a module, and a test runs it on all five). A new shared service adds its hook here first.

`Architecture` lists the required hooks; `OPTIONAL` the ones an architecture may leave out, with the behaviour it
then gets; services reach those through `hook(module, name)`, never `getattr` with a default of their own.
`RESULT` is what `predict` returns (LIT's output spec): key -> `Out(type, shape, doc)`; `conform` checks a result
against it, and the CLI prints a result in the order its spec gives.
"""
from __future__ import annotations

import inspect
import typing
from dataclasses import dataclass
from types import ModuleType, UnionType
from typing import Any, Protocol

from seqviz.params import Param


@dataclass(frozen=True)
class Out:
    """One key of a `predict` result: its JSON type (a typing annotation: `list[str]`, `dict[str, float]`,
    `float | None`...), its shape as named dimensions of its nested lists (("T",): one per token; ("U", "L"):
    utterances x labels; the same name is the same size across a result's keys) and what it means."""
    type: Any
    shape: tuple = ()
    doc: str = ""
    optional: bool = False      # absent in some results (the doc says when)


class Architecture(Protocol):
    """The hooks every architecture module provides (module-level names)."""

    PARAMS: list[Param]             # training knobs, `seed` among them
    PREDICT_PARAMS: list[Param]     # inference options (may be empty)
    EXAMPLE: str                    # a ready input for the page and the CLI
    QUICK: dict                     # the sidebar's Quick preset: knob overrides for a small run
    KERAS_CODE: tuple               # the classes and functions the page's "Keras code" view shows (their source)
    RESULT: dict[str, Out]          # what `predict` returns, key by key

    def read_upload(self, raw: bytes, filename: str, **files) -> Any:
        """The user's training file (and the second files in FILES), validated, as the data `fit` takes."""

    def memory(self, params: dict, data: Any = None) -> list:
        """What a run (or, with data None, the model) holds in memory: `seqviz.budget.Term`s, checked before work."""

    def fit(self, params: dict, data: Any, run: Any) -> tuple:
        """Train on `data` (None: generated) -> (model, vocabs, metrics); Keras' fit gets
        `run.callbacks(model predict reads, vocabs)` (seqviz.run). metrics["heldout"], if given, is a dict of
        arrays (a user's held-out rows, under store.HELDOUT_BYTES) the store keeps as the bundle's `heldout`."""

    def build(self, params: dict, vocabs: dict) -> Any:
        """The untrained Keras model for these settings and vocabularies: the store rebuilds with it, then loads."""

    def predict(self, bundle: Any, text: str, **options) -> dict:
        """One input -> a JSON-ready dict with the keys of RESULT (the CLI's `predict` output, every figure's data)."""

    def snapshot(self, bundle: Any, **probe) -> dict:
        """One epoch of a replay: a selection of `predict`'s result on the probe (seqviz.replay)."""

    def story(self, replay: dict) -> dict:
        """What changed over a replay: {"lines": {name: one value per epoch}, "events": [sentences]}."""

    def diff(self, a: Any, ra: dict, b: Any, rb: dict) -> dict:
        """What differs between two models' results on one input (seqviz.compare)."""

    def serving(self, bundle: Any) -> Any:
        """A tf.function taking raw inputs (tokenised in the graph) for the SavedModel export (seqviz.export)."""


def _example(mod: ModuleType) -> dict:
    return {"text": mod.EXAMPLE}


def _predict_text_file(mod: ModuleType):
    def predict_file(bundle, raw: bytes, filename: str, **options) -> dict:
        from seqviz.uploads import decode_text
        return mod.predict(bundle, decode_text(raw, filename), **options)
    return predict_file


# name -> what a module that leaves the hook out gets (made from the module: a value, or a function)
OPTIONAL: dict[str, Any] = {
    "FILES": lambda mod: {},                # {key: what} second files `read_upload` takes (captioning's features)
    "READ_COST": lambda mod: {},            # {"upload" or a FILES key: memory per byte read}, else budget's
    "probe": lambda mod: lambda params, data: _example(mod),   # the replay's input for a run on `data`
    "predict_file": _predict_text_file,     # the CLI's --file: by default the file's text is the input
    "check_params": lambda mod: lambda params, data: params,   # knob constraints, the data against them
    "default_model": lambda mod: lambda options: "default",    # the CLI's --model default (seq2seq: per mode)
    "prepare_worker": lambda mod: lambda: None,                # what any run reads, loaded in a spare worker
    "advise": lambda mod: lambda params, data: [],             # what to reconsider before a run (it may go ahead)
    # seqviz.explain: `explainable(bundle, text, target=None)` -> an explain.Subject (the input's embeddings and
    # the target's score from them); `heldout_cases(bundle, n=...)` -> [(input, target)] of the held-out set;
    # `explain_heldout(bundle, n=...)` -> the explanations over them (by default explain.over_cases)
    "explainable": lambda mod: _unexplained(mod),
    "heldout_cases": lambda mod: _unexplained(mod),
    "explain_heldout": lambda mod: _over_cases(mod),
    # the CLI's `explain --file`: the file's bytes -> the input `explainable` reads (by default the file's text)
    "explain_input": lambda mod: _text_of_file,
    # seqviz.evaluate: `heldout_data(bundle)` -> the held-out examples (the type `read_upload` returns);
    # `score_examples(bundle, data)` -> an evaluate.Scored, one row per example
    "heldout_data": lambda mod: _no_heldout_view(mod),
    "score_examples": lambda mod: _no_heldout_view(mod),
    # seqviz.states: `lstm_inputs(bundle, inputs)` -> [states.LayerInput]: each LSTM layer and what it reads for
    # a batch of the page's inputs; `lstm_heldout(bundle)` -> (inputs, what opens each in the page's view) of the
    # held-out set (by default the held-out examples' own inputs)
    "lstm_inputs": lambda mod: _no_states(mod),
    "lstm_heldout": lambda mod: _heldout_inputs,
    # `unit_effects(bundle, text, layer)` -> each unit's weight into the page's output and its ablation's effect
    # (seqviz.states.effects), or None for a layer that reaches the output only through others
    "unit_effects": lambda mod: lambda bundle, text, layer: None,
    # seqviz.batch (predict --data): `batch_inputs(raw, filename)` -> [(where in the file, input)] (by default a
    # `text` column or one input per line); `predict_batch(bundle, inputs, **options)` -> per input `predict`'s
    # result or the SeqvizError that refused it (by default `predict` on each)
    "batch_inputs": lambda mod: _text_rows,
    "predict_batch": lambda mod: _each(mod),
}


def _text_rows(raw: bytes, filename: str) -> list:
    from seqviz import batch
    return batch.text_rows(raw, filename)


def _each(mod: ModuleType):
    from seqviz import batch
    return batch.each(mod.predict)


def _heldout_inputs(bundle) -> tuple[list, list]:
    from seqviz import evaluate
    distinct = list(dict.fromkeys(evaluate.heldout_scored(bundle).inputs))
    return distinct, distinct


def _no_states(mod: ModuleType):
    def refuse(bundle, *args, **kwargs):
        from seqviz.errors import SeqvizError
        raise SeqvizError(f"The LSTM states of the {mod.__name__.rsplit('.', 1)[-1]} models are not available yet.")
    return refuse


def _no_heldout_view(mod: ModuleType):
    def refuse(bundle, *args, **kwargs):
        from seqviz.errors import SeqvizError
        raise SeqvizError(f"The held-out view of the {mod.__name__.rsplit('.', 1)[-1]} models is not available yet.")
    return refuse


def _text_of_file(bundle, raw: bytes, filename: str) -> str:
    from seqviz.uploads import decode_text
    return decode_text(raw, filename)


def _over_cases(mod: ModuleType):
    def explain_heldout(bundle, *n):
        from seqviz import explain
        return explain.over_cases(mod, bundle, *n)
    return explain_heldout


def _unexplained(mod: ModuleType):
    def refuse(bundle, *args, **kwargs):
        from seqviz.errors import SeqvizError
        raise SeqvizError(f"Explanations of the {mod.__name__.rsplit('.', 1)[-1]} models are not available yet.")
    return refuse
REQUIRED = [n for n in Architecture.__annotations__] + [
    n for n, v in vars(Architecture).items() if inspect.isfunction(v) and not n.startswith("_")]


def hook(mod: ModuleType, name: str):
    """The module's `name`, or what OPTIONAL gives a module without it."""
    if hasattr(mod, name):
        return getattr(mod, name)
    return OPTIONAL[name](mod)


def _takes(fn, n: int, keywords: bool) -> bool:
    """`fn` can be called with `n` positional arguments (the services call the hooks positionally), and with
    `keywords` more by keyword (a probe's fields, predict's options)."""
    params = inspect.signature(fn).parameters.values()
    ps = [p for p in params if p.kind in (p.POSITIONAL_ONLY, p.POSITIONAL_OR_KEYWORD)]
    varargs = any(p.kind == p.VAR_POSITIONAL for p in params)
    required = sum(p.default is p.empty for p in ps)
    return (keywords or required <= n) and (n <= len(ps) or varargs)


def check(mod: ModuleType) -> ModuleType:
    """Raise TypeError naming every way `mod` falls short of the contract; return it when it does not."""
    problems = []
    for name in REQUIRED:
        if not hasattr(mod, name):
            problems.append(f"no {name}")
            continue
        want = getattr(Architecture, name, None)
        got = getattr(mod, name)
        if inspect.isfunction(want):
            if not callable(got):
                problems.append(f"{name} is not a function")
                continue
            need = [p for p in inspect.signature(want).parameters.values()
                    if p.kind == p.POSITIONAL_OR_KEYWORD][1:]          # without self
            keywords = any(p.kind == p.VAR_KEYWORD for p in inspect.signature(want).parameters.values())
            if not _takes(got, len(need), keywords):
                problems.append(f"{name}{inspect.signature(got)} cannot take ({', '.join(p.name for p in need)})")
    for name in ("PARAMS", "PREDICT_PARAMS"):
        if not all(isinstance(p, Param) for p in getattr(mod, name, [])):
            problems.append(f"{name} holds something other than Params")
    if hasattr(mod, "PARAMS") and "seed" not in {p.name for p in mod.PARAMS}:
        problems.append("PARAMS has no seed")
    if not isinstance(getattr(mod, "EXAMPLE", ""), str):
        problems.append("EXAMPLE is not a string")
    if hasattr(mod, "PARAMS") and not set(getattr(mod, "QUICK", {})) <= {p.name for p in mod.PARAMS}:
        problems.append("QUICK sets a knob PARAMS does not have")
    result = getattr(mod, "RESULT", {})
    if not isinstance(result, dict) or not all(isinstance(v, Out) for v in result.values()):
        problems.append("RESULT is not a dict of Out")
    for name in OPTIONAL:
        if hasattr(mod, name) and name[0].islower() and not callable(getattr(mod, name)):
            problems.append(f"{name} is not a function")
    if problems:
        raise TypeError(f"{mod.__name__} does not satisfy the architecture contract: {'; '.join(problems)}")
    return mod


def _is(value, t) -> bool:
    """`value` (JSON-ready) is of the annotation `t`."""
    if t is Any:
        return True
    if t is float:
        return isinstance(value, (int, float)) and not isinstance(value, bool)
    origin = typing.get_origin(t)
    if origin in (typing.Union, UnionType):
        return any(_is(value, a) for a in typing.get_args(t))
    if origin is list:
        (item,) = typing.get_args(t)
        return isinstance(value, (list, tuple)) and all(_is(v, item) for v in value)
    if origin is dict:
        k, v = typing.get_args(t)
        return isinstance(value, dict) and all(_is(a, k) and _is(b, v) for a, b in value.items())
    if t is type(None):
        return value is None
    return isinstance(value, t)


def _sizes(value, dims: tuple) -> list[tuple[str, int]]:
    """(dimension name, size) along the nested lists of `value`, for its shape's named dimensions."""
    out = []
    for dim in dims:
        if not isinstance(value, (list, tuple)):
            break
        if isinstance(dim, str) and dim != "*":
            out.append((dim, len(value)))
        if not value:
            break
        sizes = {len(v) for v in value if isinstance(v, (list, tuple))}
        if len(sizes) > 1:      # ragged below this level: only the outer dimensions are named
            break
        value = value[0]
    return out


def conform(mod: ModuleType, result: dict) -> dict:
    """`result` checked against the module's RESULT (a mismatch is a bug in the module: a RuntimeError naming it),
    returned with its keys in the spec's order."""
    spec = mod.RESULT
    problems = [f"undeclared key {k!r}" for k in result if k not in spec]
    problems += [f"missing {k!r}" for k, o in spec.items() if not o.optional and k not in result]
    bound: dict[str, int] = {}
    for k, o in spec.items():
        if k not in result:
            continue
        if not _is(result[k], o.type):
            problems.append(f"{k!r} is not {o.type}")
            continue
        for dim, size in _sizes(result[k], o.shape):
            if bound.setdefault(dim, size) != size:
                problems.append(f"{k!r} has {size} along {dim}, other keys {bound[dim]}")
    if problems:
        raise RuntimeError(f"{mod.__name__}.predict broke its RESULT spec: {'; '.join(problems)}")
    return {k: result[k] for k in spec if k in result}


def ordered(mod: ModuleType, result: dict) -> dict:
    """`result` with its keys in the RESULT spec's order, unchecked: for the rows of a batch whose first row
    `conform` checked (the same code made them all)."""
    return {k: result[k] for k in mod.RESULT if k in result}


def describe(mod: ModuleType) -> str:
    """RESULT in words, one key a line (the CLI's help)."""
    return "\n".join(f"  {k}: {_name(o.type)}" + (f" ({', '.join(map(str, o.shape))})" if o.shape else "")
                     + (" (optional)" if o.optional else "") + f" — {o.doc}" for k, o in mod.RESULT.items())


def _name(t) -> str:
    return getattr(t, "__name__", None) if not typing.get_args(t) else str(t).replace("typing.", "")

