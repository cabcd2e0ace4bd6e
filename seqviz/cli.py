"""`python -m seqviz list|train|predict|explain|replay|export|bench`: the same code as the pages, JSON on stdout.

Bad input exits 2 with one line on stderr; no traceback.
"""
from __future__ import annotations

import argparse
import sys
from pathlib import Path

import orjson

from seqviz import archs, contract, store
from seqviz.errors import SeqvizError
from seqviz.params import parse_sets, resolve
from seqviz.uploads import read_path


class _Parser(argparse.ArgumentParser):
    def error(self, message):  # one line and exit 2, like every other bad input
        raise SeqvizError(f"{message} (see python -m {self.prog} --help)")


def to_json(obj) -> str:
    """What the CLI prints: one line of JSON, NaN and infinities as null (orjson: ~8x the standard library's
    speed, which predict --data's 10,000 lines a second need)."""
    return orjson.dumps(obj, default=_plain, option=orjson.OPT_SERIALIZE_NUMPY).decode()


def _plain(obj):
    """What orjson does not write itself: numpy scalars, tuples' subclasses... as plain Python."""
    if hasattr(obj, "tolist"):
        return obj.tolist()
    if isinstance(obj, float):
        return float(obj)
    raise TypeError(f"{type(obj).__name__} is not JSON")


def _emit(obj) -> None:
    print(to_json(obj), flush=True)


def cmd_list(args) -> None:
    """Every model of every architecture; a damaged entry is listed with what is wrong, never hides the rest."""
    out = []
    for a in archs.ARCHS.values():
        models = []
        for name in store.list_models(a.id):
            try:
                metrics = store.read_json(a.id, name)
                if metrics is None:
                    metrics = {}
                if not isinstance(metrics, dict):
                    raise SeqvizError(f"The store entry {a.id}/{name} is damaged (metrics.json is not a JSON "
                                      "object); retrain it.")
                models.append({"name": name, "metrics": {k: v for k, v in metrics.items()
                                                           if k not in ("history", "race_trace")}})
            except SeqvizError as e:
                models.append({"name": name, "error": str(e)})
        out.append({"arch": a.id, "title": a.title, "models": models})
    _emit({"archs": out})


SECOND_FILES = ("features", "vectors")   # the files an arch reads with --data (its module's FILES)


def cmd_train(args) -> None:
    from seqviz import training
    raw = read_path(args.data) if args.data else None
    files = {k: (Path(path).name, read_path(path)) for k in SECOND_FILES if (path := getattr(args, k))}
    probe = _probe(args)
    p = training.plan(args.arch, parse_sets(args.set), raw, Path(args.data).name if args.data else "upload",
                      args.name, overwrite=args.overwrite, files=files, probe=probe, strict_probe=probe is not None)
    for line in p.advice:                      # what to reconsider; the CLI trains as asked
        print(f"note: {line}", file=sys.stderr, flush=True)

    def show(e):
        if e["type"] == "epoch":
            logs = " ".join(f"{k}={v:.4f}" for k, v in e["logs"].items())
            print(f"epoch {e['epoch']}: {logs}", flush=True)

    if args.queue:                             # on the pool's workers (seqviz.pool): the same JSON at the end
        from seqviz import pool
        pool.connect(args.queue)
        job = training.submit(p, queue=args.queue)
        try:
            pool.follow(job, show)
        except KeyboardInterrupt:
            job.cancel()
            job.wait(30)
        if job.status != "done":
            raise SeqvizError(f"Training on the pool {job.status}" + (f": {job.error}" if job.error else ".")
                              if job.status == "failed" else "Training on the pool was cancelled; nothing was saved.")
        print(f"trained on the pool's worker {job.worker_name}", file=sys.stderr, flush=True)
        from seqviz import replay
        bundle = store.load(p.arch, p.name)
        bundle.replay = replay.read(p.arch, p.name)
    else:
        bundle = training.train(p, on_event=show)
    _emit({"arch": p.arch, "name": bundle.name, "path": str(store.root() / p.arch / bundle.name),
           "params": p.params, "data": p.data_info,
           "metrics": {k: v for k, v in bundle.metrics.items() if k != "history"},
           "replay": None if bundle.replay is None else {"snapshots": len(bundle.replay["snapshots"]),
                                                        **({"note": bundle.replay["note"]} if "note" in bundle.replay
                                                           else {})}})


def _probe(args) -> dict | None:
    """--probe TEXT or --probe-file FILE (a text file; for captioning a .npy of one feature vector) as the
    replay's probe, or None (the architecture's own example)."""
    if args.probe is not None and args.probe_file is not None:
        raise SeqvizError("Give --probe or --probe-file, not both.")
    if args.probe_file is None:
        return None if args.probe is None else {"text": args.probe}
    raw = read_path(args.probe_file)
    name = Path(args.probe_file).name
    if args.arch == "captioning" and name.lower().endswith(".npy"):
        from seqviz.captioning import read_features
        x = read_features(raw, name, None, max_rows=1)
        if x.ndim != 1:
            raise SeqvizError(f"{name}: the probe is one image: a .npy of shape (D,), not {x.shape}.")
        return {"features": x.astype(float).tolist()}
    from seqviz.uploads import decode_text
    return {"text": decode_text(raw, name)}


def cmd_replay(args) -> None:
    """A stored model's replay: {"probe", "snapshots": [{"epoch": 0, ...}, ...]}."""
    from seqviz import replay
    name = store.check_name(args.model)
    if not store.exists(args.arch, name):
        have = store.list_models(args.arch)
        raise SeqvizError(f"No {args.arch} model named {name!r}; available: {', '.join(have) or 'none'}.")
    rep = replay.read(args.arch, name)
    if rep is None:
        raise SeqvizError(f"Model {args.arch}/{name} has no replay (trained before replays were recorded); "
                          f"retrain it: python -m seqviz train {args.arch} --name {name} --overwrite.")
    _emit(rep)


def cmd_predict(args) -> None:
    mod = archs.get(args.arch).module()
    options = resolve(mod.PREDICT_PARAMS, parse_sets(args.set))
    if args.data is not None:
        return _predict_data(args, mod, options)
    if args.out is not None or args.batch_size is not None or args.on_error is not None:
        raise SeqvizError("--out, --batch-size and --on-error go with --data FILE (a file of inputs).")
    if args.text is None and args.file is None:
        raise SeqvizError("predict needs --text TEXT, --file FILE or --data FILE (a file of inputs).")
    raw = read_path(args.file) if args.file is not None else None   # measured before any model is loaded
    default = contract.hook(mod, "default_model")(options)  # seq2seq: one per mode
    bundle = store.load(args.arch, args.model or default)

    def run(b):     # the result as the module's RESULT spec orders it
        if raw is not None:
            return contract.conform(mod, contract.hook(mod, "predict_file")(b, raw, Path(args.file).name, **options))
        return contract.conform(mod, mod.predict(b, args.text, **options))
    if args.compare:
        from seqviz import compare
        if args.arch == "seq2seq":   # one model per mode: compare any two, whatever their modes
            options.pop("mode", None)
        _emit(compare.run(bundle, store.load(args.arch, args.compare), run))
    else:
        _emit(run(bundle))


def _predict_data(args, mod, options: dict) -> None:
    """predict --data: every input of the file, one JSON line each (seqviz.batch), to --out (written whole or
    not at all: a temp file beside it, renamed at the end) or to stdout; progress on stderr."""
    import os
    import tempfile

    from seqviz import batch
    from seqviz.uploads import check_writable
    if args.text is not None or args.file is not None or args.compare is not None:
        raise SeqvizError("--data reads the inputs from its file: leave out --text, --file and --compare.")
    size, on_error = batch.BATCH if args.batch_size is None else args.batch_size, args.on_error or "stop"
    batch.check_options(size, on_error)
    if args.out is not None:
        check_writable(args.out)
    raw, filename = read_path(args.data), Path(args.data).name
    rows = batch.read_inputs(args.arch, raw, filename)
    bundle = store.load(args.arch, args.model or contract.hook(mod, "default_model")(options))
    show = lambda done, total, seconds: print(batch.progress_line(done, total, seconds), file=sys.stderr,  # noqa: E731
                                              flush=True)
    run = lambda write: batch.run(bundle, rows, write, options, size, on_error, show)  # noqa: E731
    if args.out is None:
        summary = run(lambda r: print(to_json(r), flush=False))
    else:
        out = Path(args.out)
        fd, tmp = tempfile.mkstemp(dir=out.resolve().parent, prefix=f".{out.name}.", suffix=".tmp")
        try:
            with os.fdopen(fd, "w", encoding="utf-8") as f:
                summary = run(lambda r: f.write(to_json(r) + "\n"))
            os.replace(tmp, out)
        finally:
            if os.path.exists(tmp):
                os.unlink(tmp)
    print(f"{summary['rows']:,} inputs in {summary['seconds']:.1f} s"
          + (f", {summary['errors']:,} refused (their lines say why)" if summary["errors"] else "")
          + (f"; written to {args.out}" if args.out else ""), file=sys.stderr, flush=True)


def cmd_explain(args) -> None:
    """Why a stored model said what it said (seqviz.explain): every method's importance per input unit for the
    target, their agreement; --heldout: the agreement and faithfulness figures over the held-out set."""
    from seqviz import explain
    mod = archs.get(args.arch).module()
    methods = tuple(explain.METHODS) if args.method == "all" else (args.method,)
    if args.heldout:
        if args.text is not None or args.file is not None or args.target is not None:
            raise SeqvizError("--heldout explains the held-out set: leave out --text and --target.")
        _emit(explain.heldout(store.load(args.arch, args.model or contract.hook(mod, "default_model")({}))))
        return
    if (args.text is None) == (args.file is None):
        raise SeqvizError("explain needs --text TEXT or --file FILE (one of them), or --heldout.")
    raw = read_path(args.file) if args.file is not None else None
    bundle = store.load(args.arch, args.model or contract.hook(mod, "default_model")({}))
    given = args.text if raw is None else contract.hook(mod, "explain_input")(bundle, raw, Path(args.file).name)
    _emit(explain.of(bundle, given, args.target, methods))


def cmd_evaluate(args) -> None:
    """A stored model scored on its held-out set or on a labelled file (seqviz.evaluate): overall and per-class
    metrics, the confusion matrix, metrics per slice and every example."""
    from seqviz import evaluate
    mod = archs.get(args.arch).module()
    raw = read_path(args.data) if args.data else None          # measured before any model is loaded
    files = {"features": (Path(args.features).name, read_path(args.features))} if args.features else {}
    if files and raw is None:
        raise SeqvizError("--features goes with --data (the captions' CSV).")
    bundle = store.load(args.arch, args.model or contract.hook(mod, "default_model")({}))
    out = evaluate.run(bundle, raw, Path(args.data).name if args.data else None, files)
    if not args.examples:
        out.pop("examples")
    _emit(out)


def cmd_states(args) -> None:
    """Inside the LSTM (seqviz.states): every LSTM layer's h, c and gates per step for one input."""
    from seqviz import states
    mod = archs.get(args.arch).module()
    bundle = store.load(args.arch, args.model or contract.hook(mod, "default_model")({}))
    if args.span is None:
        _emit(states.of(bundle, args.text, args.layer))
        return
    if args.layer is None:
        raise SeqvizError("--span needs --layer: the layer whose units to select.")
    try:
        lo, hi = (int(v) for v in (args.span.split(":") if ":" in args.span else (args.span, args.span)))
    except ValueError:
        raise SeqvizError(f"--span {args.span!r} is not a step (3) or steps (3:5), counted from 1.") from None
    _emit(states.search(bundle, args.text, args.layer, lo - 1, hi - 1, args.threshold, args.direction, args.show))


def cmd_export(args) -> None:
    from seqviz import export
    archs.get(args.arch)                                      # an unknown arch: one line, before TensorFlow loads
    _emit(export.export(args.arch, store.check_name(args.model), args.out, overwrite=args.overwrite))


def cmd_worker(args) -> None:
    """A pool worker: train the jobs that servers and `train --queue` put in Redis (seqviz.pool)."""
    from seqviz import pool
    pool.work(args.queue, args.name, burst=args.burst)


def cmd_delete(args) -> None:
    """Remove a model trained here (never a shipped one), atomically."""
    _emit(store.delete(args.arch, args.name))


def cmd_bench(args) -> None:
    from seqviz import bench
    _emit(bench.run(args.name, quick=args.quick))


def _result_keys() -> str:
    """predict's --help epilog: each architecture's RESULT spec (seqviz.contract)."""
    return "the JSON it prints, per architecture:\n" + "\n".join(
        f"{a.id}:\n{contract.describe(a.module())}" for a in archs.ARCHS.values())


def main(argv=None) -> int:
    argv = sys.argv[1:] if argv is None else list(argv)
    parser = _Parser(prog="seqviz", description=__doc__)
    sub = parser.add_subparsers(dest="command", required=True, parser_class=_Parser)
    sub.add_parser("list", help="architectures and the models in the store").set_defaults(fn=cmd_list)
    t = sub.add_parser("train", help="train a model and save it in the store")
    t.add_argument("arch")
    t.add_argument("--set", action="append", default=[], metavar="KEY=VALUE")
    t.add_argument("--data", help="your own data file (see the arch's page for the format)")
    t.add_argument("--features", help="captioning: your image features, a .npy of shape (N, D), with --data "
                   "captions.csv (columns row,caption_1,caption_2)")
    t.add_argument("--vectors", help="dialogue-acts: word vectors (GloVe text format) to start the embeddings "
                   "from, with --data (freeze them with --set freeze_vectors=true)")
    t.add_argument("--probe", metavar="TEXT", help="the input the replay follows epoch by epoch (default: the "
                   "arch's example, or your data's first held-out example)")
    t.add_argument("--probe-file", metavar="FILE", help="the probe from a file (captioning: a .npy of one "
                   "feature vector)")
    t.add_argument("--name", help="store name (default: run-<hash of the settings>)")
    t.add_argument("--overwrite", action="store_true", help="replace a model of that name (also: regenerate a "
                   "shipped default under its own name)")
    t.add_argument("--queue", metavar="redis://HOST:6379/0", help="train on a pool's worker (python -m seqviz "
                   "worker) instead of here; the store must be the same folder on both")
    t.set_defaults(fn=cmd_train)
    p = sub.add_parser("predict", help="run a stored model on an input", formatter_class=argparse.RawTextHelpFormatter,
                       epilog=_result_keys() if {"-h", "--help"} & set(argv) and argv[0] == "predict" else None)
    p.add_argument("arch")
    p.add_argument("--model", default=None)
    p.add_argument("--text")
    p.add_argument("--file")
    p.add_argument("--set", action="append", default=[], metavar="KEY=VALUE")
    p.add_argument("--compare", metavar="NAME", help='a second model of the arch: prints {"a", "b", "diff"}')
    p.add_argument("--data", metavar="FILE", help="a file of inputs: one JSON line each, what --text prints for it "
                   "(a CSV's text column or one input a line; dialogue-acts: a CSV conversation_id,utterance[,speaker] "
                   "or dialogues separated by blank lines; seq2seq: a source column or one a line; captioning: a .npy "
                   "(N, D); lm: one prompt a line)")
    p.add_argument("--out", metavar="FILE.jsonl", help="with --data: write the lines here (whole, or not at all) "
                   "instead of stdout")
    p.add_argument("--batch-size", type=int, metavar="N", help=f"with --data: inputs per batch (default {256})")
    p.add_argument("--on-error", choices=("stop", "skip"), help="with --data: a row the model cannot read stops the "
                   "run (stop, the default) or gets a {\"row\", \"error\"} line in its place (skip)")
    p.set_defaults(fn=cmd_predict)
    r = sub.add_parser("replay", help="what a stored model did on its probe input, epoch by epoch (JSON)")
    r.add_argument("arch")
    r.add_argument("--model", default=store.DEFAULT)
    r.set_defaults(fn=cmd_replay)
    v = sub.add_parser("evaluate", help="score a stored model on its held-out set or a labelled file: metrics, "
                       "confusion, slices, every example (JSON)")
    v.add_argument("arch")
    v.add_argument("--model", default=None)
    v.add_argument("--data", help="a labelled file in the format the architecture trains on (default: the model's "
                   "held-out set)")
    v.add_argument("--features", help="captioning: the image features (.npy, N x D) the --data captions refer to")
    v.add_argument("--examples", action=argparse.BooleanOptionalAction, default=True,
                   help="list every example (default); --no-examples prints the metrics only")
    v.set_defaults(fn=cmd_evaluate)
    st = sub.add_parser("states", help="inside the LSTM: each LSTM layer's h, c and gates per step (JSON)")
    st.add_argument("arch")
    st.add_argument("--model", default=None)
    st.add_argument("--text", required=True, help="the input")
    st.add_argument("--layer", help="one layer, by the model's name for it (default: every LSTM layer)")
    st.add_argument("--span", help="select steps of the input (3, or 3:5, from 1): the layer's units on there and "
                                   "off elsewhere, and where they turn on together in the held-out set (LSTMVis)")
    st.add_argument("--threshold", type=float, default=0.5, help="with --span: on means above this (default 0.5)")
    st.add_argument("--direction", default="forward", help="with --span: forward (default) or backward")
    st.add_argument("--show", default="h", help="with --span: h (default), c, input, forget, candidate or output")
    st.set_defaults(fn=cmd_states)
    x = sub.add_parser("explain", help="why a stored model said what it said: importance per word (JSON)")
    x.add_argument("arch")
    x.add_argument("--model", default=None)
    x.add_argument("--text", help="the input to explain")
    x.add_argument("--file", help="the input to explain from a file (captioning: a .npy of one feature vector)")
    x.add_argument("--method", default="all", choices=["all", "grad", "gradl2", "ig", "occlusion"],
                   help="grad = gradient x input, gradl2 = gradient L2, ig = integrated gradients, occlusion = "
                   "leave-one-out (default: all)")
    x.add_argument("--target", help="what to explain (attention: a class; captioning: H:N, word N of head H's "
                   "caption; default: the prediction)")
    x.add_argument("--heldout", action="store_true", help="the agreement and faithfulness figures over the model's "
                   "held-out set instead of one input")
    x.set_defaults(fn=cmd_explain)
    e = sub.add_parser("export", help="write a model as a TensorFlow SavedModel that runs without seqviz")
    e.add_argument("arch")
    e.add_argument("--model", default=store.DEFAULT)
    e.add_argument("--out", required=True, help="the folder to write (created; must be new or empty)")
    e.add_argument("--overwrite", action="store_true", help="replace what the folder holds")
    e.set_defaults(fn=cmd_export)
    w = sub.add_parser("worker", help="train the jobs of a Redis queue (a pool of machines sharing the store)")
    w.add_argument("--queue", required=True, metavar="redis://HOST:6379/0", help="the Redis the servers enqueue to")
    w.add_argument("--name", help="this worker's name (default: host-pid), shown on the page while it trains")
    w.add_argument("--burst", action="store_true", help="stop when the queue is empty")
    w.set_defaults(fn=cmd_worker)
    d = sub.add_parser("delete", help="remove a model trained here from the store (never a shipped one)")
    d.add_argument("arch")
    d.add_argument("name")
    d.set_defaults(fn=cmd_delete)
    b = sub.add_parser("bench", help="run a benchmark")
    b.add_argument("name")
    b.add_argument("--quick", action="store_true", help="a smaller run (for CI)")
    b.set_defaults(fn=cmd_bench)
    try:
        args = parser.parse_args(argv)
        args.fn(args)
    except SeqvizError as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    return 0
