"""`python -m seqviz.worker`: one training job in its own process (see `seqviz.training`).

It runs at a lower CPU priority (SEQVIZ_WORKER_NICE, default 10) than the server. Events go up a private copy
of stdout; everything else that writes to stdout (Keras, TensorFlow) is
sent to stderr, so nothing can corrupt the event stream."""
import os
import sys

# below the server's priority: a page rerun (a typed input) never waits behind a training process
os.nice(int(os.environ.get("SEQVIZ_WORKER_NICE", "10")))

events = os.fdopen(os.dup(1), "w", buffering=1)
os.dup2(2, 1)
sys.stdout = sys.stderr

from seqviz import training  # noqa: E402

sys.exit(training.serve_one(sys.stdin, events))
