"""Attention classifier: a BiLSTM whose attention layer returns its weights in the same forward pass.

Where it comes from: a Keras user wanted to see which words an attention classifier looked at. First
they ran `predict`, then a second, intermediate model up to the BiLSTM, and redid the attention maths
by hand (33 minutes for 10k examples); then they made the layer return its weights, so one `predict`
gives both (20 minutes). This module is the second way, done properly:

    words (B, T) -> Embedding(mask_zero) (B, T, E) -> BiLSTM (B, T, 2H)
                 -> Attention -> [context (B, 2H), weights (B, T)]
                 -> Dense(softmax) on the context -> probs (B, C)

`Model(inputs, [probs, weights])` is compiled with `loss=[crossentropy, None]`: the weights are an
output with no loss, so `predict` returns `[probs, attention]` in one pass.

The attention score is the user's `tanh(x·W + b)`, with W of shape (2H, A), followed by a learned
context vector u (Yang et al. 2016, "Hierarchical Attention Networks"): score_t = tanh(x_t·W + b)·u.
The user's scalar form (A = 1, no u) bounds every score to [-1, 1], so no token can ever get more
than e² ≈ 7.4 times the weight of another: it cannot put most of the mass on one cue word in a
sentence of ten. Softmax runs over time with padded positions excluded (their weight is exactly 0).

Toy data: generated sentences of distractor words with one or two cue words that decide the class
(so we know which tokens the attention SHOULD find) and, in 70% of them, a negated cue of another class
("no pizza") that it should skip. The default model (`models/attention/default`, seed 0,
`python -m seqviz train attention --name default --overwrite`, ~13 s on 2 cores) reaches 100% held-out accuracy and
puts 0.99 of the attention mass on the cue words. Where the attention lands depends on the seed: the
BiLSTM carries the cue along the sentence, so a run can settle on a state next to the cue or at the end
of the sentence instead (seeds 0, 1, 2 gave 0.99, 0.61 and 0.86 of the mass on cues, all with >= 99%
accuracy) -- train a few seeds from the sidebar and compare.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import tensorflow as tf

from seqviz import budget, graphs, nn, replay
from seqviz.contract import Out
from seqviz.errors import SeqvizError
from seqviz.heldout import holdout, keep, kept
from seqviz.run import UNWATCHED, Run, phase
from seqviz.params import SEED, Param
from seqviz.uploads import check_labels, read_csv
from seqviz.vocab import Vocab, tokenize

# ---------------------------------------------------------------------------------------------
# Toy data: cue words decide the class, everything else is noise.
# ---------------------------------------------------------------------------------------------
CUES = {
    "sports": ["goal", "match", "team", "coach", "league", "striker", "referee", "stadium"],
    "weather": ["rain", "storm", "snow", "sunny", "forecast", "thunder", "drizzle", "humid"],
    "food": ["pizza", "pasta", "soup", "cheese", "salad", "bakery", "recipe", "dessert"],
    "tech": ["laptop", "software", "robot", "server", "compiler", "keyboard", "database", "wifi"],
    "music": ["guitar", "piano", "concert", "melody", "drummer", "album", "chorus", "violin"],
}
DISTRACTORS = ("the a my our your their this that it we they she he i you was is were are be "
               "really very quite just still again today yesterday tomorrow later after before "
               "about with from into over under near at on in of for to and but so then "
               "friend neighbour colleague sister brother teacher people everyone somebody "
               "said told thought talked heard saw went came liked loved wanted asked "
               "good great bad new old long short big small nice strange").split()
NEGATIONS = ["no", "not", "without", "never"]
EXAMPLE = "yesterday my sister said no pizza but the concert was really great"

PARAMS = [
    Param("n_train", 3000, 100, 50_000, "generated training sentences (ignored with uploaded data)",
          label="training sentences", generated=True),
    Param("decoys", 0.7, 0.0, 1.0, "fraction of generated sentences with a negated cue of another class",
          generated=True),
    Param("noise", 0.0, 0.0, 0.5, "fraction of generated labels replaced by a random class",
          label="label noise", generated=True),
    Param("embed_dim", 32, 4, 256, "word embedding size"),
    Param("units", 32, 4, 256, "LSTM units per direction"),
    Param("score", "additive", help="the attention score: additive = tanh(x·W + b)·u (a learned context vector u, "
          "W of A columns); seed = the Stack Overflow user's own layer, tanh(x·w + b_t) with one bias per position "
          "(bounded to [-1, 1]; inputs padded to max_len)", choices=("additive", "seed")),
    Param("attn_dim", 32, 1, 256, "attention hidden size A (additive score only)"),
    Param("epochs", 6, 1, 50, "passes over the training data"),
    Param("batch_size", 64, 8, 1024, "sentences per step"),
    Param("learning_rate", 0.005, 1e-5, 0.1, "Adam step size"),
    Param("max_vocab", 5000, 50, 50_000, "most frequent words kept; the rest become <unk>"),
    Param("max_len", 60, 5, 400, "longest sentence used for training (tokens); longer ones are cut"),
    SEED,
]
QUICK = {"n_train": 1000, "epochs": 3}      # the sidebar's Quick preset (the rest as PARAMS)
PREDICT_PARAMS: list[Param] = []
RESULT = {   # what predict returns (seqviz.contract): T = the tokens the model reads
    "tokens": Out(list[str], ("T",), "the input's tokens, as the model reads them (cut at max_len)"),
    "attention": Out(list[float], ("T",), "one weight per token, padding excluded, summing to 1"),
    "unknown": Out(list[bool], ("T",), "tokens outside the vocabulary (read as <unk>)"),
    "label": Out(str, (), "the predicted class"),
    "probs": Out(dict[str, float], (), "class -> probability"),
}
MAX_LABELS = 1000          # an upload's labels: at most this many, and beyond 20 at most one per 5 rows
MAX_CHARS = 2000            # a typed or CLI text longer than this is refused, not silently cut


@dataclass
class TextData:
    texts: list[str]
    labels: list[str]
    cues: list[list[bool]] | None = None  # per token: is it a cue word (known for generated data)


def make_toy(n: int, decoys: float = 0.5, noise: float = 0.0, seed: int = 0) -> TextData:
    """n sentences of 5-12 distractors with 1-2 cue words of the class inserted at random places and,
    in a `decoys` fraction, a negated cue of another class ("... no pizza ...").

    The decoys are what make attention necessary: without them every BiLSTM state carries the class
    (the LSTM copies the cue along the sentence), a near-uniform attention classifies perfectly and
    the weights never learn to point at the cue (we measured ~0.13 of the mass on cues; with decoys 0.6-0.99).
    """
    rng = np.random.default_rng(seed)
    classes = sorted(CUES)
    texts, labels, cues = [], [], []
    for _ in range(n):
        label = classes[rng.integers(len(classes))]
        words = list(rng.choice(DISTRACTORS, size=rng.integers(5, 13)))
        is_cue = [False] * len(words)
        for cue in rng.choice(CUES[label], size=rng.integers(1, 3), replace=False):
            at = int(rng.integers(len(words) + 1))
            words.insert(at, str(cue))
            is_cue.insert(at, True)
        if rng.random() < decoys:  # a negated cue of another class: attention should skip it
            other = classes[(classes.index(label) + 1 + rng.integers(len(classes) - 1)) % len(classes)]
            at = int(rng.integers(len(words) + 1))
            words[at:at] = [str(rng.choice(NEGATIONS)), str(rng.choice(CUES[other]))]
            is_cue[at:at] = [False, False]
        if rng.random() < noise:
            label = classes[rng.integers(len(classes))]
        texts.append(" ".join(words))
        labels.append(label)
        cues.append(is_cue)
    return TextData(texts, labels, cues)


def read_upload(raw: bytes, filename: str = "upload.csv") -> TextData:
    """A user's CSV with columns `text,label` (checked: size, UTF-8, columns, rows, >= 2 labels)."""
    df = read_csv(raw, filename, ["text", "label"])
    df = df[(df.label != "") & df.text.map(lambda t: bool(tokenize(t)))]
    if len(df) < 10:
        raise SeqvizError(f"{filename} has {len(df)} usable rows (a text with words and a label); "
                          "at least 10 are needed.")
    n_labels = df.label.nunique()
    if n_labels < 2:
        raise SeqvizError(f"{filename} has a single label ({df.label.iloc[0]!r}); a classifier needs at least 2.")
    check_labels(n_labels, len(df), filename, "label", MAX_LABELS)
    return TextData(df.text.tolist(), df.label.tolist())


# ---------------------------------------------------------------------------------------------
# The model
# ---------------------------------------------------------------------------------------------
@tf.keras.utils.register_keras_serializable(package="seqviz")
class Attention(tf.keras.layers.Layer):
    """Additive self-attention over time returning [context (B, D), weights (B, T)].

    score_t = tanh(x_t·W + b)·u; weights = softmax over the unmasked steps; context = Σ_t w_t x_t.
    """

    def __init__(self, units: int = 32, **kwargs):
        super().__init__(**kwargs)
        self.units = units
        self.supports_masking = True

    def build(self, input_shape):
        d = int(input_shape[-1])
        self.W = self.add_weight(name="W", shape=(d, self.units), initializer="glorot_uniform")
        self.b = self.add_weight(name="b", shape=(self.units,), initializer="zeros")
        # u ~ N(0, 2): scores start spread out (std ~3) rather than near 0, so the attention commits
        # to the cue words early, before the BiLSTM learns to smear the class over every step
        # (with glorot-small u the cue mass stalls near 0.3).
        self.u = self.add_weight(name="u", shape=(self.units,),
                                 initializer=tf.keras.initializers.RandomNormal(stddev=2.0))
        super().build(input_shape)

    def call(self, x, mask=None):
        scores = tf.tensordot(tf.tanh(tf.tensordot(x, self.W, 1) + self.b), self.u, 1)  # (B, T)
        if mask is not None:  # padded steps get -inf, i.e. weight exactly 0 after the softmax
            scores = tf.where(mask, scores, tf.fill(tf.shape(scores), -np.inf))
        weights = tf.nn.softmax(scores, axis=-1)
        context = tf.reduce_sum(x * weights[..., None], axis=1)
        return context, weights

    def compute_mask(self, inputs, mask=None):
        return [None, None]  # neither output has a time axis to mask downstream

    def get_config(self):
        return {**super().get_config(), "units": self.units}


@tf.keras.utils.register_keras_serializable(package="seqviz")
class SeedAttention(tf.keras.layers.Layer):
    """The Stack Overflow user's attention layer (the "seed" score), as they wrote it for Keras:

        eij = tanh(x·W + b)       W (D,): one score per step; b (step_dim,): one bias per POSITION
        a   = exp(eij) × mask;    a /= Σ_t a + ε  (Keras' epsilon)
        context = Σ_t x_t a_t

    so inputs must be padded to `step_dim` (the training max_len). The score is bounded to [-1, 1], so no word
    can get more than e² ≈ 7.4 times the weight of another: the ratio the page's comparison shows. One change:
    with `return_attention` the weights come out as (B, T), not (B, T, 1), like the additive layer's."""

    def __init__(self, step_dim: int, W_regularizer=None, b_regularizer=None, W_constraint=None, b_constraint=None,
                 bias: bool = True, return_attention: bool = False, **kwargs):
        super().__init__(**kwargs)
        self.supports_masking = True
        self.step_dim, self.bias, self.return_attention = step_dim, bias, return_attention
        self.W_regularizer = tf.keras.regularizers.get(W_regularizer)
        self.b_regularizer = tf.keras.regularizers.get(b_regularizer)
        self.W_constraint = tf.keras.constraints.get(W_constraint)
        self.b_constraint = tf.keras.constraints.get(b_constraint)

    def build(self, input_shape):
        self.features_dim = int(input_shape[-1])
        self.W = self.add_weight(name="W", shape=(self.features_dim,), initializer="glorot_uniform",
                                 regularizer=self.W_regularizer, constraint=self.W_constraint)
        if self.bias:
            self.b = self.add_weight(name="b", shape=(self.step_dim,), initializer="zeros",
                                     regularizer=self.b_regularizer, constraint=self.b_constraint)
        super().build(input_shape)

    def call(self, x, mask=None):
        eij = tf.reshape(tf.matmul(tf.reshape(x, (-1, self.features_dim)), tf.reshape(self.W, (-1, 1))),
                         (-1, self.step_dim))                                          # (B, T)
        if self.bias:
            eij += self.b
        a = tf.exp(tf.tanh(eij))
        if mask is not None:
            a *= tf.cast(mask, a.dtype)
        a /= tf.reduce_sum(a, axis=1, keepdims=True) + tf.keras.backend.epsilon()
        context = tf.reduce_sum(x * a[..., None], axis=1)                             # (B, D)
        return [context, a] if self.return_attention else context

    def compute_mask(self, inputs, mask=None):
        return [None, None] if self.return_attention else None

    def get_config(self):
        s = tf.keras.utils.serialize_keras_object
        return {**super().get_config(), "step_dim": self.step_dim, "bias": self.bias,
                "return_attention": self.return_attention,
                "W_regularizer": s(self.W_regularizer), "b_regularizer": s(self.b_regularizer),
                "W_constraint": s(self.W_constraint), "b_constraint": s(self.b_constraint)}


def build(params: dict, vocabs: dict[str, Vocab]) -> tf.keras.Model:
    seed = params["score"] == "seed"
    words = tf.keras.Input(shape=(params["max_len"] if seed else None,), dtype="int32", name="words")
    x = tf.keras.layers.Embedding(len(vocabs["words"]), params["embed_dim"], mask_zero=True,
                                  name="embedding")(words)
    x = nn.bilstm(params["units"], "bilstm", return_sequences=True)(x)
    if seed:   # the user's layer: inputs padded to max_len, one bias per position
        context, weights = SeedAttention(params["max_len"], return_attention=True, name="attention")(x)
    else:
        context, weights = Attention(params["attn_dim"], name="attention")(x)
    probs = tf.keras.layers.Dense(len(vocabs["labels"]), activation="softmax", name="probs")(context)
    return tf.keras.Model(words, [probs, weights], name="attention_classifier")


KERAS_CODE = (Attention, SeedAttention, build)   # what the page's "Keras code" view shows, read from this file


def memory(params: dict, data: TextData | None = None) -> list[budget.Term]:
    """What a training run holds (seqviz.budget): the weights, one batch through the BiLSTM (both
    directions), the attention and the output layer, and the encoded sentences."""
    texts = data.texts if data is not None else make_toy(200, seed=params["seed"]).texts   # generated: alike
    tokens = [tokenize(t) for t in texts]
    v = min(params["max_vocab"], len({w for ws in tokens for w in ws})) + 2              # + <pad>, <unk>
    n_labels = len(set(data.labels)) if data is not None else len(CUES)
    t = min(params["max_len"], max(map(len, tokens)))
    n = len(texts) if data is not None else int(params["n_train"] / 0.85)
    e, h, a, b = params["embed_dim"], params["units"], params["attn_dim"], params["batch_size"]
    knobs = {"batch_size": b, "units": h}
    return [budget.weights(v * e, {"max_vocab": v, "embed_dim": e}, "the word embeddings"),
            budget.weights(2 * budget.lstm_weights(e, h) + 2 * h * a + 2 * a, {"units": h, "embed_dim": e},
                           "the BiLSTM and attention weights"),
            budget.weights((2 * h + 1) * n_labels, {"units": h, "labels": n_labels}, "the output layer"),
            budget.Term("one batch through the BiLSTM", 2 * budget.lstm_activations(b, t, h, e), knobs),
            budget.Term("the output probabilities of one batch", 3 * b * n_labels * budget.FLOAT,
                        {"batch_size": b, "labels": n_labels}),
            budget.Term("the encoded sentences", 3 * n * t * 4, {"sentences": n, "max_len": t}, "data")]


def encode(vocab: Vocab, texts: list[str], max_len: int, pad_to: int | None = None) -> np.ndarray:
    """(N, T) int32 ids, right-padded with 0 to the longest sentence (at most max_len), or to `pad_to`."""
    seqs = [vocab.encode(tokenize(t))[:max_len] for t in texts]
    out = np.zeros((len(seqs), pad_to or max(1, max(map(len, seqs)))), dtype=np.int32)
    for i, s in enumerate(seqs):
        out[i, :len(s)] = s
    return out


def fit(params: dict, data: TextData | None, run: Run = UNWATCHED):
    if data is None:  # generated; the validation sentences come from the same generator
        data = make_toy(int(params["n_train"] / 0.85), params["decoys"], params["noise"], params["seed"])
    train_idx, val_idx = holdout(len(data.texts), params["seed"])
    phase("building vocabularies")
    vocab = Vocab.build((tokenize(data.texts[i]) for i in train_idx), max_size=params["max_vocab"])
    labels = Vocab(sorted(set(data.labels)), specials=())
    vocabs = {"words": vocab, "labels": labels}
    x = encode(vocab, data.texts, params["max_len"], pad_to=_width(params))
    y = np.array(labels.encode(data.labels), dtype=np.int32)

    phase("building the model")
    model = build(params, vocabs)
    model.compile(tf.keras.optimizers.Adam(params["learning_rate"]),
                  loss=["sparse_categorical_crossentropy", None], metrics=[["accuracy"], []])
    model.fit(x[train_idx], y[train_idx], validation_data=(x[val_idx], y[val_idx]),
                     epochs=params["epochs"], batch_size=params["batch_size"],
                     callbacks=run.callbacks(model, vocabs), verbose=0)
    # eager, no predict tracing; in chunks: the whole held-out set at once would hold (N, T, 2H) activations
    chunks = [model(x[val_idx[i:i + 256]], training=False) for i in range(0, len(val_idx), 256)]
    probs, att = (np.concatenate([c[k].numpy() for c in chunks]) for k in (0, 1))
    metrics = {"val_accuracy": float(np.mean(probs.argmax(-1) == y[val_idx])),
               "n_train": len(train_idx), "n_val": len(val_idx), "vocab_size": len(vocab)}
    if data.cues is not None:
        metrics["val_cue_attention"] = cue_mass(att, [data.cues[i] for i in val_idx], params["max_len"])
    else:              # your file: its held-out rows kept with the model (bounded), for the held-out view
        metrics["heldout"] = keep({"text": [data.texts[i] for i in val_idx],
                                   "label": [data.labels[i] for i in val_idx]})
    return model, vocabs, metrics


def _width(params: dict) -> int | None:
    """The seed score's layer has one bias per position: its inputs are padded to max_len. None: any length."""
    return params["max_len"] if params["score"] == "seed" else None


def cue_mass(attention: np.ndarray, cues: list[list[bool]], max_len: int) -> float:
    """Mean attention mass on the cue tokens: how well the model finds the words that decide the class."""
    mass = [attention[i, :len(c[:max_len])][np.array(c[:max_len])].sum() for i, c in enumerate(cues)]
    return float(np.mean(mass))


# ---------------------------------------------------------------------------------------------
# Inference
# ---------------------------------------------------------------------------------------------
def predict(bundle, text: str) -> dict:
    """One forward pass: label, class probabilities and one attention weight per token."""
    (got,) = predict_batch(bundle, [text])
    if isinstance(got, SeqvizError):
        raise got
    return got


def _read(bundle, text: str) -> list[str]:
    """The tokens the model reads of `text`, or a SeqvizError saying why it cannot."""
    vocab = bundle.vocabs["words"]
    if not isinstance(text, str) or not text.strip():
        raise SeqvizError("The text is empty; type a sentence to classify.")
    if len(text) > MAX_CHARS:
        raise SeqvizError(f"The text has {len(text):,} characters; the limit is {MAX_CHARS:,}. "
                          "Shorten it to a sentence or a paragraph.")
    tokens = tokenize(text)
    if not tokens:
        raise SeqvizError("The text has no words (only punctuation, symbols or spaces); type a sentence.")
    width = _width(bundle.params)
    if width is not None and len(tokens) > width:
        raise SeqvizError(f"The text has {len(tokens)} words; this model (the seed score: one bias per position) "
                          f"reads at most {width}. Shorten it, or train a model with a larger max_len.")
    if not any(t in vocab for t in tokens):
        sample = ", ".join(vocab.tokens[2:8])
        raise SeqvizError(f"None of the words are in the model's vocabulary of {len(vocab):,} words "
                          f"(it knows e.g. {sample}); type text like the training data.")
    return tokens


def predict_batch(bundle, texts: list[str]) -> list:
    """`predict` of many sentences (predict --data), all of a batch in one traced call: per sentence its result,
    or the SeqvizError that refused it. A batch pads to its longest sentence (the seed score: to max_len), the
    mask keeps the padding out: each row is what `predict` gives it alone (to float rounding)."""
    vocab, labels, width = bundle.vocabs["words"], bundle.vocabs["labels"], _width(bundle.params)
    from seqviz.batch import each
    out = each(_read)(bundle, texts)                   # each text read, or the SeqvizError that refused it
    read = [i for i, r in enumerate(out) if not isinstance(r, SeqvizError)]
    if not read:
        return out
    # one trace for any batch and sentence length (else each new length retraces: ~1.5 s)
    ids = np.zeros((len(read), width or max(len(out[i]) for i in read)), np.int32)
    for row, i in enumerate(read):
        ids[row, :len(out[i])] = vocab.encode(out[i])
    probs, att = (a.numpy() for a in graphs.forward(bundle.model, ids, tf.TensorSpec((None, width), tf.int32)))
    for row, i in enumerate(read):
        tokens = out[i]
        out[i] = {"tokens": tokens, "attention": att[row, :len(tokens)].tolist(),
                  "unknown": [t not in vocab for t in tokens], "label": labels.tokens[int(probs[row].argmax())],
                  "probs": {lab: float(p) for lab, p in zip(labels.tokens, probs[row])}}
    return out


# ---------------------------------------------------------------------------------------------
# Replay (seqviz.replay): the prediction on one probe sentence, epoch by epoch
# ---------------------------------------------------------------------------------------------
CUE_WORDS = frozenset(w for words in CUES.values() for w in words)


def probe(params: dict, data: TextData | None) -> dict:
    """The replay's input: the page's example, or your first held-out text (its first max_len words)."""
    text = EXAMPLE if data is None else data.texts[holdout(len(data.texts), params["seed"])[1][0]]
    return {"text": " ".join(tokenize(text)[:params["max_len"]])[:MAX_CHARS]}


def snapshot(bundle, text: str) -> dict:
    """One epoch of a replay: the whole prediction (tokens, attention weights, label, class probabilities)."""
    return predict(bundle, text)


def story(rep: dict) -> dict:
    """What changed over a replay: per epoch, the final label's probability, the largest attention weight and
    (sentences with cue words) the attention mass on them; in words, when the label changed and settled."""
    snaps = rep["snapshots"]
    final = snaps[-1]["label"]
    lines = {f"P({final})": [s["probs"].get(final) for s in snaps],
             "largest attention weight": [max(s["attention"]) for s in snaps]}
    if any(t in CUE_WORDS for t in snaps[0]["tokens"]):
        lines["attention mass on cue words"] = [sum(a for t, a in zip(s["tokens"], s["attention"]) if t in CUE_WORDS)
                                                for s in snaps]
    events = [f"Epoch {b['epoch']}: the label turns from {a['label']} to {b['label']}."
              for a, b in zip(snaps, snaps[1:]) if a["label"] != b["label"]]
    since = replay.first_stable([s["label"] for s in snaps])
    if since is not None:
        events.append(f"From epoch {snaps[since]['epoch']} on the label is {final}.")
    top = [s["tokens"][int(np.argmax(s["attention"]))] for s in snaps]
    since = replay.first_stable(top)
    if since is not None and since > 0:
        events.append(f"From epoch {snaps[since]['epoch']} on the attention peaks on {top[-1]!r}.")
    return {"lines": lines, "events": events}


def serving(bundle):
    """The export's signature (seqviz.export): one text -> what `predict` gives, tokenised in the graph."""
    from seqviz import export
    vocab, labels = bundle.vocabs["words"], bundle.vocabs["labels"]
    ids_of = export.table(vocab)

    width = _width(bundle.params)

    @tf.function(input_signature=[tf.TensorSpec(None, tf.string, name="text")])
    def serve(text):
        texts = tf.reshape(text, [-1])                                      # one sentence or a batch: (N,)
        tokens = export.tokenize(texts)                                     # ragged (N, T_i)
        if width is not None:   # the seed score: the first max_len words, padded to max_len
            tokens = tokens[:, :width]
        ids = export.pad_ragged(tf.ragged.map_flat_values(ids_of.lookup, tokens), width or 1)   # (N, T), 0-padded
        if width is not None:
            ids = ids[:, :width]
        probs, att = bundle.model(ids, training=False)
        length = tf.cast(tokens.row_lengths(), tf.int32)                    # (N,)
        steps = tf.reduce_max(tf.concat([length, [0]], 0))
        real = tf.sequence_mask(length, steps)
        out = {"tokens": tokens.to_tensor(""), "length": length,
               "unknown": tf.equal(ids[:, :steps], vocab.unk_id) & real,
               "attention": tf.where(real, att[:, :steps], 0.0), "probs": probs, "labels": tf.constant(labels.tokens),
               "label": export.words(labels, tf.argmax(probs, axis=1, output_type=tf.int32))}
        # one sentence (a scalar): its own outputs, without the batch axis, as before batches were taken
        return tf.cond(tf.equal(tf.rank(text), 0),
                       lambda: {k: v if k == "labels" else v[0][:length[0]] if k in ("tokens", "unknown", "attention")
                                else v[0] for k, v in out.items()},
                       lambda: out)

    return export.Serving(serve, {"text": "a string (one sentence), or a batch of N strings"},
                          {"tokens": "(T,) string: its words, as seqviz tokenises them; a batch: (N, T), padded "
                                     "with ''",
                           "length": "its number of words; a batch: (N,), each sentence's",
                           "unknown": "(T,) bool: the words the model does not know (read as <unk>); a batch: (N, T)",
                           "attention": "(T,) float: one attention weight per word, summing to 1; a batch: (N, T), "
                                        "0 past each sentence's length",
                           "probs": "(C,) float: the class probabilities, in the order of `labels`; a batch: (N, C)",
                           "labels": "(C,) string: the class names",
                           "label": "string: the most probable class; a batch: (N,)"},
                          {"text": repr(EXAMPLE)}, [ids_of], batch={"text": repr([EXAMPLE, "the team won the match"])})


def diff(a, ra: dict, b, rb: dict) -> dict:
    """Two models on one text (seqviz.compare): the attention per word, a minus b (both tokenise alike, so the
    words line up), which model puts more mass on each word, the mass that moved (half the L1 distance: 0 = the
    same weights, 1 = no overlap) and the shared labels' probabilities, a minus b."""
    from seqviz.compare import shared
    att = [x - y for x, y in zip(ra["attention"], rb["attention"])]
    labels = shared(list(ra["probs"]), list(rb["probs"]))
    return {"same_label": ra["label"] == rb["label"], "attention_a_minus_b": att,
            "more_mass": ["a" if d > 1e-3 else "b" if d < -1e-3 else "same" for d in att],
            "mass_moved": 0.5 * sum(abs(d) for d in att), "labels": labels,
            "probs_a_minus_b": {k: ra["probs"][k] - rb["probs"][k] for k in labels["shared"]}}


# ---------------------------------------------------------------------------------------------
# Explanations (seqviz.explain): the score of a class from the embeddings, and the model fed given weights
# ---------------------------------------------------------------------------------------------
@graphs.once_per_model
def _scorer(model):
    """embeddings (N, T, E), mask (N, T), class (N,) -> P(class) (N,): the model's own layers after the embedding."""
    bilstm, attend, dense = (model.get_layer(n) for n in ("bilstm", "attention", "probs"))

    def score(emb, mask, cls):
        context, _ = attend(bilstm(emb, mask=mask, training=False), mask=mask)
        return tf.gather(dense(context), cls, batch_dims=1)
    return tf.function(score, reduce_retracing=True, autograph=False)


@graphs.once_per_model
def _given_weights(model):
    """ids (N, T), attention weights (N, T) -> probs (N, C): the same BiLSTM states, the context made with the
    weights given instead of the layer's (the faithfulness tests feed shuffled and uniform ones)."""
    embed, bilstm, dense = (model.get_layer(n) for n in ("embedding", "bilstm", "probs"))

    def probs(ids, weights):
        states = bilstm(embed(ids), mask=tf.not_equal(ids, 0), training=False)     # (N, T, 2H)
        return dense(tf.reduce_sum(states * weights[..., None], axis=1))
    return tf.function(probs, reduce_retracing=True, autograph=False)


def explainable(bundle, texts, targets=None):
    """Inputs as seqviz.explain's methods see them: their tokens' embeddings and P(target) from them (the
    predicted class unless `targets` names others), with the model's attention beside them. `texts`: one text or
    a list (checked like `predict`'s; a batch padded to its longest)."""
    from seqviz import explain
    one = isinstance(texts, str)
    texts = [texts] if one else list(texts)
    targets = [targets] if one or targets is None or isinstance(targets, str) else list(targets)
    rs = [predict(bundle, t) for t in texts]
    labels, vocab = bundle.vocabs["labels"].tokens, bundle.vocabs["words"]
    targets = [t or r["label"] for t, r in zip(targets * (len(rs) if len(targets) == 1 else 1), rs)]
    if any(t not in labels for t in targets):
        bad = next(t for t in targets if t not in labels)
        raise SeqvizError(f"{bad!r} is not one of the model's classes ({', '.join(labels)}).")
    ids = encode(vocab, [" ".join(r["tokens"]) for r in rs], bundle.params["max_len"], pad_to=_width(bundle.params))
    table = bundle.model.get_layer("embedding").embeddings.numpy()
    att = np.zeros(ids.shape, np.float32)
    for i, r in enumerate(rs):
        att[i, :len(r["attention"])] = r["attention"]
    return explain.Subject([r["tokens"] for r in rs], table[ids], table[vocab.unk_id], _scorer(bundle.model),
                           (ids != 0, np.array([labels.index(t) for t in targets], np.int32)),
                           [f"P({t})" for t in targets], {"attention": att})


def cue_truth(bundle, tokens: list[str], label: str) -> list[bool] | None:
    """Which tokens are the generated data's cue words of `label` (what truly decides it); None for a model of
    your own data, whose deciding words are not known."""
    if bundle.data.get("source") == "upload" or label not in CUES:
        return None
    return [t in CUES[label] for t in tokens]


def explain_heldout(bundle, n: int = 300, m: int = 16) -> dict:
    """The explanations over the model's first `n` held-out generated sentences (each method in one batched call):
    per method the median of its τ with attention, the share where its top word is attention's and its
    plausibility (mean share on the cue words; attention's too), and the faithfulness tests
    (seqviz.explain.faithfulness). Generated-data models only."""
    from seqviz import explain
    if bundle.data.get("source") == "upload":
        raise SeqvizError("The held-out explanations need the generated data the model was trained on; this model "
                          "was trained on your file, whose held-out rows it does not keep.")
    p = bundle.params
    data = make_toy(int(p["n_train"] / 0.85), p["decoys"], p["noise"], p["seed"])
    val = holdout(len(data.texts), p["seed"])[1][:n]
    sub = explainable(bundle, [data.texts[i] for i in val], [data.labels[i] for i in val])
    imp = explain.importances(sub, m=m)
    cut = [len(u) for u in sub.units]
    truth = [data.cues[i][:c] for i, c in zip(val, cut)]
    att = [sub.extras["attention"][j, :c] for j, c in enumerate(cut)]
    methods = {k: {"tau": float(np.median([explain.kendall_tau(v[j, :c], att[j]) for j, c in enumerate(cut)])),
                   "top1": float(np.mean([explain.top_k_overlap(v[j, :c], att[j]) for j, c in enumerate(cut)])),
                   "plausibility": float(np.nanmean([explain.plausibility(v[j, :c], truth[j])
                                                     for j, c in enumerate(cut)]))}
               for k, v in imp.items()}
    methods["attention"] = {"plausibility": float(np.mean([explain.plausibility(a, t) for a, t in zip(att, truth)]))}
    ids = encode(bundle.vocabs["words"], [data.texts[i] for i in val], p["max_len"], pad_to=_width(p))
    given = _given_weights(bundle.model)
    y = np.array(bundle.vocabs["labels"].encode([data.labels[i] for i in val]))
    faith = explain.faithfulness(lambda w: given(np.tile(ids, (len(w) // len(ids), 1)), w).numpy(),
                                 sub.extras["attention"], np.array(cut), y, seed=p["seed"])
    return {"n": len(val), "ig_steps": m, "methods": methods, "faithfulness": faith}


# ---------------------------------------------------------------------------------------------
# The held-out set (seqviz.evaluate): every sentence scored, sliced, and its context vector for the map
# ---------------------------------------------------------------------------------------------
NEGATING = {*NEGATIONS, "not", "never", "nothing", "none", "nor", "without"}    # the slice "with a negation"


def heldout_data(bundle) -> TextData:
    """The model's held-out sentences: regenerated from its seed, or the rows of your file it kept."""
    p = bundle.params
    if bundle.data.get("source") == "upload":
        h = kept(bundle, "text", "rows", "score it on a labelled file")
        return TextData([str(t) for t in h["text"]], [str(label) for label in h["label"]])
    data = make_toy(int(p["n_train"] / 0.85), p["decoys"], p["noise"], p["seed"])
    val = holdout(len(data.texts), p["seed"])[1]
    return TextData([data.texts[i] for i in val], [data.labels[i] for i in val], [data.cues[i] for i in val])


@graphs.once_per_model
def _with_context(model: tf.keras.Model) -> tf.keras.Model:
    """The classifier with its context vector (B, 2H), the attention's weighted sum of the BiLSTM states, as a
    third output: the sentence as the classifier reads it."""
    return tf.keras.Model(model.input, [*model.outputs, model.get_layer("probs").input])


def score_examples(bundle, data: TextData, batch: int = 256):
    """Every sentence of `data` scored (seqviz.evaluate.Scored), `batch` at a time: its label, confidence, context
    vector, and the slices: length, a negation present, the share of words the model does not know. Rows whose
    label the model has never seen are left out, in one note."""
    from seqviz.evaluate import Scored, bucket
    p, vocab, labels = bundle.params, bundle.vocabs["words"], bundle.vocabs["labels"]
    unseen = sorted(set(data.labels) - set(labels.tokens))
    keep_i = [i for i, label in enumerate(data.labels) if label in labels.index]
    notes = [f"{len(data.labels) - len(keep_i):,} row(s) have labels the model has never seen "
             f"({', '.join(map(repr, unseen[:8]))}{', ...' if len(unseen) > 8 else ''}): left out, the rest scored."
             ] if unseen else []
    if not keep_i:
        raise SeqvizError("None of the rows has a label the model knows "
                          f"({', '.join(labels.tokens)}); the file's labels: {', '.join(unseen[:8])}.")
    texts = [data.texts[i] for i in keep_i]
    model = _with_context(bundle.model)
    width = _width(p)
    probs, contexts = [], []
    for i in range(0, len(texts), batch):
        x = encode(vocab, texts[i:i + batch], p["max_len"], pad_to=width or p["max_len"])
        pr, _, ctx = graphs.forward(model, x, tf.TensorSpec((None, x.shape[1]), tf.int32))
        probs.append(pr.numpy())
        contexts.append(ctx.numpy())
    probs = np.concatenate(probs)
    tokens = [tokenize(t)[:p["max_len"]] for t in texts]
    unknown = [sum(w not in vocab for w in ws) / max(1, len(ws)) for ws in tokens]
    return Scored("sentence", texts, [data.labels[i] for i in keep_i], [labels.tokens[k] for k in probs.argmax(-1)],
                  probs.max(-1), list(labels.tokens),
                  slices={"length": [bucket(len(ws), (5, 10, 20, 40), "words") for ws in tokens],
                          "negation": ["with a negation" if any(w in NEGATING or w.endswith("n't") for w in ws)
                                       else "without" for ws in tokens],
                          "unknown words": ["none" if u == 0 else "up to 20%" if u <= 0.2 else "over 20%"
                                            for u in unknown]},
                  vectors=np.concatenate(contexts), notes=notes)


# ---------------------------------------------------------------------------------------------
# Inside the LSTM (seqviz.states): the BiLSTM's inputs for one sentence
# ---------------------------------------------------------------------------------------------
def lstm_inputs(bundle, texts: list[str]) -> list:
    """The BiLSTM as seqviz.states reads it for a batch of sentences: their word embeddings (N, T, E), a step per
    token the model reads (cut at max_len; a single sentence is checked as `predict` checks it)."""
    from seqviz.states import LayerInput
    if len(texts) == 1:
        predict(bundle, texts[0])                                  # the page's one input: refused as the page is
    vocab, max_len = bundle.vocabs["words"], bundle.params["max_len"]
    ids = encode(vocab, texts, max_len)                                              # (N, T), 0-padded
    emb = bundle.model.get_layer("embedding").embeddings.numpy()[ids]
    return [LayerInput("bilstm", bundle.model.get_layer("bilstm"), emb, ids != 0,
                       [tokenize(t)[:max_len] for t in texts])]


def unit_effects(bundle, text: str, layer: str) -> dict | None:
    """Each BiLSTM unit against the predicted class (seqviz.states.effects): its weight into that class in the
    classifier (the context vector is the attention's weighted sum of the BiLSTM states, unit by unit), and the
    drop in the class' probability with the unit's output zeroed at every step: 1 + 2H variants of the states
    through the model's own attention and output layers in one call."""
    from seqviz import states
    if layer != "bilstm":
        return None
    r = predict(bundle, text)
    label = r["label"]
    c = bundle.vocabs["labels"].index[label]
    h = states.outputs(bundle, text, "bilstm")
    seq = np.concatenate([h["forward"], h["backward"]], axis=1)                        # (T, 2H): Keras' output
    t_len, units = seq.shape
    x = np.zeros((1 + units, _width(bundle.params) or t_len, units), np.float32)
    x[:, :t_len] = seq
    x[np.arange(1, units + 1), :, np.arange(units)] = 0.0                 # variant 1 + k: unit k silenced
    mask = np.zeros(x.shape[:2], bool)
    mask[:, :t_len] = True
    context, _ = bundle.model.get_layer("attention")(x, mask=tf.constant(mask))
    probs = bundle.model.get_layer("probs")(context).numpy()                          # (1 + 2H, C)
    kernel = bundle.model.get_layer("probs").kernel.numpy()[:, c]
    return {"target": f"P({label})", "base": float(probs[0, c]), "link": f"weight into {label}",
            "weights": states.per_direction(kernel, h), "ablation": states.per_direction(probs[0, c] - probs[1:, c], h)}


def two_pass(model: tf.keras.Model, batch_size: int = 256):
    """The user's first way, kept for the benchmark: predict the labels, then run an intermediate model
    up to the BiLSTM and redo the attention maths in numpy from the layer's weights.
    Returns a function x -> (probs, weights); the intermediate model is built once, as a user would."""
    upto_bilstm = tf.keras.Model(model.input, model.get_layer("bilstm").output)
    layer = model.get_layer("attention")

    def run(x: np.ndarray):
        probs = model.predict(x, batch_size=batch_size, verbose=0)[0]
        states = upto_bilstm.predict(x, batch_size=batch_size, verbose=0)            # (N, T, 2H)
        W, b, u = (v.numpy() for v in (layer.W, layer.b, layer.u))
        scores = np.where(x != 0, np.tanh(states @ W + b) @ u, -np.inf)              # (N, T)
        weights = np.exp(scores - scores.max(axis=1, keepdims=True))
        return probs, weights / weights.sum(axis=1, keepdims=True)

    return run
