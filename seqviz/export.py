"""Export a stored model as a TensorFlow SavedModel that runs where seqviz is not installed.

    python -m seqviz export ARCH --model NAME --out DIR

The SavedModel's `serving_default` signature takes RAW inputs (a string of text, the utterances of a
dialogue, a matrix of image features) and does everything `predict` does before and after the network
inside the graph: tokenising with the same rules as `seqviz.vocab.tokenize` (as regular expressions),
looking words up in the model's own vocabularies (hash tables saved with the model), decoding (the same
`seqviz.decoding` search graph the pages use) and mapping ids back to words. So

    import tensorflow as tf
    serve = tf.saved_model.load(DIR).signatures["serving_default"]

is all a program needs: no Python code of ours, no custom layer classes, no tokenizer to copy. It is also
TensorFlow Serving's format.

One mechanism for the five architectures: each module contributes `serving(bundle) -> Serving` (its
tf.function and the description of its inputs and outputs); this module saves it with the model's
variables and tables, writes a README.md with the loading snippet and a copy of config.json.
"""
from __future__ import annotations

import ast
import io
import json
import os
import shutil
import tempfile
import time
import uuid
import zipfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import tensorflow as tf

from seqviz import archs, store
from seqviz.errors import SeqvizError
from seqviz.uploads import check_writable
from seqviz.vocab import Vocab

_WORD = r"\pL\pN_"          # Python's \w on str (letters, numbers, underscore); RE2's own \w is ASCII only


@dataclass
class Serving:
    """An architecture's serving function and what its signature takes and gives."""
    fn: Any                                     # a tf.function with an input_signature
    inputs: dict[str, str]                      # input name -> what it is
    outputs: dict[str, str]                     # output name -> what it is
    example: dict[str, str]                     # input name -> Python code of an example (the README's snippet)
    tables: list = field(default_factory=list)  # the lookup tables the function uses (saved with it)
    batch: dict[str, str] | None = None         # the inputs of an example batch, where the signature takes one


def one_or_many(serving: Serving, example_batch: dict[str, list], trim=None, many: str = "a batch of N") -> Serving:
    """A signature for one input (a scalar string; a dialogue's (U,) utterances) that also takes a batch:
    `serving_default` then reads one input as before, or N of them (one more axis first), each run through the
    one-input graph (tf.map_fn) and its outputs padded to the longest row, with `<name>_length` (N,) for each
    output whose length varies (the first axis). `trim(*row) -> row` drops a row's padding (dialogues of
    different lengths pad with ""); `example_batch`: the README's batch, per input."""
    one = serving.fn
    conc = one.get_concrete_function()
    specs = [s for s in conc.structured_input_signature[0] if s is not None]     # an optional input left out
    rank = specs[0].shape.rank                                   # one input's rank: 0 a string, 1 utterances
    outs = {k: (t.dtype, t.shape) for k, t in conc.structured_outputs.items()}
    varies = [k for k, (_, shape) in outs.items() if shape.rank and not shape.is_fully_defined()]
    row_spec = {k: (tf.RaggedTensorSpec([None] * shape.rank, dtype, ragged_rank=shape.rank - 1) if k in varies
                    else tf.TensorSpec(shape, dtype)) for k, (dtype, shape) in outs.items()}

    def row(xs):                         # one input's outputs, the varying ones as ragged (map_fn stacks them)
        got = one(*(trim(*xs) if trim is not None else xs))
        return {k: (tf.RaggedTensor.from_tensor(v) if k in varies and v.shape.rank > 1 else v) for k, v in got.items()}

    @tf.function(input_signature=[tf.TensorSpec(None, s.dtype, name=s.name) for s in specs])
    def serve(*xs):
        def single():
            got = one(*[tf.reshape(x, [-1] * rank) for x in xs])        # rank 0: [], rank 1: [-1]
            return {**got, **{f"{k}_length": tf.shape(got[k], out_type=tf.int32)[0] for k in varies}}

        def batch():
            rows = tuple(tf.reshape(x, [-1] + [tf.shape(x)[-1]] * rank) for x in xs)
            got = tf.map_fn(row, rows, fn_output_signature=row_spec)
            return {**{k: (v.to_tensor() if k in varies else v) for k, v in got.items()},
                    **{f"{k}_length": tf.cast(got[k].row_lengths(), tf.int32) for k in varies}}
        return tf.cond(tf.equal(tf.rank(xs[0]), rank), single, batch)

    lengths = {f"{k}_length": f"how long `{k}` is; a batch: (N,), each row's" for k in varies}
    return Serving(serve, {k: f"{v}; or {many}" for k, v in serving.inputs.items()},
                   {**{k: f"{v}; a batch: one more axis first (N), padded" for k, v in serving.outputs.items()},
                    **lengths},
                   serving.example, serving.tables, batch={k: repr(v) for k, v in example_batch.items()})


def table(vocab: Vocab) -> tf.lookup.StaticHashTable:
    """Token -> id as a hash table; a token not in the vocabulary gets <unk>'s id."""
    init = tf.lookup.KeyValueTensorInitializer(tf.constant(vocab.tokens), tf.range(len(vocab), dtype=tf.int32))
    unk = vocab.unk_id
    return tf.lookup.StaticHashTable(init, default_value=unk if unk is not None else -1)


def words(vocab: Vocab, ids):
    """Ids -> tokens, in the graph."""
    return tf.gather(tf.constant(vocab.tokens), ids)


def tokenize(text):
    """`seqviz.vocab.tokenize` in the graph: lower-cased runs of letters, digits and underscores, with
    single inner apostrophes ("don't"); everything else separates words. A string tensor of any shape ->
    a RaggedTensor of tokens with one more (ragged) axis."""
    t = tf.strings.lower(text, encoding="utf-8")
    t = tf.strings.regex_replace(t, rf"[^{_WORD}']", " ")
    t = tf.strings.regex_replace(t, "''+", " ")                       # only a single apostrophe joins words
    t = tf.strings.regex_replace(t, r"(^| )'", r"\1 ")               # ... and only between two word characters
    t = tf.strings.regex_replace(t, r"'( |$)", r" \1")
    return tf.strings.split(t)


def pad_ragged(ids, min_width: int = 1):
    """A ragged (N, None) int32 -> dense (N, W) padded with 0, W at least `min_width`."""
    dense = ids.to_tensor(default_value=0)
    return tf.pad(dense, [[0, 0], [0, tf.maximum(0, min_width - tf.shape(dense)[1])]])


def export(arch: str, name: str, out: str | os.PathLike, overwrite: bool = False) -> dict:
    """Write the SavedModel of store entry arch/name into `out` (atomically: a temp folder beside it, then
    a rename). Returns a summary: the path, the signature's inputs and outputs, the seconds it took, bytes."""
    t0 = time.perf_counter()
    out = Path(out)
    if out.exists() and not out.is_dir():
        raise SeqvizError(f"{out} is a file; give a folder to write the SavedModel into.")
    if out.is_dir() and any(out.iterdir()) and not overwrite:
        raise SeqvizError(f"{out} exists and is not empty; choose a new folder or pass --overwrite.")
    check_writable(out)                                  # /proc/x, a read-only mount: one sentence, not a traceback
    bundle = store.load(arch, name)
    tmp = out.parent / f".tmp-export-{out.name}-{uuid.uuid4().hex[:8]}"
    try:
        serving = write(bundle, tmp)
        if out.exists():
            shutil.rmtree(out)
        os.replace(tmp, out)
    except OSError as e:
        raise SeqvizError(f"Cannot write {out}: {e.strerror or e}.") from None
    except tf.errors.OpError as e:                       # TensorFlow's own file errors while saving
        raise SeqvizError(f"Cannot write {out}: {e.message}.") from None
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    size = sum(f.stat().st_size for f in out.rglob("*") if f.is_file())
    return {"arch": arch, "model": name, "path": str(out), "inputs": serving.inputs, "outputs": serving.outputs,
            "seconds": round(time.perf_counter() - t0, 2), "bytes": size}


def write(bundle: store.Bundle, folder: Path) -> Serving:
    """The SavedModel, its README.md and a copy of config.json, into `folder` (created)."""
    serving = archs.get(bundle.arch).module().serving(bundle)
    module = tf.Module()
    module.tables = list(serving.tables)             # tracked: saved with their keys and values
    module.variables_ = list(bundle.model.variables)  # tracked: the weights the function reads
    module.serve = serving.fn
    tf.saved_model.save(module, str(folder), signatures={"serving_default": serving.fn.get_concrete_function()})
    config = store.root() / bundle.arch / bundle.name / "config.json"
    shutil.copyfile(config, folder / "config.json")
    (folder / "README.md").write_text(readme(bundle, serving), encoding="utf-8")
    return serving


def zip_bytes(arch: str, name: str) -> bytes:
    """The export of arch/name as a .zip (the page's download): the folder's files under `<name>/`."""
    bundle = store.load(arch, name)
    work = Path(tempfile.mkdtemp(prefix="seqviz-export-")) / name
    try:
        write(bundle, work)
        buf = io.BytesIO()
        with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as z:
            for f in sorted(work.rglob("*")):
                if f.is_file():
                    z.write(f, f"{name}/{f.relative_to(work)}")
        return buf.getvalue()
    finally:
        shutil.rmtree(work.parent, ignore_errors=True)


def readme(bundle: store.Bundle, serving: Serving) -> str:
    a = archs.get(bundle.arch)
    args = ", ".join(f"{k}=tf.constant({v})" for k, v in serving.example.items())
    try:                                   # the same inputs as JSON, for TensorFlow Serving's REST API
        body = json.dumps({"inputs": {k: ast.literal_eval(v) for k, v in serving.example.items()}})
    except (ValueError, SyntaxError):
        body = '{"inputs": {' + ", ".join(f'"{k}": [...]' for k in serving.example) + "}}"
    rows = lambda d: "\n".join(f"| `{k}` | {v} |" for k, v in d.items())  # noqa: E731
    many = ""
    if serving.batch:                      # a batch in one call, and TensorFlow Serving's row format
        batch_args = ", ".join(f"{k}=tf.constant({v})" for k, v in serving.batch.items())
        values = {k: ast.literal_eval(v) for k, v in serving.batch.items()}
        instances = json.dumps({"instances": [dict(zip(values, row)) for row in zip(*values.values())]})
        many = f"""
A batch in one call (padded outputs, each row's `length` beside them):

```python
out = serve({batch_args})
```

and over HTTP, TensorFlow Serving's row format with several rows: `{instances}`.
"""
    return f"""# {a.title}: `{bundle.arch}/{bundle.name}`, exported by seqviz

A TensorFlow SavedModel. Its `serving_default` signature takes raw inputs and tokenises them inside the
graph with the model's own vocabularies; nothing but TensorFlow ({tf.__version__}) is needed to run it.

```python
import numpy as np
import tensorflow as tf
serve = tf.saved_model.load("path/to/this/folder").signatures["serving_default"]
out = serve({args})
print({{k: v.numpy() for k, v in out.items()}})
```
{many}
Inputs:

| name | what |
|---|---|
{rows(serving.inputs)}

Outputs:

| name | what |
|---|---|
{rows(serving.outputs)}

The settings it was trained with are in `config.json`. To serve it over HTTP with TensorFlow Serving:
`docker run -p 8501:8501 -v "$PWD:/models/{bundle.name}/1" -e MODEL_NAME={bundle.name} tensorflow/serving`
(the folder becomes version 1 of the model), then POST `{body}` to
`http://localhost:8501/v1/models/{bundle.name}:predict`.
"""
