"""Batch inference: a file of inputs through a stored model's `predict`, in batches, one JSON line per input.

The attention classifier's author scored 10,000 examples with their attention weights from a Flask app (33
minutes the two-pass way, 20 in one pass); here `python -m seqviz predict ARCH --data FILE` reads the inputs in
the formats the architectures train on (the architecture's `batch_inputs`: a `text` column or one input per line;
dialogue acts' CSV grouped by conversation; seq2seq's `source` column; captioning's (N, D) .npy; the LM's prompts,
one per line), runs them `batch_size` at a time through the architecture's `predict_batch` (by default its
`predict` on each; the attention classifier runs a whole batch in one traced call) and writes, per input, exactly
the line `predict --text` prints for it. Results are written batch by batch, never held for the whole file. A
row the model cannot read stops the run with its number (`on_error="stop"`), or is written as
{"row", "error"} in its place (`"skip"`), so line i is always input i.
"""
from __future__ import annotations

import time
from typing import Any, Callable

from seqviz import archs, budget, contract
from seqviz.errors import SeqvizError

BATCH = 256
ON_ERROR = ("stop", "skip")


def read_inputs(arch: str, raw: bytes, filename: str) -> list[tuple[str, Any]]:
    """The file's inputs as the architecture reads them: [(where it is in the file, the input)]."""
    mod = archs.get(arch).module()
    cost = contract.hook(mod, "READ_COST").get("upload", budget.READ_COST)
    budget.check_read([(filename, len(raw), 3 if filename.lower().endswith(".npy") else cost)])
    rows = contract.hook(mod, "batch_inputs")(raw, filename)
    if not rows:
        raise SeqvizError(f"{filename} has no inputs (see `predict --help` for the formats).")
    return rows


def run(bundle, rows: list[tuple[str, Any]], write: Callable[[dict], None], options: dict | None = None,
        batch_size: int = BATCH, on_error: str = "stop",
        progress: Callable[[int, int, float], None] | None = None) -> dict:
    """`rows` (from `read_inputs`) through the model `batch_size` at a time, each result (conformed as `predict`
    prints it) passed to `write` in the inputs' order; `progress(done, total, seconds)` after each batch.
    -> {"rows", "errors", "seconds"}."""
    check_options(batch_size, on_error)
    mod = archs.get(bundle.arch).module()
    predict_batch = contract.hook(mod, "predict_batch")
    errors, t0 = 0, time.perf_counter()
    for start in range(0, len(rows), batch_size):
        chunk = rows[start:start + batch_size]
        checked = False        # each batch's first result checked against RESULT (a module bug), the rest ordered
        for (where, _), got in zip(chunk, predict_batch(bundle, [x for _, x in chunk], **(options or {}))):
            if isinstance(got, SeqvizError):
                if on_error == "stop":
                    raise SeqvizError(f"{where}: {got} (--on-error skip writes an error line for it and goes on)")
                errors += 1
                write({"row": where, "error": str(got)})
            else:
                write(contract.ordered(mod, got) if checked else contract.conform(mod, got))
                checked = True
        if progress is not None:
            progress(start + len(chunk), len(rows), time.perf_counter() - t0)
    return {"rows": len(rows), "errors": errors, "seconds": round(time.perf_counter() - t0, 3)}


def check_options(batch_size: int, on_error: str) -> None:
    if on_error not in ON_ERROR:
        raise SeqvizError(f"--on-error must be one of {', '.join(ON_ERROR)}, not {on_error!r}.")
    if not isinstance(batch_size, int) or not 1 <= batch_size <= 4096:
        raise SeqvizError(f"The batch size must be a whole number from 1 to 4096, not {batch_size!r}.")


def each(predict_one: Callable) -> Callable:
    """`predict_batch` from a one-input `predict_one(bundle, x, **options)`: a SeqvizError in a row's place."""
    def predict_batch(bundle, inputs: list, **options) -> list:
        out = []
        for x in inputs:
            try:
                out.append(predict_one(bundle, x, **options))
            except SeqvizError as e:
                out.append(e)
        return out
    return predict_batch


def text_rows(raw: bytes, filename: str, column: str = "text") -> list[tuple[str, str]]:
    """A CSV's `column` (empty cells kept: the model says what is wrong with them), or a text file's non-empty
    lines, one input each, with where it is: "data row N" / "line N"."""
    from seqviz.uploads import decode_text, read_csv
    if filename.lower().endswith(".csv"):
        df = read_csv(raw, filename, [column])
        return [(f"data row {i + 1}", t) for i, t in enumerate(df[column].tolist())]
    lines = decode_text(raw, filename).splitlines()
    return [(f"line {n}", line) for n, line in enumerate(lines, 1) if line.strip()]


def progress_line(done: int, total: int, seconds: float) -> str:
    """"1,024/10,000 rows · 812 rows/s · 11 s left" for stderr."""
    rate = done / seconds if seconds > 0 else float("inf")
    left = (total - done) / rate if rate and rate != float("inf") else 0.0
    return f"{done:,}/{total:,} rows · {rate:,.0f} rows/s · {left:,.0f} s left"
