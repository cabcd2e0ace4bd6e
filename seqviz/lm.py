"""Language model: an LSTM trained with sampled softmax, evaluated with the full softmax over the SAME weights.

Where it comes from: a Keras user wanted to speed up an LSTM language model with
`tf.nn.sampled_softmax_loss` and could not see how its `weights` and `biases` fit a Keras model; the
accepted answer reached into `_keras_history` and needed a second model for inference. Here one layer,
`Projection`, owns the output weights and both softmaxes use them:

    words (B, T) -> Embedding (B, T, E) -> LSTM (B, T, H) -> Projection: W (V, H), b (V,)
        training, sampled: tf.nn.sampled_softmax_loss(weights=W, biases=b, inputs=h, labels=next word)
                           over the true word and `num_sampled` sampled words (a custom `train_step`)
        training, full / evaluation / generation: logits = h·Wᵀ + b (B, T, V), softmax over all V words

W is laid out V×H, one row per word (not a Dense kernel H×V transposed each step): the sampled loss
gathers only the rows of the true and the sampled words, so its gradient for W (and for b and the
embedding) is a `tf.IndexedSlices` over those rows, and the optimizer, tensorflow-addons' `LazyAdam`
(Adam whose sparse path updates only the rows in the gradient, moments included), touches only them.
The full softmax's gradient for W is dense: every row gets some, and Adam updates all V×H weights each
step. Both sides of the race use the same optimizer, LazyAdam (on a dense gradient it is plain Adam).
The sampled words are log-uniform (Zipfian) over ids, as TensorFlow's default sampler draws them
(`Vocab.build` numbers words most frequent first, which that distribution assumes), but drawn
statelessly from (seed, step) by `LogUniformSampler`, so a run is reproducible wherever it runs. The
output bias starts at the unigram log-frequencies: both sides start as the unigram model, and words the
sampler rarely draws do not sit at a bias of 0 (far too likely under the full softmax).

Corpora: (1) real English that ships with Python: the docstrings of the standard library's modules,
classes and functions (read from the .py sources with `ast`, nothing imported) plus `pydoc_data`'s
help topics, about 2 MB and ~11k lower-case word types; (2) a `.txt` upload; (3) a generated Zipfian
corpus whose vocabulary scales to 100k (for the speed race and `bench sampled-softmax`). Text is
tokenized with Keras' `text_to_word_sequence`; the ids live in `seqviz.vocab.Vocab` with the specials
<pad>, <unk> and <eos> (the end of a document). Training reads the token stream in windows of
`seq_len` + 1 words (input: the first `seq_len`, target: the next word at each position).

The default model (`models/lm/default`, seed 0, `python -m seqviz train lm --name default --overwrite`: sampled
softmax with 512 samples, V = 8,000, E = 32, H = 96, 3 epochs of 262k words, 14-29 s on 2 cores, 4.3 MB)
reaches a full-softmax perplexity of 191 on held-out Python docstrings (8,000 words of documents it
never saw), against 636 for the unigram model of its training text. The same config trained with the
full softmax reaches 182 after 3 epochs (sampled +4.8%; +7% and +10% after epochs 1 and 2) at 4.5-6x
the seconds per step; the gap in speed grows with V (`python -m seqviz bench sampled-softmax`).
"""
from __future__ import annotations

import ast
import dataclasses
import functools
import hashlib
import gc
import math
import os
import sysconfig
import time
import warnings
from dataclasses import dataclass

import numpy as np
import tensorflow as tf

with warnings.catch_warnings():  # tensorflow-addons announces its end of life on import
    warnings.simplefilter("ignore", UserWarning)
    from tensorflow_addons.optimizers import LazyAdam

from seqviz import budget, graphs, nn, store
from seqviz.heldout import keep, kept
from seqviz.contract import Out
from seqviz.errors import SeqvizError
from seqviz.params import SEED, Param
from seqviz.run import UNWATCHED, Run, phase, record
from seqviz.uploads import decode_text
from seqviz.vocab import PAD, UNK, Vocab

EOS = "<eos>"
SPECIALS = (PAD, UNK, EOS)
EXAMPLE = "return the"
MAX_CHARS = 2000            # a longer prompt is refused, not silently cut
MAX_VAL_TOKENS = 8_000      # held-out tokens scored after each epoch (full softmax over V: keep it bounded)
PYTHON_TOKENS = 310_000     # about the docstring corpus' size (the memory estimate's data term)
VAL_LOGITS = 25_000_000     # full-softmax logits held at once when scoring the held-out text (100 MB)
MONITOR_POINTS = 10         # per epoch: full-softmax (and sampled) loss on a fixed training sample

PARAMS = [
    Param("softmax", "sampled", help="training loss: sampled softmax or the full softmax over all V words",
          choices=("sampled", "full")),
    Param("num_sampled", 512, 1, 16_384, "words sampled per step (sampled softmax); must be < V"),
    Param("vocab_size", 8_000, 10, 100_000, "V: output words incl. <pad>, <unk>, <eos>. Text: the V-3 most "
          "frequent words (the rest become <unk>); Zipfian corpus: V-3 generated word types"),
    Param("corpus", "python", help="training text when nothing is uploaded: Python's docstrings or a "
          "generated Zipfian corpus", choices=("python", "zipf"), generated=True),
    Param("embed_dim", 32, 4, 1024, "word embedding size E"),
    Param("units", 96, 4, 1024, "LSTM units H (= the projection's row length)"),
    Param("seq_len", 20, 2, 200, "words per training window (backpropagation through time)"),
    Param("epochs", 3, 1, 50, "passes over the training text"),
    Param("batch_size", 128, 1, 1024, "windows per step"),
    Param("learning_rate", 0.02, 1e-5, 0.5, "LazyAdam step size"),
    SEED,
]
QUICK = {"epochs": 1, "vocab_size": 4000}   # the sidebar's Quick preset (the rest as PARAMS)
PREDICT_PARAMS = [
    Param("n_words", 20, 1, 200, "words to generate"),
    Param("temperature", 0.8, 0.0, 5.0, "0 = always the most likely word; higher = more random"),
    Param("top_k", 40, 0, 100_000, "sample among the k most likely words (0 = all)"),
    Param("seed", 0, 0, 2**31 - 1, "sampling seed: the same prompt, settings and seed give the same text"),
]
RESULT = {   # what predict returns (seqviz.contract): P prompt tokens, N generated words
    "prompt": Out(list[str], ("P",), "the prompt's tokens"),
    "unknown": Out(list[str], (), "the prompt's words outside the vocabulary (read as <unk>)"),
    "continuation": Out(str, (), "the generated words, joined"),
    "tokens": Out(list[str], ("N",), "the generated words"),
    "token_probs": Out(list[float], ("N",), "each generated word's probability when it was drawn"),
    "next_word": Out(dict[str, float], (), "the most likely next words after the prompt -> probability"),
    "prompt_perplexity": Out(float | None, (), "the model's perplexity on the prompt (None: too short)"),
}


# ---------------------------------------------------------------------------------------------
# Corpora: documents of lower-case tokens
# ---------------------------------------------------------------------------------------------
@dataclass
class Corpus:
    docs: list[list[str]]                 # each document's tokens (the held-out split is by document)
    source: str
    words: list[str] | None = None        # a fixed vocabulary, most frequent first (generated corpora)


def tokenize(text: str) -> list[str]:
    """Keras' tokenizer (lower-case, punctuation to spaces), then quotes stripped off words ('foo' -> foo)."""
    words = (w.strip("'") for w in tf.keras.preprocessing.text.text_to_word_sequence(text))
    return [w for w in words if w]


_SKIP = {"test", "tests", "idle_test", "idlelib", "tkinter", "turtledemo", "lib2to3", "site-packages",
         "dist-packages", "pydoc_data", "encodings", "ensurepip"}


@functools.lru_cache(maxsize=1)
def python_corpus() -> Corpus:
    """The standard library's docstrings (modules, classes, functions; parsed, never imported) and the
    pydoc help topics. Files in path order, so the same Python gives the same corpus."""
    from pydoc_data.topics import topics
    root = sysconfig.get_paths()["stdlib"]
    paths = []
    for folder, subdirs, files in os.walk(root):
        subdirs[:] = sorted(d for d in subdirs if d not in _SKIP)   # prune: never walk site-packages, tests
        paths += [os.path.join(folder, f) for f in sorted(files) if f.endswith(".py")]
    texts, collecting = [], gc.isenabled()
    gc.disable()  # parsing allocates millions of AST nodes; with TensorFlow loaded, GC passes triple the time
    try:
        for path in paths:
            try:
                with open(path, "rb") as f:
                    texts += _docstrings(ast.parse(f.read()))
            except (SyntaxError, ValueError, OSError):
                continue
    finally:
        if collecting:
            gc.enable()
    texts += [topics[k] for k in sorted(topics)]
    return Corpus([t for t in map(tokenize, texts) if t], "python")


def _docstrings(node) -> list[str]:
    """Docstrings of a module and of the classes and functions in it, through statement bodies only
    (a def inside `if`/`try` is found; expressions are never walked, which keeps this fast)."""
    out = []
    if isinstance(node, (ast.Module, ast.ClassDef, ast.FunctionDef, ast.AsyncFunctionDef)):
        doc = ast.get_docstring(node)
        if doc:
            out.append(doc)
    for field in ("body", "orelse", "finalbody", "handlers"):
        for child in getattr(node, field, None) or ():
            if isinstance(child, (ast.stmt, ast.excepthandler)):
                out += _docstrings(child)
    return out


def make_zipf(vocab_size: int, n_tokens: int = 300_000, seed: int = 0, doc_len: int = 200) -> Corpus:
    """`vocab_size` - 3 word types w1, w2, ... with Zipfian frequencies (P(w_r) ~ 1/r), and a little
    structure to learn: each word has a fixed partner word (drawn Zipfian) that follows it half the time."""
    ids = zipf_ids(vocab_size - len(SPECIALS), n_tokens, seed)
    words = [f"w{i + 1}" for i in range(vocab_size - len(SPECIALS))]
    docs = [[words[i] for i in ids[s:s + doc_len]] for s in range(0, n_tokens, doc_len)]
    return Corpus(docs, "zipf", words)


def zipf_ids(n_types: int, n_tokens: int, seed: int = 0) -> np.ndarray:
    """Token ids 0..n_types-1 of the Zipfian corpus (rank 0 most frequent); see `make_zipf`."""
    rng = np.random.default_rng(seed)
    p = 1.0 / np.arange(1, n_types + 1)
    p /= p.sum()
    draws = rng.choice(n_types, size=n_tokens, p=p)
    partner = rng.choice(n_types, size=n_types, p=p)
    follow = rng.random(n_tokens) < 0.5
    ids = draws.copy()
    for t in range(1, n_tokens):  # sequential: the partner of the word actually chosen before
        if follow[t]:
            ids[t] = partner[ids[t - 1]]
    return ids


def read_upload(raw: bytes, filename: str = "upload.txt") -> Corpus:
    """A user's plain-text file (UTF-8, within the file limit): split into documents at blank lines."""
    text = decode_text(raw, filename)
    paragraphs = [tokenize(p) for p in text.replace("\r\n", "\n").split("\n\n")]
    docs = [p for p in paragraphs if p]
    n = sum(map(len, docs))
    if n < 500:
        raise SeqvizError(f"{filename} has {n} words; a language model needs at least 500 words of text.")
    if len(docs) < 20:  # too few paragraphs for a held-out split: cut the text into pieces of 100 words
        stream = [w for d in docs for w in d]
        docs = [stream[i:i + 100] for i in range(0, len(stream), 100)]
    return Corpus(docs, "upload")


def prepare_worker() -> None:
    """A spare training worker reads the docstring corpus while it waits (~1.5 s a process)."""
    python_corpus()


def corpus_for(params: dict, data: Corpus | None) -> Corpus:
    if data is not None:
        return data
    if params["corpus"] == "zipf":
        return make_zipf(params["vocab_size"], seed=params["seed"])
    return python_corpus()


def split(corpus: Corpus, seed: int, fraction: float = 0.15) -> tuple[list[list[str]], list[list[str]]]:
    """(training documents, held-out documents), in corpus order. A document is held out when a seeded
    hash of its words falls in the lowest `fraction` (at least one document is): by content, not by
    position as `training.holdout` splits, so a docstring held out here stays held out on another
    Python 3.11 patch release, whose standard library has a few docstrings more or less."""
    def score(doc):
        digest = hashlib.blake2b(f"{seed}\0{' '.join(doc)}".encode(), digest_size=8).digest()
        return int.from_bytes(digest, "big") / 2**64

    scores = [score(d) for d in corpus.docs]
    cut = max(fraction, min(scores))
    return [d for d, s in zip(corpus.docs, scores) if s > cut], [d for d, s in zip(corpus.docs, scores) if s <= cut]


def fingerprint(corpus: Corpus) -> str:
    """A hash of the corpus' documents: equal fingerprints, equal corpora (e.g. the same Python)."""
    h = hashlib.sha1()
    for d in corpus.docs:
        h.update(" ".join(d).encode() + b"\n")
    return h.hexdigest()[:16]


def make_vocab(corpus: Corpus, train_docs: list[list[str]], size: int) -> Vocab:
    if corpus.words is not None:
        return Vocab(corpus.words[:size - len(SPECIALS)], specials=SPECIALS)
    return Vocab.build(train_docs, max_size=size, specials=SPECIALS)


def stream(vocab: Vocab, docs: list[list[str]]) -> np.ndarray:
    """All documents' ids in one int32 stream, each document followed by <eos>."""
    eos = vocab.index[EOS]
    return np.array([i for d in docs for i in vocab.encode(d) + [eos]], dtype=np.int32)


def windows(ids: np.ndarray, seq_len: int, what: str = "The text") -> tuple[np.ndarray, np.ndarray]:
    """Non-overlapping windows: inputs (N, seq_len) and targets (N, seq_len), the same shifted by one."""
    n = (len(ids) - 1) // seq_len
    if n < 1:
        raise SeqvizError(f"{what} has {len(ids)} words, fewer than one window of seq_len + 1 = {seq_len + 1}; "
                          "lower seq_len or use more text.")
    x = ids[:n * seq_len].reshape(n, seq_len)
    y = ids[1:n * seq_len + 1].reshape(n, seq_len)
    return x, y


# ---------------------------------------------------------------------------------------------
# The model
# ---------------------------------------------------------------------------------------------
class LogUniformSampler:
    """Draws `num_sampled` distinct word ids per step from the log-uniform (Zipfian) distribution
    P(k) = log((k + 2) / (k + 1)) / log(V + 1) over ids numbered most frequent first, and says how likely
    each id was to be included: the `sampled_values` triple of `tf.nn.sampled_softmax_loss`.

    It samples what TensorFlow's `log_uniform_candidate_sampler(unique=True)` samples, but statelessly
    (Gumbel-top-k from `tf.random.stateless_uniform` keyed by a seed): a step's words depend only on
    (model seed, step). The built-in sampler keeps its random state in its kernel, and we measured runs
    of the same seed diverging in the app (e.g. validation perplexity 276 vs 311-379, once 8,204).
    Inclusion probability of id k: 1 - exp(-τ P(k)), with τ such that they sum to num_sampled (TF's
    formula 1 - (1 - P(k))^tries with the expected number of tries)."""

    def __init__(self, vocab_size: int, num_sampled: int):
        self.vocab_size, self.num_sampled = vocab_size, num_sampled
        k = np.arange(vocab_size, dtype=np.float64)
        p = (np.log(k + 2) - np.log(k + 1)) / np.log(vocab_size + 1)
        lo, hi = float(num_sampled), float(num_sampled) * 1e12       # Σ(1 - e^(-τp)) = S: bisect on log τ
        for _ in range(100):
            tau = math.sqrt(lo * hi)
            lo, hi = (tau, hi) if np.sum(-np.expm1(-tau * p)) < num_sampled else (lo, tau)
        self.log_p = tf.constant(np.log(p), tf.float32)                           # (V,)
        self.inclusion = tf.constant(-np.expm1(-math.sqrt(lo * hi) * p), tf.float32)  # (V,)

    def __call__(self, labels, seed):
        """labels (N, 1) int64, seed (2,) -> (sampled (S,) int64, true inclusion (N, 1), sampled inclusion (S,))."""
        u = tf.random.stateless_uniform([self.vocab_size], seed=seed, minval=1e-20, maxval=1.0)
        gumbel = -tf.math.log(-tf.math.log(u))
        sampled = tf.cast(tf.math.top_k(self.log_p + gumbel, self.num_sampled).indices, tf.int64)
        return sampled, tf.gather(self.inclusion, labels), tf.gather(self.inclusion, sampled)


@tf.keras.utils.register_keras_serializable(package="seqviz")
class Projection(tf.keras.layers.Layer):
    """The output layer over V words: W (V, H), one row per word, and b (V,). `call` gives the full
    logits h·Wᵀ + b; `sampled_loss` gives tf.nn.sampled_softmax_loss over the very same W and b."""

    def __init__(self, vocab_size: int, **kwargs):
        super().__init__(**kwargs)
        self.vocab_size = vocab_size

    def build(self, input_shape):
        h = int(input_shape[-1])
        self.kernel = self.add_weight(name="kernel", shape=(self.vocab_size, h), initializer="glorot_uniform")
        self.bias = self.add_weight(name="bias", shape=(self.vocab_size,), initializer="zeros")
        super().build(input_shape)

    def call(self, h):
        """(..., H) -> logits (..., V)."""
        flat = tf.reshape(h, [-1, tf.shape(h)[-1]])                                   # (N, H)
        logits = tf.matmul(flat, self.kernel, transpose_b=True) + self.bias            # (N, V)
        return tf.reshape(logits, tf.concat([tf.shape(h)[:-1], [self.vocab_size]], 0))

    def full_losses(self, h, labels):
        """Cross-entropy of the full softmax per position (B, T). h (B, T, H), labels (B, T)."""
        return tf.nn.sparse_softmax_cross_entropy_with_logits(labels, self(h))

    def full_loss(self, h, labels):
        return tf.reduce_mean(self.full_losses(h, labels))

    def sampled_loss(self, h, labels, sampler: LogUniformSampler, seed):
        """Mean sampled-softmax loss: the true word against the sampler's words for `seed`. Passing the
        variables themselves lets the lookup's gradient stay sparse (IndexedSlices over the true and
        sampled rows)."""
        flat = tf.reshape(h, [-1, tf.shape(h)[-1]])                                   # (N, H)
        labels = tf.reshape(tf.cast(labels, tf.int64), [-1, 1])                       # (N, 1)
        return tf.reduce_mean(tf.nn.sampled_softmax_loss(
            weights=self.kernel, biases=self.bias, labels=labels, inputs=flat, num_sampled=sampler.num_sampled,
            num_classes=self.vocab_size, sampled_values=sampler(labels, seed)))

    def get_config(self):
        return {**super().get_config(), "vocab_size": self.vocab_size}


class LanguageModel(tf.keras.Model):
    """Embedding -> LSTM -> Projection, trained by `train_step` with the sampled or the full softmax."""

    def __init__(self, vocab_size: int, embed_dim: int, units: int, num_sampled: int, softmax: str,
                 seed: int = 0, **kwargs):
        super().__init__(**kwargs)
        self.num_sampled, self.softmax, self.seed = num_sampled, softmax, seed
        self.sampler = LogUniformSampler(vocab_size, num_sampled) if num_sampled < vocab_size else None
        self.embedding = tf.keras.layers.Embedding(vocab_size, embed_dim, name="embedding")
        self.lstm = nn.lstm(units, return_sequences=True, return_state=True, name="lstm")
        self.projection = Projection(vocab_size, name="projection")
        self.loss_tracker = tf.keras.metrics.Mean(name="loss")

    def hidden(self, ids, state=None, training=False):
        """ids (B, T) -> LSTM outputs (B, T, H) and the final [h, c] (each (B, H))."""
        out, h, c = self.lstm(self.embedding(ids), initial_state=state, training=training)
        return out, [h, c]

    def call(self, ids, training=False):
        """Full-softmax logits (B, T, V)."""
        return self.projection(self.hidden(ids, training=training)[0])

    def step_seed(self, stream: int = 0):
        """The sampler's seed for this training step: (model seed + stream, optimizer step)."""
        return tf.stack([tf.constant(self.seed + stream, tf.int64), tf.cast(self.optimizer.iterations, tf.int64)])

    def losses_for(self, ids, labels):
        """(full-softmax loss, sampled-softmax loss) of a batch at the current weights (the samples from
        their own seed stream, not the training step's)."""
        out, _ = self.hidden(ids)
        return (self.projection.full_loss(out, labels),
                self.projection.sampled_loss(out, labels, self.sampler, self.step_seed(stream=1)))

    @property
    def metrics(self):
        return [self.loss_tracker]

    def train_step(self, data):
        x, y = data
        with tf.GradientTape() as tape:
            out, _ = self.hidden(x, training=True)
            if self.softmax == "sampled":
                loss = self.projection.sampled_loss(out, y, self.sampler, self.step_seed())
            else:
                loss = self.projection.full_loss(out, y)
        grads = tape.gradient(loss, self.trainable_variables)
        self.optimizer.apply_gradients(zip(grads, self.trainable_variables))
        self.loss_tracker.update_state(loss, sample_weight=tf.cast(tf.size(y), tf.float32))  # per word
        # "loss": the epoch's running mean (Keras' convention); "batch_loss": this step's own value
        return {"loss": self.loss_tracker.result(), "batch_loss": loss}

    def test_step(self, data):
        x, y = data
        self.loss_tracker.update_state(self.projection.full_losses(self.hidden(x)[0], y))  # a mean per word
        return {"loss": self.loss_tracker.result()}


def build(params: dict, vocabs: dict[str, Vocab]) -> LanguageModel:
    model = LanguageModel(len(vocabs["words"]), params["embed_dim"], params["units"], params["num_sampled"],
                          params["softmax"], params["seed"], name="language_model")
    model(tf.zeros((1, 1), tf.int32))  # create the weights (the store loads into them)
    return model


KERAS_CODE = (Projection, LanguageModel, build)   # what the page's "Keras code" view shows, read from this file


def optimizer(params: dict) -> LazyAdam:
    return LazyAdam(params["learning_rate"])


def val_batch(params: dict) -> int:
    """Windows per held-out batch: 256, fewer where (windows x seq_len x V) logits would pass VAL_LOGITS."""
    return max(1, min(256, VAL_LOGITS // (params["seq_len"] * params["vocab_size"])))


def memory(params: dict, data: Corpus | None = None) -> list[budget.Term]:
    """What a training run holds (seqviz.budget): the weights (the V x E embedding and V x H projection
    dominate), one batch's LSTM and softmax (sampled: (B T, k) logits; full: (B T, V)), the full-softmax
    monitoring of 16 windows and the held-out scoring, and the text."""
    v, e, h, b, t = (params[k] for k in ("vocab_size", "embed_dim", "units", "batch_size", "seq_len"))
    tokens = PYTHON_TOKENS if data is None else sum(map(len, data.docs))
    if data is None and params["corpus"] == "zipf":
        tokens = 300_000
    if params["softmax"] == "sampled":
        out = budget.Term("one batch's sampled logits", 3 * b * t * (params["num_sampled"] + 1 + h) * budget.FLOAT,
                          {"batch_size": b, "seq_len": t, "num_sampled": params["num_sampled"]})
    else:
        out = budget.Term("one batch's full-softmax logits", 3 * b * t * v * budget.FLOAT,
                          {"batch_size": b, "seq_len": t, "vocab_size": v})
    return [budget.weights(v * (e + h + 1), {"vocab_size": v, "embed_dim": e, "units": h},
                           "the embedding and output weights"),
            budget.weights(budget.lstm_weights(e, h), {"units": h, "embed_dim": e}, "the LSTM's weights"),
            budget.Term("one batch through the LSTM", budget.lstm_activations(b, t, h, e),
                        {"batch_size": b, "seq_len": t, "units": h}),
            out,
            budget.Term("scoring with the full softmax", 3 * (16 + val_batch(params)) * t * v * budget.FLOAT,
                        {"seq_len": t, "vocab_size": v}, "eval"),
            budget.Term("the text", tokens * 80, {"tokens": tokens}, "data")]


def check(params: dict, vocab_size: int | None = None) -> None:
    """num_sampled must be smaller than V (the sampler draws distinct words other than the true one)."""
    v = vocab_size or params["vocab_size"]
    if params["num_sampled"] >= v:
        raise SeqvizError(f"num_sampled ({params['num_sampled']:,}) must be smaller than the vocabulary "
                          f"(V = {v:,} words); lower num_sampled or raise vocab_size.")


# ---------------------------------------------------------------------------------------------
# Training, with a live trace for the race page
# ---------------------------------------------------------------------------------------------
@dataclasses.dataclass
class RaceTrace:
    """What the race page draws: per training step `t` (the training clock), `step_s`, `loss` and, every
    few steps, `full_loss`/`sampled_loss` on a fixed sample; per epoch `t` and `val_perplexity`."""
    steps: list = dataclasses.field(default_factory=list)
    epochs: list = dataclasses.field(default_factory=list)
    unigram_perplexity: float = float("nan")

    @property
    def clock(self) -> float:
        return self.steps[-1]["t"] if self.steps else 0.0

    def to_json(self) -> dict:
        return dataclasses.asdict(self)


class Trace(tf.keras.callbacks.Callback):
    """Records the race's trace as training goes, and reports each row to the training service
    (`training.record`), which carries it from the worker process to the page.

    `clock` counts only the seconds inside training steps (from a batch's begin to its end, graph
    building of the first step included); monitoring and validation are not counted. Every few steps
    it scores a fixed sample of training windows with the full softmax and the sampled softmax (the
    gap between the two is what sampling costs in accuracy of the loss); after each epoch the
    full-softmax validation perplexity (Keras' validation runs the model's `test_step`)."""

    def __init__(self, monitor: tuple[np.ndarray, np.ndarray], every: int, unigram_perplexity=float("nan")):
        super().__init__()
        self.monitor, self.every = monitor, max(1, every)
        self.trace = RaceTrace(unigram_perplexity=unigram_perplexity)

    def on_train_begin(self, logs=None):
        record("lm.unigram_perplexity", self.trace.unigram_perplexity)

    def on_train_batch_begin(self, batch, logs=None):
        self._t0 = time.perf_counter()

    def on_train_batch_end(self, batch, logs=None):
        dt = time.perf_counter() - self._t0
        row = {"t": self.trace.clock + dt, "step_s": dt, "loss": float(logs.pop("batch_loss"))}
        if len(self.trace.steps) % self.every == 0:
            full, sampled = self.model.losses_for(*self.monitor)
            row.update(full_loss=float(full), sampled_loss=float(sampled))
        self.trace.steps.append(row)
        record("lm.steps", row)

    def on_epoch_end(self, epoch, logs=None):
        logs.pop("batch_loss", None)
        logs["val_perplexity"] = math.exp(logs["val_loss"])
        row = {"t": self.trace.clock, "val_perplexity": logs["val_perplexity"]}
        self.trace.epochs.append(row)
        record("lm.epochs", row)


def race_name(key: str, side: str) -> str:
    """The store name of one side of a race: `race-<key>-sampled` / `race-<key>-full`."""
    return f"race-{key}-{side}"


def live(records: dict) -> RaceTrace | None:
    """The race trace of a running (or finished) job, from the records its worker reported, or None."""
    if not records.get("lm.steps"):
        return None
    return RaceTrace(list(records["lm.steps"]), list(records.get("lm.epochs", [])),
                     (records.get("lm.unigram_perplexity") or [float("nan")])[-1])


def saved_trace(metrics: dict) -> RaceTrace | None:
    """The race trace kept in a trained model's metrics.json, or None (older or damaged entries)."""
    t = metrics.get("race_trace")
    if not isinstance(t, dict) or not isinstance(t.get("steps"), list) or not t["steps"]:
        return None
    try:
        return RaceTrace(t["steps"], t.get("epochs") or [], float(t.get("unigram_perplexity", "nan")))
    except (TypeError, ValueError):
        return None


def fit(params: dict, data: Corpus | None, run: Run = UNWATCHED):
    corpus = corpus_for(params, data)
    train_docs, val_docs = split(corpus, params["seed"])
    phase("building the vocabulary and the training windows")
    vocab = make_vocab(corpus, train_docs, params["vocab_size"])
    check(params, len(vocab))
    x, y = windows(stream(vocab, train_docs), params["seq_len"], "The training text")
    xv, yv = windows(stream(vocab, val_docs)[:MAX_VAL_TOKENS + 1], params["seq_len"], "The held-out text")
    vocabs = {"words": vocab}
    phase("building the model")
    model = build(params, vocabs)
    # start the output bias at the unigram log-frequencies: the model starts as the unigram model, and
    # words the sampler rarely draws do not keep a bias of 0 (far too likely under the full softmax)
    model.projection.bias.assign(np.log(unigram(x, len(vocab))).astype(np.float32))
    model.compile(optimizer(params))

    steps = math.ceil(len(x) / params["batch_size"])
    pick = np.random.default_rng(params["seed"] + 2).choice(len(x), size=min(16, len(x)), replace=False)
    tracer = Trace((x[pick], y[pick]), every=steps // MONITOR_POINTS,
                   unigram_perplexity=unigram_perplexity(x, yv, len(vocab)))
    trace = tracer.trace
    # the trace goes first: it takes the per-batch value out of the logs before anyone else reads them
    # tf.data with an explicit shuffle seed: the same windows in the same order for the same seed, whatever
    # else the process runs (and without the numpy adapter, which took ~8 s to tear down after fit)
    train = (tf.data.Dataset.from_tensor_slices((x, y))
             .shuffle(len(x), seed=params["seed"], reshuffle_each_iteration=True).batch(params["batch_size"]))
    model.fit(train, epochs=params["epochs"], callbacks=[tracer, *run.callbacks(model, vocabs)],
                     validation_data=tf.data.Dataset.from_tensor_slices((xv, yv)).batch(val_batch(params)), verbose=0)

    metrics = {
        "val_perplexity": trace.epochs[-1]["val_perplexity"] if trace.epochs else None,
        "unigram_perplexity": trace.unigram_perplexity,
        "seconds_per_step": median_step(trace),
        "train_clock_s": trace.clock,
        "val_perplexity_per_epoch": [e["val_perplexity"] for e in trace.epochs],
        "vocab_size": len(vocab), "n_train_tokens": int(x.size), "n_val_tokens": int(yv.size),
        "corpus": corpus.source, "corpus_fingerprint": fingerprint(corpus),
        "race_trace": trace.to_json(),   # the race page draws a finished race from here after a reload
    }
    if data is not None:   # your text: its held-out documents kept with the model (bounded), for the held-out view
        metrics["heldout"] = keep({"doc": [" ".join(d) for d in val_docs]})
    return model, vocabs, metrics


def median_step(trace: RaceTrace) -> float:
    """Median seconds per training step, leaving out the first (it builds the graph)."""
    return float(np.median([s["step_s"] for s in trace.steps[1:]] or [trace.steps[0]["step_s"]]))


def race_summary(traces: dict[str, RaceTrace]) -> dict:
    """The race's headline numbers from the traces of the "sampled" and/or "full" runs: full ÷ sampled
    seconds per step, each side's latest validation perplexity, and sampled ÷ full perplexity after the
    same number of epochs (the most both have finished)."""
    out = {"val_perplexity": {s: t.epochs[-1]["val_perplexity"] for s, t in traces.items() if t.epochs},
           "unigram_perplexity": next(iter(traces.values())).unigram_perplexity}
    if {"sampled", "full"} <= set(traces) and all(t.steps[1:] for t in traces.values()):
        out["speedup"] = median_step(traces["full"]) / median_step(traces["sampled"])
    done = min((len(t.epochs) for t in traces.values()), default=0)
    if {"sampled", "full"} <= set(traces) and done:
        out["epochs"] = done
        out["ppl_ratio"] = (traces["sampled"].epochs[done - 1]["val_perplexity"]
                            / traces["full"].epochs[done - 1]["val_perplexity"])
    return out


def unigram(train_ids: np.ndarray, vocab_size: int) -> np.ndarray:
    """The unigram model of the training ids, add-one smoothed: P(word) (V,)."""
    counts = np.bincount(train_ids.ravel(), minlength=vocab_size) + 1.0
    return counts / counts.sum()


def unigram_perplexity(train_ids: np.ndarray, targets: np.ndarray, vocab_size: int) -> float:
    """Perplexity of the unigram model of the training ids on the targets: the baseline to beat."""
    return float(np.exp(-np.log(unigram(train_ids, vocab_size))[targets.ravel()].mean()))


def perplexity(model: LanguageModel, x: np.ndarray, y: np.ndarray, batch_size: int = 256) -> float:
    """Full-softmax perplexity of the windows (x, y), in eager batches."""
    total = 0.0
    for i in range(0, len(x), batch_size):
        logits = model(x[i:i + batch_size], training=False)
        total += float(tf.reduce_sum(tf.nn.sparse_softmax_cross_entropy_with_logits(y[i:i + batch_size], logits)))
    return math.exp(total / y.size)


# ---------------------------------------------------------------------------------------------
# Inference: the next-word distribution and generation with temperature and top-k
# ---------------------------------------------------------------------------------------------
def prompt_ids(vocab: Vocab, text: str) -> tuple[list[str], list[int], list[str]]:
    """(tokens, ids, unknown words) of a prompt, or a SeqvizError saying what is wrong with it."""
    if not isinstance(text, str) or not text.strip():
        raise SeqvizError("The prompt is empty; type a few words to continue.")
    if len(text) > MAX_CHARS:
        raise SeqvizError(f"The prompt has {len(text):,} characters; the limit is {MAX_CHARS:,}.")
    tokens = tokenize(text)
    if not tokens:
        raise SeqvizError("The prompt has no words (only punctuation, symbols or spaces); type a few words.")
    unknown = [t for t in tokens if t not in vocab or t in SPECIALS]
    if len(unknown) == len(tokens):
        sample = ", ".join(vocab.tokens[len(SPECIALS):len(SPECIALS) + 8])
        raise SeqvizError(f"None of the prompt's words are in the model's vocabulary of {len(vocab):,} words "
                          f"(it knows e.g. {sample}); type text like the training data.")
    return tokens, vocab.encode(tokens), sorted(set(unknown), key=tokens.index)


def keep_top_k(logp: np.ndarray, k: int) -> np.ndarray:
    """`logp` with -inf everywhere but its k largest entries, ties going to the lowest ids (what a stable
    descending sort keeps), in O(V): a partition, not a sort of the whole vocabulary every word."""
    kth = np.partition(logp, len(logp) - k)[len(logp) - k]                   # the k-th largest value
    keep = logp > kth
    keep[np.flatnonzero(logp == kth)[:k - int(keep.sum())]] = True
    return np.where(keep, logp, -np.inf)


def choose(probs: np.ndarray, temperature: float, top_k: int, rng: np.random.Generator,
           banned: list[int] = ()) -> int:
    """One word id from a distribution: temperature 0 = the argmax; else p^(1/T) over the top_k words."""
    p = probs.astype(np.float64).copy()
    p[list(banned)] = 0.0
    if temperature == 0:
        return int(np.argmax(p))
    logp = np.log(np.maximum(p, 1e-300))
    with np.errstate(over="ignore", divide="ignore"):   # shifted first: the best word is 0 at any T, never -inf/-inf
        logp = np.where(p > 0, (logp - logp[p > 0].max()) / temperature, -np.inf)
    if 0 < top_k < len(p):
        logp = keep_top_k(logp, top_k)
    q = np.exp(logp - logp.max())
    return int(rng.choice(len(q), p=q / q.sum()))


@graphs.once_per_model
def next_word_fn(model: LanguageModel):
    """ids (1, T), state h, c (1, H) -> P(next word) (V,) after the last id, and the new h, c: the full
    softmax over the shared W, b. Traced once per model (an eager step costs ~8 ms, a traced one <1 ms)."""
    state = tf.TensorSpec((1, model.lstm.units), tf.float32)

    @tf.function(input_signature=[tf.TensorSpec((1, None), tf.int32), state, state])
    def fn(ids, h, c):
        out, (h, c) = model.hidden(ids, [h, c])
        return tf.nn.softmax(model.projection(out[:, -1]))[0], h, c

    return fn.get_concrete_function()   # called directly: no dispatch per word


def predict(bundle, text: str, n_words: int = 20, temperature: float = 0.8, top_k: int = 40,
            seed: int = 0, n_next: int = 10) -> dict:
    """Continue the prompt word by word (never <pad>, <unk> or <eos>) and give the model's full-softmax
    distribution of the next word after the prompt (its `n_next` most likely words)."""
    vocab, model = bundle.vocabs["words"], bundle.model
    tokens, ids, unknown = prompt_ids(vocab, text)
    banned = [vocab.index[s] for s in SPECIALS]
    rng = np.random.default_rng(seed)
    step = next_word_fn(model)
    zeros = np.zeros((1, model.lstm.units), np.float32)                      # the LSTM's own initial state
    probs, h, c = step(np.array([ids], dtype=np.int32), zeros, zeros)        # (V,) after the prompt
    probs = probs.numpy()
    top = np.argsort(-probs, kind="stable")[:n_next]
    next_word = {vocab.tokens[i]: float(probs[i]) for i in top}
    words, word_probs = [], []
    for _ in range(n_words):
        i = choose(probs, temperature, top_k, rng, banned)
        words.append(vocab.tokens[i])
        word_probs.append(float(probs[i]))
        probs, h, c = step(np.array([[i]], dtype=np.int32), h, c)            # one step from the state
        probs = probs.numpy()
    return {"prompt": tokens, "unknown": unknown, "continuation": " ".join(words), "tokens": words,
            "token_probs": word_probs, "next_word": next_word,
            "prompt_perplexity": prompt_perplexity(model, ids, vocab.unk_id)}


# ---------------------------------------------------------------------------------------------
# Explanations (seqviz.explain): which prompt words drive the next word
# ---------------------------------------------------------------------------------------------
@graphs.once_per_model
def _scorer(model: LanguageModel):
    """embeddings (N, T, E), word (N,) -> P(next word = word) (N,) after the prompt: the model's own LSTM and
    full softmax after its embedding layer."""
    def score(emb, word):
        out, _, _ = model.lstm(emb, training=False)
        return tf.gather(tf.nn.softmax(model.projection(out[:, -1])), word, batch_dims=1)
    return tf.function(score, reduce_retracing=True, autograph=False)


def explainable(bundle, text: str, target: str | None = None):
    """The prompt as seqviz.explain's methods see it: its words' embeddings and P(next word = target) from them
    (the most likely next word that is a word, not <eos>, <unk> or <pad>, unless `target` names another)."""
    from seqviz import explain
    vocab, model = bundle.vocabs["words"], bundle.model
    tokens, ids, _ = prompt_ids(vocab, text)
    if target is None:
        zeros = np.zeros((1, model.lstm.units), np.float32)
        probs = next_word_fn(model)(np.array([ids], np.int32), zeros, zeros)[0].numpy()
        probs[[vocab.index[s] for s in SPECIALS]] = -1
        target = vocab.tokens[int(probs.argmax())]
    elif target not in vocab or target in SPECIALS:
        raise SeqvizError(f"{target!r} is not a word of the model's vocabulary of {len(vocab):,} words.")
    table = model.embedding.embeddings.numpy()
    return explain.Subject([tokens], table[np.array([ids])], table[vocab.unk_id], _scorer(model),
                           (np.array([vocab.index[target]], np.int32),), [f"P(next = {target})"])


def heldout_cases(bundle, n: int = 200) -> list[tuple[str, None]]:
    """seqviz.explain's held-out cases: `n` prompts of 8 words cut from the held-out documents, each for its
    likeliest next word (a generated corpus; a model of your text does not keep it)."""
    if bundle.data.get("source") == "upload":
        raise SeqvizError("The held-out explanations need the corpus the model was trained on; this model was "
                          "trained on your text, which it does not keep.")
    _, held = split(corpus_for(bundle.params, None), bundle.params["seed"])
    prompts = (" ".join(doc[i:i + 8]) for doc in held for i in range(0, len(doc) - 8, 8))
    return [(text, None) for text, _ in zip(prompts, range(n))]


# ---------------------------------------------------------------------------------------------
# The held-out set (seqviz.evaluate): every held-out word's surprisal, the way the validation reads them
# ---------------------------------------------------------------------------------------------
def heldout_data(bundle) -> Corpus:
    """The model's held-out documents: a generated corpus' (regenerated), or the ones of your text it kept."""
    if bundle.data.get("source") == "upload":
        h = kept(bundle, "doc", "text", "score it on a .txt file")
        return Corpus([str(d).split() for d in h["doc"]], "upload")
    return Corpus(split(corpus_for(bundle.params, None), bundle.params["seed"])[1], "held-out")


def score_examples(bundle, data: Corpus):
    """Every word of `data`'s documents (the first MAX_VAL_TOKENS, in the training's windows of seq_len: the state
    starts afresh at each, as validation reads them) scored (seqviz.evaluate.Scored): P of the word that came,
    its surprisal in bits, whether the likeliest next word was it, the LSTM's state before it (the map), sliced
    by how frequent the word is and how much of its window the model had read."""
    from seqviz.evaluate import Scored, bucket
    p, vocab, model = bundle.params, bundle.vocabs["words"], bundle.model
    ids = stream(vocab, data.docs)
    notes = [f"The first {MAX_VAL_TOKENS:,} of the text's {len(ids) - 1:,} words scored (as the held-out "
             "perplexity is)."] if len(ids) > MAX_VAL_TOKENS + 1 else []
    x, y = windows(ids[:MAX_VAL_TOKENS + 1], p["seq_len"], "The text")
    gold_p, pred, conf, states = [], [], [], []
    step = val_batch(p)
    for i in range(0, len(x), step):
        out, _, _ = model.lstm(model.embedding(x[i:i + step]), training=False)      # (B, T, H)
        probs = tf.nn.softmax(model.projection(out)).numpy()                           # (B, T, V): full softmax
        gold_p.append(np.take_along_axis(probs, y[i:i + step, :, None], -1)[..., 0])
        pred.append(probs.argmax(-1))
        conf.append(probs.max(-1))
        states.append(out.numpy())
    gold_p, pred, conf = (np.concatenate(a).ravel() for a in (gold_p, pred, conf))
    states = np.concatenate(states).reshape(-1, model.lstm.units)
    words, eos = vocab.tokens, vocab.index[EOS]
    inputs, shown, rank, read = [], [], [], []
    for w in range(len(x)):
        since = 0                                           # the window's words after its last <eos>
        for t in range(p["seq_len"]):
            since = 0 if x[w, t] == eos else since + 1
            context = [words[k] for k in x[w, t - since + 1:t + 1]] if since else []
            inputs.append(" ".join(context))
            shown.append(("… " if len(context) > 8 else "") + " ".join(context[-8:]))
            g = int(y[w, t])
            r = g - len(SPECIALS) + 1                       # the word's frequency rank (the vocabulary's order)
            rank.append("<eos>" if g == eos else "<unk>" if g == vocab.unk_id else "the 100 most frequent"
                        if r <= 100 else "the next 900" if r <= 1000 else "rarer")
            read.append(bucket(t + 1, (5, 10, 20), "words read"))
    surprisal = -np.log2(np.maximum(gold_p, 1e-30))
    return Scored("word", inputs, [words[k] for k in y.ravel()], [words[k] for k in pred], conf, shown=shown,
                  shown_name="context", accuracy_name="next-word accuracy",
                  slices={"word": rank, "context": read}, vectors=states, notes=notes,
                  measures={"surprisal (bits)": (surprisal, np.ones(len(surprisal)))},
                  columns={"P(word)": gold_p.round(4).tolist()},
                  extra={"perplexity": float(np.exp(-np.mean(np.log(np.maximum(gold_p, 1e-30)))))},
                  worse={"surprisal (bits)": "high"}, colour="word",
                  order={"word": ["the 100 most frequent", "the next 900", "rarer", "<unk>", "<eos>"]})


# ---------------------------------------------------------------------------------------------
# Inside the LSTM (seqviz.states): the LSTM over the prompt
# ---------------------------------------------------------------------------------------------
def lstm_inputs(bundle, texts: list[str]) -> list:
    """The LSTM as seqviz.states reads it for a batch of prompts: their word embeddings (N, T, E), a step per
    word, each from a fresh state (as a prompt is read)."""
    from seqviz.states import LayerInput
    read = [prompt_ids(bundle.vocabs["words"], t)[:2] for t in texts]                   # (tokens, ids) each
    ids = np.zeros((len(read), max(len(i) for _, i in read)), np.int32)
    for row, (_, i) in enumerate(read):
        ids[row, :len(i)] = i
    emb = bundle.model.embedding.embeddings.numpy()[ids]
    return [LayerInput("lstm", bundle.model.lstm, emb, ids != 0, [t for t, _ in read])]


def unit_effects(bundle, text: str, layer: str) -> dict | None:
    """Each LSTM unit against the likeliest next word after the prompt (seqviz.states.effects): its weight into
    that word's logit, and the drop in the word's probability with the unit's last output zeroed (the next word
    reads the last step only): the full softmax of all H variants at once."""
    from seqviz import states
    h = states.outputs(bundle, text, "lstm")["forward"]
    last = h[np.flatnonzero(~np.isnan(h).any(axis=1))[-1]]                                 # (H,)
    w, b = (v.numpy().astype(np.float64) for v in (bundle.model.projection.kernel, bundle.model.projection.bias))
    variants = np.vstack([last, last * (1 - np.eye(len(last)))])                          # (1 + H, H)
    logits = variants @ w.T + b                                                            # (1 + H, V)
    probs = np.exp(logits - logits.max(axis=1, keepdims=True))
    probs /= probs.sum(axis=1, keepdims=True)
    word = int(probs[0].argmax())
    name = bundle.vocabs["words"].tokens[word]
    return {"target": f"P(next word {name!r})", "base": float(probs[0, word]), "link": f"weight into {name!r}",
            "weights": {"forward": w[word].tolist()},
            "ablation": {"forward": (probs[0, word] - probs[1:, word]).tolist()}}


def lstm_heldout(bundle) -> tuple[list, list]:
    """The held-out documents in prompts of seq_len words (the windows validation reads, each from a fresh
    state); each opens as the page's prompt."""
    n, vocab = bundle.params["seq_len"], bundle.vocabs["words"]
    texts = [" ".join(d[i:i + n]) for d in heldout_data(bundle).docs for i in range(0, len(d), n)
             if any(w in vocab and w not in SPECIALS for w in d[i:i + n])]          # a prompt the page can read
    return texts, texts


# ---------------------------------------------------------------------------------------------
# Replay (seqviz.replay): the next word after one probe prompt, epoch by epoch
# ---------------------------------------------------------------------------------------------
def probe(params: dict, data: Corpus | None) -> dict:
    """The replay's prompt: the page's example on the docstrings, else the first words of the first held-out
    document (a Zipfian corpus' words, or your text's)."""
    if data is None and params["corpus"] == "python":
        return {"text": EXAMPLE}
    _, held = split(corpus_for(params, data), params["seed"])
    return {"text": " ".join(held[0][:6])}


def snapshot(bundle, text: str) -> dict:
    """One epoch of a replay: the 20 likeliest next words after the prompt and a greedy continuation."""
    r = predict(bundle, text, n_words=12, temperature=0.0, n_next=20)
    return {k: r[k] for k in ("prompt", "unknown", "next_word", "continuation", "tokens", "token_probs",
                              "prompt_perplexity")}


def story(rep: dict) -> dict:
    """What changed over a replay: per epoch, the probability of the final likeliest next word and the prompt's
    own perplexity; in words, each new likeliest next word and greedy continuation."""
    snaps = rep["snapshots"]
    best = [max(s["next_word"], key=s["next_word"].get) for s in snaps]
    lines = {f"P({best[-1]} | prompt)": [s["next_word"].get(best[-1], 0.0) for s in snaps]}
    if all(s["prompt_perplexity"] is not None for s in snaps):
        lines["prompt perplexity"] = [s["prompt_perplexity"] for s in snaps]
    events = [f"Epoch {b['epoch']}: the likeliest next word becomes {w!r}." for a, b, w, v in
              zip(snaps, snaps[1:], best[1:], best) if w != v]
    events += [f"Epoch {b['epoch']}: continues {b['continuation']!r}." for a, b in zip(snaps, snaps[1:])
               if a["continuation"] != b["continuation"]][-3:]
    return {"lines": lines, "events": events}


def prompt_perplexity(model: LanguageModel, ids: list[int], unk: int) -> float | None:
    """How well the model predicts the prompt itself: exp of the mean -log P(w_t | w_<t) (full softmax) over the
    prompt's words after the first (the first has no context), unknown words skipped as targets. None when no
    word is left to score."""
    targets = [t for t in range(1, len(ids)) if ids[t] != unk]
    if not targets:
        return None
    # traced once per model (an eager call of the LSTM over the prompt cost ~25 ms of every page rerun)
    logits = graphs.forward(model, np.array([ids], np.int32), tf.TensorSpec((1, None), tf.int32))
    log_probs = tf.nn.log_softmax(logits[0]).numpy()                                        # (T, V)
    return float(np.exp(-np.mean([log_probs[t - 1, ids[t]] for t in targets])))


def diff(a, ra: dict, b, rb: dict) -> dict:
    """Two models on one prompt (seqviz.compare): the perplexity of each on the prompt and on its held-out text,
    for every word in either model's top 10 its probability under each (None where that model's vocabulary lacks
    the word), and `notes`: why the two perplexities may not compare (a prompt of a few words says little; other
    vocabularies or held-out texts measure other things)."""
    def probs(bundle, result):
        vocab = bundle.vocabs["words"]
        zeros = np.zeros((1, bundle.model.lstm.units), np.float32)
        p = next_word_fn(bundle.model)(np.array([vocab.encode(result["prompt"])], np.int32), zeros, zeros)[0].numpy()
        return lambda w: float(p[vocab.index[w]]) if w in vocab.index else None
    pa, pb = probs(a, ra), probs(b, rb)
    words = list(dict.fromkeys([*ra["next_word"], *rb["next_word"]]))
    shared_vocab = len(set(a.vocabs["words"].tokens) & set(b.vocabs["words"].tokens))
    va, vb = len(a.vocabs["words"]), len(b.vocabs["words"])
    held = {"a": a.metrics.get("val_perplexity"), "b": b.metrics.get("val_perplexity")}
    notes = [f"The prompt has {len(ra['prompt'])} words: its perplexity says little; the held-out perplexity "
             f"(over {a.metrics.get('n_val_tokens', 0):,} and {b.metrics.get('n_val_tokens', 0):,} words of text "
             "neither model trained on) is the one to compare."]
    if va != vb or shared_vocab < min(va, vb):
        notes.append(f"The vocabularies differ ({va:,} and {vb:,} words, {shared_vocab:,} shared): every word "
                     "outside a vocabulary is read as <unk>, which is easier to predict than the word itself, so a "
                     "smaller vocabulary lowers a perplexity without the model being better.")
    if a.metrics.get("corpus_fingerprint") != b.metrics.get("corpus_fingerprint"):
        notes.append(f"They were trained on different texts ({a.metrics.get('corpus', '?')} and "
                     f"{b.metrics.get('corpus', '?')}): each held-out perplexity is on its own model's text.")
    return {"perplexity": {"a": ra["prompt_perplexity"], "b": rb["prompt_perplexity"]}, "held_out": held,
            "notes": notes,
            "next_word": {w: {"a": pa(w), "b": pb(w)} for w in words},
            "shared_top": [w for w in ra["next_word"] if w in rb["next_word"]],
            "vocabulary": {"a": len(a.vocabs["words"]), "b": len(b.vocabs["words"]), "shared": shared_vocab}}


def serving(bundle, k: int = 10):
    """The export's signature (seqviz.export): a prompt -> the full-softmax distribution of the next word
    (its k most probable words), tokenised in the graph as `tokenize` does (Keras' text_to_word_sequence:
    lower-case, its punctuation filters to spaces, split on spaces; quotes stripped off words)."""
    from seqviz import export
    vocab, model = bundle.vocabs["words"], bundle.model
    ids_of = export.table(vocab)
    filters = r'[!"#$%&()*+,\-./:;<=>?@\[\\\]^_`{|}~\t\n]'     # text_to_word_sequence's filters, as RE2

    @tf.function(input_signature=[tf.TensorSpec([], tf.string, name="text")])
    def serve(text):
        words = tf.strings.split(tf.strings.regex_replace(tf.strings.lower(text, encoding="utf-8"),
                                                          filters, " "), sep=" ")
        words = tf.strings.regex_replace(words, "^'+|'+$", "")
        tokens = tf.boolean_mask(words, tf.not_equal(words, ""))
        ids = ids_of.lookup(tokens)
        out, _ = model.hidden(ids[None])
        probs, top = tf.math.top_k(tf.nn.softmax(model.projection(out[:, -1]))[0], k)
        return {"tokens": tokens, "unknown": tf.equal(ids, vocab.unk_id),
                "next_words": export.words(vocab, top), "next_probs": probs}

    return export.one_or_many(
        export.Serving(serve, {"text": "a string: the prompt"},
                       {"tokens": "(T,) string: the prompt's words, as seqviz tokenises them",
                        "unknown": "(T,) bool: words not in the vocabulary (read as <unk>)",
                        "next_words": f"({k},) string: the {k} most probable next words, best first",
                        "next_probs": f"({k},) float: their probabilities (full softmax over the vocabulary)"},
                       {"text": repr(EXAMPLE)}, [ids_of]), {"text": [EXAMPLE, "if self"]})


# ---------------------------------------------------------------------------------------------
# The race on the page: what it trains, its runs on this server, each side's trace
# ---------------------------------------------------------------------------------------------
RACE_SIDES = ("sampled", "full")


def race_knobs() -> list[Param]:
    """The race form's knobs: every training knob but the softmax (the race trains both), one epoch by default."""
    return [dataclasses.replace(p, default=1) if p.name == "epochs" else p for p in PARAMS if p.name != "softmax"]


def race_key(text: str) -> str:
    """A race's key from a URL (ten hex digits), or "" for anything else."""
    return text if isinstance(text, str) and len(text) == 10 and all(c in "0123456789abcdef" for c in text) else ""


@dataclass
class RacePlan:
    key: str     # the race's id: the hash of its settings (the same settings are the same race)
    runs: dict   # {side: training.Plan} to submit, one per softmax; empty when the race ran already

    @property
    def ran(self) -> bool:
        """Both of its models are in the store: the race is shown, not run again."""
        return not self.runs


def plan_race(values: dict) -> RacePlan:
    """The race of the form's `values` (`race_knobs`): the same config once per softmax, saved as
    race-<key>-sampled and race-<key>-full, validated before any work starts (bad settings raise SeqvizError)."""
    from seqviz import training
    key = training.plan("lm", {**values, "softmax": "sampled"}, name="race-check", overwrite=True).key
    if all(store.exists("lm", race_name(key, side)) for side in RACE_SIDES):
        return RacePlan(key, {})
    runs = {side: training.plan("lm", {**values, "softmax": side}, name=race_name(key, side), overwrite=True)
            for side in RACE_SIDES}
    check(runs["sampled"].params)
    return RacePlan(key, runs)


def race_jobs(key: str) -> dict:
    """{side: job} of race `key`'s runs still known to this server (a reload or a shared link finds them)."""
    from seqviz import training
    on_server = {j.plan.name: j for j in training.running("lm")}
    return {side: on_server[race_name(key, side)] for side in RACE_SIDES if race_name(key, side) in on_server}


def race_traces(jobs: dict, key: str) -> dict:
    """{side: RaceTrace or None}: live from the side's job, else from its saved model (a finished race after a
    reload; None for a damaged or older entry); a side with neither a job nor a key is left out."""
    out = {}
    for side in RACE_SIDES:
        job = jobs.get(side)
        if job is not None:
            out[side] = live(job.records)
        elif key:
            try:
                metrics = store.read_json("lm", race_name(key, side)) or {}
            except SeqvizError:
                metrics = {}
            out[side] = saved_trace(metrics) if isinstance(metrics, dict) else None
    return out
