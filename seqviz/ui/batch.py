"""The pages' "Score a file of inputs" section (seqviz.batch, what `predict --data` runs): upload a file of
inputs in the formats the model trains on, watch a progress bar while it runs in batches, see the first rows, and
download every result as JSON lines (each what `predict --text` prints) and as a CSV of the main columns. Folded
away; a file is scored once per model (kept in the session)."""
from __future__ import annotations

import csv
import hashlib
import io
import json

import streamlit as st

from seqviz import batch
from seqviz.cli import to_json
from seqviz.errors import SeqvizError
from seqviz.ui.widgets import error, md, table

PREVIEW = 20               # rows shown on the page; the downloads hold them all
TYPES = {"captioning": ["npy"], "lm": ["txt"], "dialogue-acts": ["csv", "txt"]}
HOW = {"attention": "a CSV with a `text` column, or a .txt of one sentence a line",
       "dialogue-acts": "a CSV with columns conversation_id, utterance (and speaker), or a .txt of dialogues "
                        "separated by blank lines",
       "seq2seq": "a CSV with a `source` column, or a .txt of one source a line",
       "captioning": "a .npy of image features, shape (N, D)",
       "lm": "a .txt of one prompt a line"}


def batch_section(bundle, key: str, options: dict | None = None) -> None:
    """The folded section for `bundle`; `options`: the page's inference options (`predict`'s keywords)."""
    box = st.expander("Score a file of inputs: every row through the model, downloaded as JSON lines or CSV",
                      key=f"{key}:batch-open", on_change="rerun")
    if not box.open:
        return
    with box:
        st.caption(md(f"Upload {HOW.get(bundle.arch, 'a file of inputs')} (CLI: python -m seqviz predict "
                      f"{bundle.arch} --data FILE). Each row gets exactly what the page computes for one input; a row "
                      "the model cannot read gets a line saying why."))
        up = st.file_uploader("A file of inputs", type=TYPES.get(bundle.arch, ["csv", "txt"]), key=f"{key}:batch-file")
        if up is None:
            return
        raw, options = up.getvalue(), dict(options or {})
        digest = hashlib.sha1(raw + repr(sorted(options.items())).encode()).hexdigest()
        kept = st.session_state.setdefault(f"{key}:batch-results", {})
        ident = (bundle.arch, bundle.name, up.name, digest)
        if ident not in kept:
            try:
                kept.clear()                       # one file's results at a time: the session's memory
                kept[ident] = _score(bundle, raw, up.name, options)
            except SeqvizError as e:
                error(e)
                return
        _show(kept[ident], up.name)


def _score(bundle, raw: bytes, filename: str, options: dict) -> list[dict]:
    rows = batch.read_inputs(bundle.arch, raw, filename)
    bar = st.progress(0.0, text=f"Scoring {len(rows):,} inputs…")
    lines: list[dict] = []

    def progress(done, total, seconds):
        bar.progress(done / total, text=batch.progress_line(done, total, seconds))
    summary = batch.run(bundle, rows, lines.append, options, on_error="skip", progress=progress)
    bar.empty()
    return [{"where": where, **r} for (where, _), r in zip(rows, lines)] + [{"summary": summary}]


def _show(results: list[dict], filename: str) -> None:
    summary, rows = results[-1]["summary"], results[:-1]
    refused = [r for r in rows if "error" in r]
    st.markdown(f"**{summary['rows']:,} inputs of {md(filename)}** scored in {summary['seconds']:.1f} s"
                + (f"; {len(refused):,} refused (the first: {md(refused[0]['where'])}: {md(refused[0]['error'])})"
                   if refused else ""))
    flat = [flatten(r) for r in rows]
    table(flat[:PREVIEW])
    if len(flat) > PREVIEW:
        st.caption(f"The first {PREVIEW} of {len(flat):,}; the downloads hold them all.")
    stem = filename.rsplit(".", 1)[0]
    c1, c2 = st.columns(2)
    c1.download_button("Download JSON lines", "".join(to_json({k: v for k, v in r.items() if k != "where"}) + "\n"
                                                      for r in rows), file_name=f"{stem}.jsonl",
                       mime="application/jsonl")
    c2.download_button("Download CSV (the main columns)", to_csv(flat), file_name=f"{stem}.csv", mime="text/csv")


def flatten(result: dict) -> dict:
    """A result's main columns: its plain values, a dict of plain values as key.sub columns, a list of words
    joined with spaces; lists of numbers (weights, per-step arrays) left to the JSON lines."""
    out = {}
    for k, v in result.items():
        if isinstance(v, (str, int, float, bool)) or v is None:
            out[k] = v
        elif isinstance(v, dict) and all(isinstance(x, (str, int, float, bool)) for x in v.values()):
            out.update({f"{k}.{sub}": x for sub, x in v.items()})
        elif isinstance(v, list) and v and all(isinstance(x, str) for x in v):
            out[k] = " ".join(v)
    return out


def to_csv(rows: list[dict]) -> str:
    """The rows as CSV text, every column any row has (a refused row: its where and error). A text cell that a
    spreadsheet would run as a formula (=, +, -, @ first) is written with a leading apostrophe."""
    cols = list(dict.fromkeys(k for r in rows for k in r))
    f = io.StringIO()
    w = csv.DictWriter(f, cols)
    w.writeheader()
    w.writerows({k: _cell(v) for k, v in r.items()} for r in rows)
    return f.getvalue()


def _cell(v):
    if isinstance(v, (list, dict)):
        return json.dumps(v)
    return "'" + v if isinstance(v, str) and v[:1] in ("=", "+", "-", "@", "\t", "\r") else v
