"""Hyperparameter specs: one list per architecture drives validation, the CLI's `--set key=value`
and the sidebar's knobs, so a knob's range is written exactly once."""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Sequence

from seqviz.errors import SeqvizError


@dataclass(frozen=True)
class Param:
    name: str
    default: Any
    lo: float | None = None      # inclusive range for numbers
    hi: float | None = None
    help: str = ""
    choices: tuple = ()          # for strings: the allowed values
    label: str = ""              # the knob's label in words, where LABELS' generic one does not fit
    generated: bool = False      # a knob of the generated data only: a model of the user's file ignores it

    @property
    def title(self) -> str:
        """What the sidebar calls this knob: words, not the setting's name ("training sentences", not "n train")."""
        return self.label or LABELS.get(self.name) or self.name.replace("_", " ")

    @property
    def kind(self) -> type:
        return type(self.default)

    def check(self, value: Any) -> Any:
        """Coerce `value` (maybe a CLI string) to this param's type, or raise SeqvizError."""
        kind = self.kind
        try:
            if kind is bool:
                if isinstance(value, str):
                    if value.lower() not in ("true", "false", "1", "0", "yes", "no"):
                        raise ValueError
                    value = value.lower() in ("true", "1", "yes")
                value = bool(value)
            elif kind is int:
                f = float(value)
                if f != int(f):
                    raise ValueError
                value = int(f)
            elif kind is float:
                value = float(value)
                if value != value:  # NaN
                    raise ValueError
            else:
                value = str(value)
        except (TypeError, ValueError, OverflowError):
            raise SeqvizError(f"{self.name} must be {_kind_words(kind)}, not {value!r}.") from None
        if self.choices and value not in self.choices:
            raise SeqvizError(f"{self.name} must be one of {', '.join(map(str, self.choices))}; got {value!r}.")
        if kind in (int, float) and ((self.lo is not None and value < self.lo) or
                                     (self.hi is not None and value > self.hi)):
            raise SeqvizError(f"{self.name} must be between {self.lo:g} and {self.hi:g}; got {value:g}.")
        return value


def _kind_words(kind: type) -> str:
    return {bool: "true or false", int: "a whole number", float: "a number"}.get(kind, "text")


def resolve(params: Sequence[Param], overrides: dict | None = None) -> dict:
    """Defaults updated with `overrides`, every value checked. Unknown keys are an error."""
    known = {p.name: p for p in params}
    overrides = dict(overrides or {})
    unknown = sorted(set(overrides) - set(known))
    if unknown and not known:
        raise SeqvizError(f"Unknown setting {unknown[0]!r}: there are no settings here.")
    if unknown:
        raise SeqvizError(f"Unknown setting {unknown[0]!r}; the settings are: {', '.join(known)}.")
    return {p.name: p.check(overrides.get(p.name, p.default)) for p in params}


def parse_sets(pairs: Sequence[str]) -> dict:
    """['epochs=3', 'mode=peek'] -> {'epochs': '3', 'mode': 'peek'} (values checked later)."""
    out = {}
    for pair in pairs:
        key, sep, value = pair.partition("=")
        if not sep or not key.strip():
            raise SeqvizError(f"--set takes key=value, got {pair!r}.")
        out[key.strip()] = value.strip()
    return out


SEED = Param("seed", 0, 0, 2**31 - 1, "random seed: the same settings and seed give the same model")


# The knobs' labels on the pages (the CLI's --set keeps the names)
LABELS = {
    "seed": "random seed", "epochs": "epochs (passes over the data)", "batch_size": "batch size",
    "learning_rate": "learning rate", "embed_dim": "word embedding size", "units": "LSTM units",
    "attn_dim": "attention size", "decoys": "share with a decoy cue", "max_vocab": "most frequent words kept",
    "max_len": "longest input (words)", "n_dialogues": "training dialogues",
    "max_utterances": "longest dialogue (utterances)", "word_units": "utterance LSTM units (per direction)",
    "context_units": "dialogue LSTM units (per direction)", "window": "training window (utterances)",
    "max_words": "words kept per utterance", "transition_init": "CRF transitions start as",
    "mode": "decoder mode", "depth": "stacked LSTM layers", "teacher_force": "teacher forcing",
    "min_len": "shortest input (tokens)", "n_scenes": "training scenes", "max_objects": "object groups per scene",
    "feature_dim": "feature size D", "max_len1": "caption 1 length (0 = its longest)",
    "max_len2": "caption 2 length (0 = its longest)", "dropout": "dropout on the features",
    "image_units": "image projection size", "num_sampled": "words sampled per step", "vocab_size": "vocabulary size V",
    "corpus": "training text", "seq_len": "words per training window",
}
