"""The model store: `models/<arch>/<name>/` = config.json + model.weights.h5 + vocab_*.json + metrics.json
(+ replay.json, seqviz.replay; + heldout.npz, the held-out rows of a user's file a model keeps).

Loading REBUILDS the model with the architecture's own `build(params, vocabs)` and then loads the
weights: nothing is unpickled and no code or model structure is ever read from a file.
Writes are atomic: the entry is written into a hidden temp folder beside it and moved into place
with `os.replace`; an existing entry is first moved aside to a hidden `.old-` folder, and a crash
between the two moves is repaired on the next read (the old entry comes back).
`SEQVIZ_MODELS` overrides the store's location (tests use a temp dir).
"""
from __future__ import annotations

import fcntl
import json
import os
import platform
import re
import shutil
import time
import uuid
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from seqviz import archs, budget, settings
from seqviz.errors import SeqvizError
from seqviz.vocab import Vocab

DEFAULT = "default"
WEIGHTS = "model.weights.h5"
_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$")


@dataclass
class Bundle:
    """A trained model with everything needed to use it."""
    arch: str
    name: str
    params: dict
    model: Any                      # tf.keras.Model
    vocabs: dict[str, Vocab]
    metrics: dict = field(default_factory=dict)
    data: dict = field(default_factory=lambda: {"source": "generated"})
    replay: dict | None = None      # what seqviz.replay recorded while it trained (saved as replay.json)
    training: bool = False          # a model in training (a replay's snapshot): not worth tracing graphs for
    heldout: dict | None = None     # arrays of a user's held-out rows the page offers (heldout.npz; HELDOUT_BYTES)


HELDOUT_BYTES = 4_000_000          # what heldout.npz may hold: an architecture keeps fewer rows than this allows


_SHIPPED = Path(__file__).resolve().parent.parent / "models"


def root() -> Path:
    """The store's folder: $SEQVIZ_MODELS, else the repository's models/ (the shipped defaults)."""
    return Path(os.environ.get("SEQVIZ_MODELS") or _SHIPPED)


def check_name(name: str) -> str:
    if not isinstance(name, str) or not _NAME.fullmatch(name):   # fullmatch: "$" alone accepts "x\n"
        raise SeqvizError(f"Model name {name!r} is not allowed: use 1-64 letters, digits, '.', '_' or '-', "
                          "starting with a letter or digit.")
    return name


def _dir(arch: str, name: str) -> Path:
    archs.get(arch)
    return root() / arch / check_name(name)


class _locked:
    """An exclusive lock on an arch's folder (threads and processes): saves and repairs take turns."""

    def __init__(self, arch_dir: Path):
        arch_dir.mkdir(parents=True, exist_ok=True)
        self.path = arch_dir / ".lock"

    def __enter__(self):
        self.f = open(self.path, "a")
        fcntl.flock(self.f, fcntl.LOCK_EX)

    def __exit__(self, *exc):
        fcntl.flock(self.f, fcntl.LOCK_UN)
        self.f.close()


def _repair(arch_dir: Path) -> None:
    """Undo a save that died between its two renames: the entry moved aside comes back."""
    for gone in arch_dir.glob(".del-*"):               # a delete that died between its rename and its removal
        shutil.rmtree(gone, ignore_errors=True)
    if not any(arch_dir.glob(".old-*")):
        return
    with _locked(arch_dir):
        for old in arch_dir.glob(".old-*"):
            name = old.name[len(".old-"):].rsplit("-", 1)[0]
            target = arch_dir / name
            if target.exists():
                shutil.rmtree(old, ignore_errors=True)
            else:
                os.replace(old, target)


def list_models(arch: str) -> list[str]:
    """Model names of `arch`: the shipped defaults first, in the registry's order ("default" first), then the
    others newest first."""
    arch_dir = root() / archs.get(arch).id
    if not arch_dir.is_dir():
        return []
    _repair(arch_dir)
    entries = [p for p in arch_dir.iterdir() if not p.name.startswith(".") and (p / "config.json").is_file()]
    order = {name: i for i, name in enumerate(shipped(arch))}        # the shipped ones in the registry's order
    entries.sort(key=lambda p: (p.name not in order, order.get(p.name, 0), -p.stat().st_mtime))
    return [p.name for p in entries]


def shipped(arch: str) -> tuple[str, ...]:
    """The names of `arch`'s shipped models: "default", or one per seq2seq mode and task (the registry's)."""
    return archs.get(arch).shipped


def is_default(name: str, arch: str | None = None) -> bool:
    """A shipped model of `arch` (any "default…" name when no arch is given: none can be a user's)."""
    if arch is not None:
        return name in shipped(arch)
    return name == DEFAULT or name.startswith(DEFAULT)


def exists(arch: str, name: str) -> bool:
    return (_dir(arch, name) / "config.json").is_file()


def read_json(arch: str, name: str, what: str = "metrics") -> dict | None:
    """config.json or metrics.json of an entry, without TensorFlow (for cards and pickers)."""
    path = _dir(arch, name) / f"{what}.json"
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        return None
    except (OSError, ValueError) as e:
        raise SeqvizError(f"The store entry {arch}/{name} is damaged ({what}.json: {e}); retrain it.") from None


def save(bundle: Bundle) -> Path:
    arch_dir = root() / archs.get(bundle.arch).id
    target = _dir(bundle.arch, bundle.name)
    arch_dir.mkdir(parents=True, exist_ok=True)
    tmp = arch_dir / f".tmp-{bundle.name}-{uuid.uuid4().hex[:8]}"
    tmp.mkdir()
    try:
        import tensorflow as tf
        config = {"arch": bundle.arch, "name": bundle.name, "params": bundle.params, "data": bundle.data,
                  "seed": bundle.params.get("seed"), "created": time.strftime("%Y-%m-%dT%H:%M:%S"),
                  "versions": {"tensorflow": tf.__version__, "python": platform.python_version(),
                               "seqviz": __import__("seqviz").__version__}}
        # The weights go through a fresh build of the arch's own builder: what load() will rebuild, so a
        # mismatch fails here rather than at load time, and the file carries no optimizer slots (a trained
        # model's would triple its size).
        clean = archs.get(bundle.arch).module().build(bundle.params, bundle.vocabs)
        clean.set_weights(bundle.model.get_weights())
        clean.save_weights(str(tmp / WEIGHTS))
        for key, vocab in bundle.vocabs.items():
            vocab.save(tmp / f"vocab_{key}.json")
        _write_json(tmp / "metrics.json", bundle.metrics)
        if bundle.replay is not None:
            _write_json(tmp / "replay.json", bundle.replay, indent=None)
        if bundle.heldout:
            import numpy as np
            arrays = {k: np.asarray(v) for k, v in bundle.heldout.items()}
            plain = not any(a.dtype.hasobject for a in arrays.values())     # np.load reads them without pickle
            if sum(a.nbytes for a in arrays.values()) > HELDOUT_BYTES or not plain:
                raise ValueError(f"{bundle.arch}'s held-out rows are over {HELDOUT_BYTES:,} bytes or not plain arrays")
            np.savez(tmp / "heldout.npz", **arrays)
        _write_json(tmp / "config.json", config)  # last: an entry without config.json is not an entry
        for f in tmp.iterdir():
            with open(f, "rb") as fh:
                os.fsync(fh.fileno())
        with _locked(arch_dir):
            if target.exists():
                aside = arch_dir / f".old-{bundle.name}-{uuid.uuid4().hex[:8]}"
                os.replace(target, aside)
                os.replace(tmp, target)
                shutil.rmtree(aside, ignore_errors=True)
            else:
                os.replace(tmp, target)
            (arch_dir / ".deleted" / bundle.name).unlink(missing_ok=True)     # trained again: not gone any more
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    return target


# ---------------------------------------------------------------------------------------------
# A store that cannot fill the disk: its size budget, expiry and deletion (the shipped models are never touched)
# ---------------------------------------------------------------------------------------------
def user_models() -> list[dict]:
    """Every model trained here (not a shipped one): [{"arch", "name", "bytes", "modified" (epoch s)}], oldest
    first."""
    out = []
    for arch in archs.ARCHS.values():
        for name in list_models(arch.id):
            if is_default(name, arch.id):
                continue
            files = [f for f in _dir(arch.id, name).rglob("*") if f.is_file()]
            out.append({"arch": arch.id, "name": name, "bytes": sum(f.stat().st_size for f in files),
                        "modified": (_dir(arch.id, name) / "config.json").stat().st_mtime})
    return sorted(out, key=lambda m: m["modified"])


def check_room() -> None:
    """Refuse a new training run while the models trained here fill the store's budget (SEQVIZ_STORE_GB,
    default 2 GB; the shipped models do not count)."""
    budget_gb = settings.number("SEQVIZ_STORE_GB", 2.0, 0, whole=False)
    used = sum(m["bytes"] for m in user_models())
    if used >= budget_gb * 1e9:
        raise SeqvizError(f"The trained models fill this server's store ({used / 1e9:.2f} GB of its {budget_gb:g} "
                          "GB, SEQVIZ_STORE_GB): delete one (its Model details on the page, or python -m seqviz "
                          "delete ARCH NAME) before training another.")


def expire(now: float | None = None) -> list[dict]:
    """Remove the models trained here more than SEQVIZ_MODEL_DAYS days ago (off unless it is set; never a shipped
    model); -> what was removed."""
    days = settings.number("SEQVIZ_MODEL_DAYS", None, 0, whole=False)
    if days is None:
        return []
    cutoff = (time.time() if now is None else now) - days * 86400
    gone = [m for m in user_models() if m["modified"] < cutoff]
    for m in gone:
        delete(m["arch"], m["name"], why=f"it was older than {days:g} days (SEQVIZ_MODEL_DAYS)")
    return gone


def delete(arch: str, name: str, why: str = "it was deleted") -> dict:
    """Remove a model trained here, atomically: the entry is moved aside in one rename (a page or a load sees it
    whole or not at all), then removed; a note of why stays for a page that was showing it (`deleted`).
    The shipped models cannot be deleted. -> {"arch", "name", "bytes"}."""
    target = _dir(arch, name)
    if is_default(name, arch):
        raise SeqvizError(f"{name!r} is a shipped {arch} model; only models trained here can be deleted.")
    arch_dir = target.parent
    with _locked(arch_dir):
        if not (target / "config.json").is_file():
            raise SeqvizError(f"No {arch} model named {name!r} to delete; available: "
                              f"{', '.join(list_models(arch)) or 'none'}.")
        size = sum(f.stat().st_size for f in target.rglob("*") if f.is_file())
        aside = arch_dir / f".del-{name}-{uuid.uuid4().hex[:8]}"
        os.replace(target, aside)
        notes = arch_dir / ".deleted"
        notes.mkdir(exist_ok=True)
        (notes / name).write_text(why, encoding="utf-8")
    shutil.rmtree(aside, ignore_errors=True)
    return {"arch": arch, "name": name, "bytes": size}


def deleted(arch: str, name: str) -> str | None:
    """Why the model `name` is gone ("it was deleted", "it was older than 30 days ..."), or None: never deleted
    (or trained again since)."""
    try:
        return (root() / archs.get(arch).id / ".deleted" / check_name(name)).read_text(encoding="utf-8")
    except (OSError, SeqvizError):
        return None


def _write_json(path: Path, obj: dict, indent: int | None = 1) -> None:
    path.write_text(json.dumps(obj, indent=indent, ensure_ascii=False), encoding="utf-8")


def load(arch: str, name: str = DEFAULT) -> Bundle:
    path = _dir(arch, name)
    if path.parent.is_dir():
        _repair(path.parent)
    if not (path / "config.json").is_file():
        have = list_models(arch)
        raise SeqvizError(f"No {arch} model named {name!r}; available: {', '.join(have) or 'none (train one)'}.")
    try:
        config = json.loads((path / "config.json").read_text(encoding="utf-8"))
        params = _check_params(arch, name, config["params"])     # an older entry's missing knobs: their defaults
        vocabs = {p.stem[len("vocab_"):]: Vocab.load(p) for p in sorted(path.glob("vocab_*.json"))}
        model = archs.get(arch).module().build(params, vocabs)
        model.load_weights(str(path / WEIGHTS))
        metrics = json.loads((path / "metrics.json").read_text(encoding="utf-8"))
        heldout = _heldout(path / "heldout.npz")
    except (OSError, ValueError, KeyError, TypeError) as e:
        raise SeqvizError(f"The store entry {arch}/{name} is damaged ({type(e).__name__}: {e}); "
                          "retrain it or pick another model.") from None
    return Bundle(arch, name, params, model, vocabs, metrics, config.get("data", {}), heldout=heldout)


def _heldout(path: Path) -> dict | None:
    """heldout.npz's arrays (numbers and strings; nothing unpickled), or None where the entry has none."""
    if not path.is_file():
        return None
    if path.stat().st_size > 2 * HELDOUT_BYTES:
        raise ValueError(f"heldout.npz is {path.stat().st_size:,} bytes, over the store's bound")
    import numpy as np
    with np.load(path, allow_pickle=False) as z:
        return {k: z[k] for k in z.files}


def _check_params(arch: str, name: str, params: dict) -> dict:
    """A config.json is data, not trusted: its settings must be within the knobs' ranges before anything is
    built from them (an edited `units: 1000000000` would otherwise allocate until the machine gives out).
    Returns them resolved: a knob added since the entry was saved takes its default."""
    from seqviz.params import resolve
    if not isinstance(params, dict):
        raise TypeError("its settings are not a JSON object")
    mod = archs.get(arch).module()
    try:
        full = resolve(mod.PARAMS, params)      # an older entry may lack a newer knob: its default
    except SeqvizError as e:
        raise SeqvizError(f"The store entry {arch}/{name} has settings outside the knobs' ranges ({e}); "
                          "retrain it or pick another model.") from None
    budget.check(lambda ps: mod.memory(ps), full, training=False,       # its weights alone, within the budget
                 what=f"The store entry {arch}/{name}'s weights")
    return full


def trained_on(bundle: Bundle) -> dict:
    """What a model was trained on, for its details: {"data": in words, "counts": {"training dialogues": n,
    "held-out dialogues": n, ...} (its metrics' n_train / n_val / n_test...), "unused": the knobs of generated data
    that a model of the user's file ignores}."""
    data = bundle.data or {"source": "generated"}
    words = {"train": "training", "val": "held-out", "test": "test"}
    counts = {}
    for k, v in bundle.metrics.items():
        part = k.split("_")
        if len(part) >= 2 and part[0] == "n" and part[1] in words and isinstance(v, int):
            counts[" ".join([words[part[1]], *(part[2:] or ["examples"])])] = v
    unused = []
    if data.get("source") == "upload":
        size = data.get("bytes")
        what = f"your file {data.get('filename', 'upload')}" + (f" ({size / 1e3:,.1f} kB)" if size else "")
        extra = [f"{v['filename']} ({k})" for k, v in data.items() if isinstance(v, dict) and "filename" in v]
        what += (" with " + ", ".join(extra)) if extra else ""
        unused = [p.name for p in archs.get(bundle.arch).module().PARAMS if p.generated]
    else:
        what = "the built-in data (the knobs below, seed " + str(bundle.params.get("seed")) + ")"
    return {"data": what, "counts": counts, "unused": unused}


def layers(model, prefix: str = "") -> list[dict]:
    """The model's architecture as rows (layer, type, output shape, parameters), nested models expanded
    (e.g. the utterance encoder inside TimeDistributed)."""
    rows = []
    for layer in model.layers:
        if type(layer).__name__ == "InputLayer":
            continue
        try:
            shape = str(layer.output_shape)
        except (AttributeError, RuntimeError):  # layers called more than once have no single shape
            shape = "multiple"
        rows.append({"layer": prefix + layer.name, "type": type(layer).__name__,
                     "output shape": shape.replace("None", "?"), "parameters": layer.count_params()})
        nested = getattr(layer, "layer", layer)  # wrappers (TimeDistributed) hold the layer they apply
        if hasattr(nested, "layers"):
            rows += layers(nested, prefix + "  · ")
    return rows


def stamp(arch: str, name: str) -> float:
    """Changes whenever the entry is rewritten: a cache key for loaded models."""
    try:
        return (_dir(arch, name) / "config.json").stat().st_mtime_ns
    except FileNotFoundError:
        return 0.0
