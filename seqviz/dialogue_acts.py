"""Dialogue acts: a hierarchical BiLSTM-CRF tagging every utterance of a dialogue (HBLSTM-CRF).

Where it comes from: Kumar et al. 2017, "Dialogue Act Sequence Labeling using Hierarchical encoder
with CRF" (arXiv 1709.04250), 79.2% on the Switchboard DA corpus. A Keras user's attempt with
keras-contrib's CRF died with "No gradients provided for any variable", and padding 51 conversations
to 3391 utterances x 431 words ran out of memory. Here the CRF is tf2crf's (trained through its
`ModelWithCRFLoss`), and nothing is ever padded to the corpus' longest conversation x utterance:

    words (B, U, W) --TimeDistributed(utterance encoder)--> (B, U, 2h)
        utterance encoder: Embedding(mask_zero) -> BiLSTM -> masked mean over the real words
    (B, U, 2h) --BiLSTM over utterances (masked: padded utterances are skipped)--> (B, U, 2c)
               --Dense(K)--> emissions (B, U, K) --tf2crf CRF--> Viterbi tags (B, U)

Training batches are windows of at most `window` consecutive utterances, bucketed by size so each
batch is padded only to its own longest window and utterance; inference decodes whole dialogues.
The page and the CLI decode with seqviz.crf (numpy) over the model's emissions and its transition
matrix, which the tests check against tfa.text.crf_decode / crf_log_likelihood (what tf2crf uses).

Toy corpus: generated two-speaker dialogues whose tags follow a Markov chain, with utterances that are
ambiguous alone: "yeah", "okay", "right" are a yes-answer after a yes/no question and a backchannel
after a statement. The default model (seed 0, `python -m seqviz train dialogue-acts --name default --overwrite`,
~22 s on 2 cores) tags held-out generated dialogues with 100% accuracy, against 85% for the
per-utterance argmax of its emissions; on the ambiguous replies the CRF path gets 100% and the argmax
74% (`val_ambiguous_greedy_accuracy` in its metrics.json). The gap comes from starting the CRF's
transitions at the tags' bigram statistics (see `bigram_log_probs`) and depends on the seed (0 to 37
points on ambiguous replies over seeds 0-2).
"""
from __future__ import annotations

import re
import warnings
from dataclasses import dataclass

import numpy as np
import tensorflow as tf

with warnings.catch_warnings():  # tensorflow-addons (imported by tf2crf) announces its end of life
    warnings.simplefilter("ignore", UserWarning)
    from tf2crf import CRF, ModelWithCRFLoss

from seqviz import budget, crf, graphs, nn, replay
from seqviz.contract import Out
from seqviz.errors import SeqvizError
from seqviz.heldout import holdout, keep, kept
from seqviz.run import UNWATCHED, Run, phase
from seqviz.params import SEED, Param
from seqviz.uploads import check_labels, decode_text, read_csv
from seqviz.vocab import Vocab, tokenize

# ---------------------------------------------------------------------------------------------
# Toy corpus: a Markov chain over tags, templates per tag, and deliberately ambiguous short replies.
# ---------------------------------------------------------------------------------------------
AMBIGUOUS = ["yeah", "okay", "right"]
SLOTS = {
    "obj": ["jazz", "football", "the new phone", "spicy food", "the weather", "that movie", "gardening"],
    "place": ["library", "beach", "market", "office", "gym", "station"],
    "event": ["game", "concert", "meeting", "party", "trip", "wedding"],
    "city": ["paris", "boston", "tokyo", "denver", "rome"],
    "rel": ["sister", "brother", "cousin", "neighbour", "friend"],
    "adj": ["great", "boring", "cold", "busy", "fun", "long"],
    "day": ["monday", "friday", "sunday", "the weekend"],
}
TEMPLATES = {
    "greeting": ["hi", "hello", "hey there", "good morning", "hi how are you", "hello nice to meet you"],
    "yn_question": ["do you like {obj}", "is it {adj} today", "did you see the {event}",
                    "are you going to the {place}", "have you ever been to {city}", "was the {event} {adj}"],
    "wh_question": ["what do you think about {obj}", "where does your {rel} live", "how was the {event}",
                    "why did you go to the {place}", "when is the {event}", "who went to {city}"],
    "yes_answer": ["yes", "yes i do", "sure", "of course", "yes definitely", "absolutely"],
    "no_answer": ["no", "nope", "not really", "no i don't", "no never", "i don't think so"],
    "statement": ["i went to the {place} on {day}", "my {rel} lives in {city}", "the {event} was {adj}",
                  "we watched {obj} on {day}", "i think {obj} is {adj}", "my {rel} loves {obj}"],
    "backchannel": ["uh-huh", "mm-hmm", "i see", "oh really"],
    "thanks": ["thanks", "thank you", "thanks a lot", "thank you so much"],
    "goodbye": ["bye", "goodbye", "see you later", "take care"],
}
TAGS = list(TEMPLATES)
CHAIN = {  # P(next tag | tag); "end" stops the dialogue
    "start": {"greeting": 1.0},
    "greeting": {"greeting": 0.4, "yn_question": 0.25, "wh_question": 0.25, "statement": 0.1},
    "yn_question": {"yes_answer": 0.55, "no_answer": 0.45},
    "wh_question": {"statement": 1.0},
    "yes_answer": {"statement": 0.5, "yn_question": 0.2, "wh_question": 0.15, "thanks": 0.15},
    "no_answer": {"statement": 0.5, "yn_question": 0.2, "wh_question": 0.15, "thanks": 0.15},
    "statement": {"backchannel": 0.45, "statement": 0.15, "yn_question": 0.2, "wh_question": 0.1,
                  "thanks": 0.1},
    "backchannel": {"statement": 0.6, "yn_question": 0.25, "wh_question": 0.15},
    "thanks": {"goodbye": 1.0},
    "goodbye": {"goodbye": 0.5, "end": 0.5},
}
P_AMBIGUOUS = {"yes_answer": 0.5, "backchannel": 0.6}  # how often these acts are said as yeah/okay/right
EXAMPLE = """A: hi how are you
B: hello nice to meet you
A: did you see the game
B: yeah
A: the game was great
B: yeah
A: my sister lives in boston
B: okay
A: is it cold today
B: right
A: thanks a lot
B: bye"""

PARAMS = [
    Param("n_dialogues", 400, 20, 20_000, "generated training dialogues (ignored with uploaded data)", generated=True),
    Param("max_utterances", 24, 4, 200, "longest generated dialogue (utterances)", generated=True),
    Param("embed_dim", 32, 4, 300, "word embedding size"),
    Param("word_units", 32, 4, 256, "utterance-encoder LSTM units per direction"),
    Param("context_units", 32, 4, 256, "dialogue-level LSTM units per direction"),
    Param("epochs", 3, 1, 50, "passes over the training windows (more make the emissions context-aware too)"),
    Param("batch_size", 16, 1, 256, "windows per step"),
    Param("window", 32, 4, 512, "training window: at most this many consecutive utterances"),
    Param("max_words", 60, 4, 1000, "words kept per utterance in training (longer ones are cut)"),
    Param("learning_rate", 0.01, 1e-5, 0.1, "Adam step size"),
    Param("transition_init", "bigram", choices=("bigram", "orthogonal"),
          help="start the CRF's transitions at the training tags' bigram log-probabilities, "
               "or at tf2crf's default (orthogonal random)"),
    Param("max_vocab", 10_000, 50, 100_000, "most frequent words kept; the rest become <unk>"),
    Param("head", "crf", choices=("crf", "softmax"),
          help="crf = a CRF over the utterances' tags (Viterbi); softmax = the same network with a per-utterance "
               "softmax instead (the CRF's transitions fixed at zero): what the CRF buys"),
    Param("use_speaker", False, help="add a learned speaker-change embedding to every utterance's vector (who "
          "speaks next decides many acts); needs speakers: an upload's speaker column, 'A:' prefixes when typed"),
    Param("pooling", "mean", choices=("mean", "last", "max"),
          help="one vector per utterance from its words' BiLSTM states: their mean, the state at the last real "
               "word (the paper's reference code) or their element-wise max"),
    Param("freeze_vectors", False, label="keep the word vectors fixed",
          help="with your word-vector file: keep the embeddings at its vectors (Keras' trainable=False) instead of "
               "fine-tuning them"),
    SEED,
]
QUICK = {"n_dialogues": 150, "epochs": 2}   # the sidebar's Quick preset (the rest as PARAMS)
PREDICT_PARAMS: list[Param] = []
RESULT = {   # what predict returns (seqviz.contract): U utterances, L labels (tags)
    "utterances": Out(list[str], ("U",), "the dialogue's utterances, one per line"),
    "speakers": Out(list[str], ("U",), "who says each (the A:/B: prefixes; '' where none is given)"),
    "labels": Out(list[str], ("L",), "the tag set, in the order of the score columns"),
    "tags": Out(list[str], ("U",), "the CRF's Viterbi path"),
    "greedy_tags": Out(list[str], ("U",), "each utterance's own argmax of its emissions"),
    "path": Out(list[int], ("U",), "the Viterbi path as label indices"),
    "path_score": Out(float, (), "the path's score: its emissions plus its transitions"),
    "cumulative": Out(list[list[float]], ("U", "L"), "the best score of a path ending at each utterance and tag"),
    "backpointers": Out(list[list[int]], ("U", "L"), "the previous tag on that best path"),
    "marginals": Out(list[list[float]], ("U", "L"), "P(tag | dialogue) per utterance (forward-backward)"),
    "emissions": Out(list[list[float]], ("U", "L"), "the CRF's unary scores"),
    "transitions": Out(list[list[float]], ("L", "L"), "the CRF's score of tag i followed by tag j"),
    "unknown_utterances": Out(list[int], (), "indices of utterances whose every word is outside the vocabulary"),
}
MAX_UTTERANCES = 1000   # a pasted dialogue longer than this is refused
MAX_CHARS = 50_000
MAX_TAGS = 1000         # an upload's tags: at most this many, and beyond 20 at most one per 5 utterances
SPEAKER_DIM = 8         # use_speaker: the size of the speaker-change embedding
_SPEAKER = re.compile(r"^\s*([A-Za-z][\w .'-]{0,19}):(?!//)\s*(.*)$")  # "A: hi", not "http://..."


@dataclass
class Dialogues:
    utterances: list[list[str]]            # per dialogue, per utterance: the text
    tags: list[list[str]]
    speakers: list[list[str]] | None = None
    ambiguous: list[list[bool]] | None = None   # generated data: is the utterance one of AMBIGUOUS
    split: list[str] | None = None              # per dialogue: train, val or test (an upload's own split)
    vectors: "WordVectors | None" = None        # the user's word vectors, to initialise the embeddings
    filename: str = "upload.csv"


@dataclass
class WordVectors:
    """A word-vector text file (GloVe / word2vec text format), read: its words and their vectors (N, D)."""
    words: list[str]
    matrix: np.ndarray
    filename: str = "vectors.txt"

    def lookup(self, vocab: Vocab, seed: int) -> tuple[np.ndarray, float]:
        """The embedding matrix (len(vocab), D) to start from: each vocabulary word's vector where the file has
        it, else a random one of the same scale (seeded); padding 0. And the share of the words found."""
        index = {w: i for i, w in enumerate(self.words)}
        rng = np.random.default_rng(seed)
        out = rng.normal(0, float(self.matrix.std()) or 0.1, (len(vocab), self.matrix.shape[1])).astype(np.float32)
        out[0] = 0.0
        real = [t for t in vocab.tokens if t not in vocab.specials]
        found = [t for t in real if t in index]
        for t in found:
            out[vocab.index[t]] = self.matrix[index[t]]
        return out, len(found) / max(1, len(real))


READ_COST = {"upload": 12, "vectors": 4}      # bytes held per byte read (seqviz.budget.check_read)
FILES = {"vectors": "word vectors to start the embeddings from: a text file, `word v1 ... vD` per line (GloVe, or "
                    "word2vec's text format)"}


def read_vectors(raw: bytes, filename: str) -> WordVectors:
    """`word v1 ... vD` per line (a word2vec header line "N D" is skipped); every line the same D, numbers
    finite; the first of a repeated word kept. Words are lower-cased, as `tokenize` reads utterances."""
    lines = decode_text(raw, filename).splitlines()
    if lines and re.fullmatch(r"\s*\d+\s+\d+\s*", lines[0]):
        lines = lines[1:]
    words, rows, dim = [], [], None
    for n, line in enumerate(lines, 1):
        parts = line.rstrip().split(" ")
        if not line.strip():
            continue
        if len(parts) < 2:
            raise SeqvizError(f"{filename} line {n} has a word and no numbers; every line is `word v1 ... vD`.")
        if dim is None:
            dim, first = len(parts) - 1, n
        elif len(parts) - 1 != dim:
            raise SeqvizError(f"{filename} line {n} has {len(parts) - 1} numbers after its word; line {first} has "
                              f"{dim}: every line needs the same D (`word v1 ... vD`).")
        try:
            row = np.array(parts[1:], np.float32)
        except ValueError:
            bad = next(v for v in parts[1:] if not _is_number(v))
            raise SeqvizError(f"{filename} line {n}: {bad[:20]!r} is not a number.") from None
        if not np.isfinite(row).all():
            raise SeqvizError(f"{filename} line {n} holds a NaN or infinite value.")
        words.append(parts[0].lower())
        rows.append(row)
    if not words:
        raise SeqvizError(f"{filename} has no vectors (`word v1 ... vD` per line).")
    if not 4 <= dim <= 300:
        raise SeqvizError(f"{filename}'s vectors have D = {dim} numbers; the word embedding takes 4 to 300.")
    seen: dict[str, int] = {}
    for i, w in enumerate(words):
        seen.setdefault(w, i)
    keep = sorted(seen.values())
    return WordVectors([words[i] for i in keep], np.stack([rows[i] for i in keep]), filename)


def _is_number(text: str) -> bool:
    try:
        float(text)
        return True
    except ValueError:
        return False


def check_params(params: dict, data: Dialogues | None = None) -> dict:
    """The settings a run trains with: with a word-vector file, embed_dim is its D."""
    vectors = data.vectors if data is not None else None
    if vectors is None:
        if params["freeze_vectors"]:
            raise SeqvizError("freeze_vectors keeps your word vectors fixed: give a word-vector file with your data "
                              "(CLI: --vectors vectors.txt), or train without it.")
        return params
    return {**params, "embed_dim": int(vectors.matrix.shape[1])}


def make_toy(n: int, max_utterances: int = 24, seed: int = 0) -> Dialogues:
    rng = np.random.default_rng(seed)
    pick = lambda options: options[int(rng.integers(len(options)))]
    out = Dialogues([], [], [], [])
    for _ in range(n):
        tags, tag = [], "start"
        while True:
            nxt = CHAIN[tag]
            if len(tags) >= max_utterances - 3 and tag not in ("thanks", "goodbye", "yn_question"):
                nxt = {"thanks": 1.0}   # wrap up before the length limit
            tag = rng.choice(list(nxt), p=list(nxt.values()))
            if tag == "end" or len(tags) >= max_utterances:
                break
            tags.append(str(tag))
        texts, amb, speakers, who = [], [], [], "A"
        for i, t in enumerate(tags):
            if rng.random() < P_AMBIGUOUS.get(t, 0.0):
                text, is_amb = pick(AMBIGUOUS), True
            else:
                text, is_amb = re.sub(r"\{(\w+)\}", lambda m: pick(SLOTS[m.group(1)]), pick(TEMPLATES[t])), False
            if i and not (t == "statement" and tags[i - 1] == "statement"):
                who = "B" if who == "A" else "A"   # turns alternate, except a speaker going on
            texts.append(text)
            amb.append(is_amb)
            speakers.append(who)
        out.utterances.append(texts)
        out.tags.append(tags)
        out.speakers.append(speakers)
        out.ambiguous.append(amb)
    return out


SPLITS = ("train", "val", "test")


def read_upload(raw: bytes, filename: str = "upload.csv", vectors: tuple | None = None) -> Dialogues:
    """A CSV with columns conversation_id, utterance, act[, speaker][, split] (e.g. a Switchboard DA export),
    rows in dialogue order. `split` (train, val or test; one value per conversation) reproduces a standard
    split: the model trains on `train` and reports its metrics on `test` (and on `val` where there is one).
    `vectors` (filename, raw): a word-vector file to start the word embeddings from (`read_vectors`)."""
    df = read_csv(raw, filename, ["conversation_id", "utterance", "act"], ["speaker", "split"])
    empty_act = df.index[df.act == ""]
    if len(empty_act):
        raise SeqvizError(f"{filename}: {len(empty_act)} rows have an empty act (first: data row "
                          f"{empty_act[0] + 1}); every utterance needs its dialogue-act tag.")
    if (df.conversation_id == "").any():
        raise SeqvizError(f"{filename}: some rows have an empty conversation_id.")
    if df.act.nunique() < 2:
        raise SeqvizError(f"{filename} has a single act ({df.act.iloc[0]!r}); tagging needs at least 2.")
    check_labels(df.act.nunique(), len(df), filename, "act", MAX_TAGS)
    groups = list(df.groupby("conversation_id", sort=False))
    if len(groups) < 2:
        raise SeqvizError(f"{filename} has {len(groups)} conversation; at least 2 are needed "
                          "(one is held out to measure accuracy).")
    spk = "speaker" in df.columns
    return Dialogues([g.utterance.tolist() for _, g in groups], [g.act.tolist() for _, g in groups],
                     [g.speaker.tolist() for _, g in groups] if spk else None,
                     split=_splits(df, groups, filename) if "split" in df.columns else None,
                     vectors=read_vectors(vectors[1], vectors[0]) if vectors else None, filename=filename)


def _splits(df, groups, filename: str) -> list[str]:
    """The split of every conversation, checked: known values, one per conversation, a train and a test."""
    split = df.split.str.lower()
    bad = df.index[~split.isin(SPLITS)]
    if len(bad):
        raise SeqvizError(f"{filename}: data row {bad[0] + 1} has split {df.split[bad[0]]!r}; the split column takes "
                          f"{', '.join(SPLITS)} (one per conversation).")
    out = []
    for cid, g in groups:
        values = sorted(set(split[g.index]))
        if len(values) > 1:
            raise SeqvizError(f"{filename}: conversation {cid!r} is split across {' and '.join(values)}; a "
                              "conversation belongs to one split (its utterances are tagged in context).")
        out.append(values[0])
    for need in ("train", "test"):
        if need not in out:
            raise SeqvizError(f"{filename}: no conversation is in the {need} split; with a split column the model "
                              f"trains on train and reports on test, so both need at least one conversation.")
    return out


# ---------------------------------------------------------------------------------------------
# The model
# ---------------------------------------------------------------------------------------------
@tf.keras.utils.register_keras_serializable(package="seqviz")
@tf.keras.utils.register_keras_serializable(package="seqviz")
class MaskedPool(tf.keras.layers.Layer):
    """One vector per utterance from its words' BiLSTM states (B, W, D) -> (B, D), over the real (unmasked)
    words only: their `mean`, their element-wise `max`, or the state at the `last` real word (what the
    paper's reference code takes). An all-padding row gives zeros, not NaN or -inf (either would poison the
    gradients even though the CRF ignores that utterance)."""

    def __init__(self, how: str = "mean", **kwargs):
        super().__init__(**kwargs)
        self.how = how
        self.supports_masking = True

    def call(self, x, mask=None):
        m = tf.ones_like(x[..., 0], tf.bool) if mask is None else mask                # (B, W)
        n = tf.reduce_sum(tf.cast(m, tf.int32), axis=1)                                # real words per row
        if self.how == "max":
            top = tf.reduce_max(tf.where(m[..., None], x, x.dtype.min), axis=1)
            return tf.where((n > 0)[:, None], top, tf.zeros_like(top))
        if self.how == "last":   # right-padded: the last real word is at n - 1
            last = tf.gather(x, tf.maximum(n - 1, 0), axis=1, batch_dims=1)
            return tf.where((n > 0)[:, None], last, tf.zeros_like(last))
        w = tf.cast(m, x.dtype)[..., None]
        return tf.reduce_sum(x * w, axis=1) / tf.maximum(tf.reduce_sum(w, axis=1), 1.0)

    def compute_mask(self, inputs, mask=None):
        return None

    def get_config(self):
        return {**super().get_config(), "how": self.how}


def build(params: dict, vocabs: dict[str, Vocab]) -> tf.keras.Model:
    """The functional base model: words (B, U, W) -> tf2crf outputs [tags, emissions, lengths, transitions]."""
    words = tf.keras.Input(shape=(None,), dtype="int32", name="utterance")
    x = tf.keras.layers.Embedding(len(vocabs["words"]), params["embed_dim"], mask_zero=True,
                                  trainable=not params["freeze_vectors"], name="word_embedding")(words)
    x = nn.bilstm(params["word_units"], "word_bilstm", return_sequences=True)(x)
    pooled = MaskedPool(params["pooling"], name=f"{params['pooling']}_over_words")(x)                     # (b, 2h)
    encoder = tf.keras.Model(words, pooled, name="utterance_encoder")

    dialogue = tf.keras.Input(shape=(None, None), dtype="int32", name="dialogue")       # (B, U, W)
    words_in = dialogue
    if params["use_speaker"]:   # column 0 of every utterance row is its turn flag (see `turns`), the words follow
        flags = tf.keras.layers.Lambda(lambda d: d[:, :, 0], name="turn_flags")(dialogue)            # (B, U)
        words_in = tf.keras.layers.Lambda(lambda d: d[:, :, 1:], name="words")(dialogue)             # (B, U, W)
    utterances = tf.keras.layers.TimeDistributed(encoder, name="encode_utterances")(words_in)
    real = tf.keras.layers.Lambda(lambda d: tf.reduce_any(d != 0, axis=-1), name="real_utterances")(words_in)
    if params["use_speaker"]:   # + a learned vector for "the speaker changed" / "the same speaker goes on"
        change = tf.keras.layers.Embedding(3, SPEAKER_DIM, name="speaker_change")(flags)            # (B, U, 8)
        utterances = tf.keras.layers.Concatenate(name="with_speaker")([utterances, change])
    h = nn.bilstm(params["context_units"], "context", return_sequences=True)(utterances, mask=real)
    emissions = tf.keras.layers.Dense(len(vocabs["tags"]), name="emissions")(h)         # mask flows on
    # head=softmax: the CRF with its transitions fixed at zero IS a per-utterance softmax. With no transition
    # scores log Z factorises over the utterances, so the CRF loss is the sum of per-utterance cross-entropies,
    # its Viterbi path the per-utterance argmax and its marginals the per-utterance softmax: the same network
    # and the same code paths, minus what the CRF adds.
    head = (CRF(dtype="float32", name="crf") if params["head"] == "crf" else
            CRF(dtype="float32", name="crf", chain_initializer="zeros", trainable=False))
    return tf.keras.Model(dialogue, head(emissions), name="hblstm_crf" if params["head"] == "crf" else "hblstm_softmax")



def memory(params: dict, data: Dialogues | None = None) -> list[budget.Term]:
    """What a training run holds (seqviz.budget): the weights, one batch of windows through both BiLSTMs,
    the held-out decoding (groups of at most 200,000 word slots, or the longest dialogue alone) and the ids."""
    if data is None:   # generated: dialogues alike, n_dialogues of them
        data, n = make_toy(50, params["max_utterances"], params["seed"]), int(params["n_dialogues"] / 0.85)
    else:
        n = len(data.utterances)
    words = [[tokenize(u)[:params["max_words"]] for u in d] for d in data.utterances]
    v = min(params["max_vocab"], len({w for d in words for u in d for w in u})) + 2
    k = len({t for d in data.tags for t in d})
    longest = max(map(len, words))
    w = max(len(u) for d in words for u in d) or 1
    n_words = sum(len(u) + 1 for d in words for u in d) * n / len(words)
    e, hw, hc, b = params["embed_dim"], params["word_units"], params["context_units"], params["batch_size"]
    win = min(params["window"], longest)
    return [budget.weights(v * e, {"max_vocab": v, "embed_dim": e}, "the word embeddings"),
            budget.weights(2 * budget.lstm_weights(e, hw) + 2 * budget.lstm_weights(2 * hw, hc) + (2 * hc + 1 + k) * k,
                           {"word_units": hw, "context_units": hc}, "the BiLSTMs' weights"),
            budget.Term("one batch of windows through the word BiLSTM", 2 * budget.lstm_activations(b * win, w, hw, e),
                        {"batch_size": b, "window": win, "max_words": w, "word_units": hw}),
            budget.Term("one batch through the dialogue BiLSTM", 2 * budget.lstm_activations(b, win, hc, 2 * hw),
                        {"batch_size": b, "window": win, "context_units": hc}),
            budget.Term("decoding the held-out dialogues", max(200_000, longest * w) * (e + 4 * hw) * budget.FLOAT,
                        {"word_units": hw, "max_words": w}, "eval"),
            budget.Term("the dialogues' word ids", n_words * 40, {"dialogues": n}, "data")]


class _Trainer(ModelWithCRFLoss):
    """tf2crf's wrapper, with validation logs named like Keras' own (val_loss, val_accuracy)."""

    def test_step(self, data):
        logs = super().test_step(data)
        return {"loss": logs["loss_val"], "accuracy": logs["val_accuracy"]}


KERAS_CODE = (MaskedPool, build, _Trainer)   # what the page's "Keras code" view shows, read from this file


def encode(vocab: Vocab, utterances: list[str], max_words: int | None = None,
           speakers: list[str] | None = None) -> list[list[int]]:
    """Word ids per utterance; an utterance with no words becomes [unk] so it still has a slot. With
    `speakers` (a use_speaker model), each row starts with the utterance's turn flag."""
    ids = [vocab.encode(tokenize(u)[:max_words]) or [vocab.unk_id] for u in utterances]
    return ids if speakers is None else [[flag] + row for flag, row in zip(turns(speakers), ids)]


def turns(speakers: list[str]) -> list[int]:
    """Per utterance: 2 where the speaker differs from the previous utterance's, else 1 (the first utterance,
    the same speaker going on, or a speaker not known); 0 is left for padding."""
    return [2 if i and s and speakers[i - 1] and s != speakers[i - 1] else 1 for i, s in enumerate(speakers)]


def pad(dialogues: list[list[list[int]]]) -> np.ndarray:
    """(B, U, W) int32, padded to THIS group's longest dialogue and utterance only."""
    u = max(len(d) for d in dialogues)
    w = max(len(s) for d in dialogues for s in d)
    out = np.zeros((len(dialogues), u, w), dtype=np.int32)
    for i, d in enumerate(dialogues):
        for j, s in enumerate(d):
            out[i, j, :len(s)] = s
    return out


def windows(ids: list[list[list[int]]], tags: list[list[int]], size: int):
    """Split dialogues into consecutive windows of at most `size` utterances (long ones train in pieces)."""
    for d, t in zip(ids, tags):
        for start in range(0, len(d), size):
            yield d[start:start + size], t[start:start + size]


def batches(ids, tags, params: dict, seed: int = 0):
    """Bucketed training batches: windows sorted by size, grouped, each group padded to its own max.
    Returns a tf.data.Dataset (one trace for every batch shape) and the number of batches."""
    wins = sorted(windows(ids, tags, params["window"]), key=lambda w: (len(w[0]), max(map(len, w[0]))))
    groups = [wins[i:i + params["batch_size"]] for i in range(0, len(wins), params["batch_size"])]

    def gen():
        for g in np.random.default_rng(seed).permutation(len(groups)):
            x = pad([w[0] for w in groups[g]])
            y = np.zeros(x.shape[:2], dtype=np.int32)
            for i, (_, t) in enumerate(groups[g]):
                y[i, :len(t)] = t
            yield x, y

    spec = (tf.TensorSpec((None, None, None), tf.int32), tf.TensorSpec((None, None), tf.int32))
    ds = tf.data.Dataset.from_generator(gen, output_signature=spec)
    return ds.apply(tf.data.experimental.assert_cardinality(len(groups))), len(groups)  # known steps: progress


def bigram_log_probs(tag_ids: list[list[int]], k: int, alpha: float = 0.1) -> np.ndarray:
    """log P(next tag | tag) from the training dialogues (add-alpha smoothed): the dialogue grammar.

    Why start the CRF here: with random transitions the dialogue-level BiLSTM learns the context
    first, every emission becomes context-aware and the CRF has nothing left to decide. Started at
    the bigram statistics, the transitions carry "a yes/no question is followed by an answer" from
    step one, and the emissions stay closer to what each utterance says on its own: the page can then
    show the CRF overruling a per-utterance guess ("yeah" after a question is an answer)."""
    counts = np.full((k, k), alpha)
    for tags in tag_ids:
        for a, b in zip(tags, tags[1:]):
            counts[a, b] += 1
    return np.log(counts / counts.sum(axis=1, keepdims=True)).astype(np.float32)


def train_on_ids(params: dict, vocabs: dict[str, Vocab], ids, tag_ids, run: Run = UNWATCHED, embedding=None):
    """Build, initialise the transitions (and the word embeddings from `embedding` (V, E), the user's vectors),
    and fit on bucketed windows. Returns (base model, History)."""
    base = build(params, vocabs)
    if embedding is not None:    # Keras' Embedding(weights=[embedding_matrix]): the layer sits in the encoder
        base.get_layer("encode_utterances").layer.get_layer("word_embedding").set_weights([embedding])
    if params["transition_init"] == "bigram" and params["head"] == "crf":
        base.get_layer("crf").transitions.assign(bigram_log_probs(tag_ids, len(vocabs["tags"])))
    trainer = _Trainer(base)
    trainer.compile(tf.keras.optimizers.Adam(params["learning_rate"]))
    train_ds, _ = batches(ids, tag_ids, params, params["seed"])
    # No validation_data: tracing tf2crf's test step costs seconds; the held-out dialogues are decoded
    # whole, once, at the end (the numbers that matter: Viterbi vs per-utterance argmax).
    # predict reads the base model, not the CRF-loss wrapper: the run's callbacks look at the base
    hist = trainer.fit(train_ds.prefetch(2), epochs=params["epochs"], callbacks=run.callbacks(base, vocabs),
                       verbose=0)
    return base, hist


def fit(params: dict, data: Dialogues | None, run: Run = UNWATCHED):
    params = check_params(params, data)
    if data is None:
        data = make_toy(int(params["n_dialogues"] / 0.85), params["max_utterances"], params["seed"])
    if data.split is not None:   # the file's own split: train on train; report on test (and on val, if any)
        train_idx = [i for i, s in enumerate(data.split) if s == "train"]
        test_idx = [i for i, s in enumerate(data.split) if s == "test"]
        val_idx = [i for i, s in enumerate(data.split) if s == "val"] or test_idx
    else:
        train_idx, val_idx = holdout(len(data.utterances), params["seed"])
        test_idx = None
    phase("building vocabularies")
    vocab = Vocab.build((tokenize(u) for i in train_idx for u in data.utterances[i]), max_size=params["max_vocab"])
    tags = Vocab(sorted({t for d in data.tags for t in d}), specials=())
    vocabs = {"words": vocab, "tags": tags}
    if params["use_speaker"] and not data.speakers:
        raise SeqvizError("use_speaker needs to know who says each utterance: add a speaker column to the file "
                          "(or train without use_speaker).")
    speakers = data.speakers if params["use_speaker"] else [None] * len(data.utterances)
    ids = [encode(vocab, d, params["max_words"], s) for d, s in zip(data.utterances, speakers)]
    tag_ids = [tags.encode(t) for t in data.tags]

    embedding, found = data.vectors.lookup(vocab, params["seed"]) if data.vectors else (None, None)
    phase("building the model")
    base, _ = train_on_ids(params, vocabs, [ids[i] for i in train_idx], [tag_ids[i] for i in train_idx],
                              run, embedding)
    metrics = evaluate(base, [ids[i] for i in val_idx], [tag_ids[i] for i in val_idx],
                       [data.ambiguous[i] for i in val_idx] if data.ambiguous else None)
    if test_idx is not None:
        test = evaluate(base, [ids[i] for i in test_idx], [tag_ids[i] for i in test_idx])
        metrics.update({"test_" + k[len("val_"):]: v for k, v in test.items()}, n_test_dialogues=len(test_idx),
                       split="the file's own (train / val / test)")
    if found is not None:
        metrics.update(vectors_found=found, vectors_dim=int(embedding.shape[1]))
    if data.ambiguous is None:      # your file: its held-out dialogues kept with the model (bounded), a row each
        metrics["heldout"] = _kept([data.utterances[i] for i in val_idx], [data.tags[i] for i in val_idx],
                                   [data.speakers[i] for i in val_idx] if data.speakers else None)
    metrics.update(n_train_dialogues=len(train_idx), n_val_dialogues=len(val_idx), vocab_size=len(vocab))
    return base, vocabs, metrics


# ---------------------------------------------------------------------------------------------
# Inference: emissions and transitions from the model, the decoding in numpy (seqviz.crf)
# ---------------------------------------------------------------------------------------------
def scores(model: tf.keras.Model, ids: list[list[list[int]]], states: bool = False) -> list[tuple]:
    """Emissions (U_i, K) per dialogue and the transition matrix (K, K), from one batched forward pass
    over whole dialogues (padded to this batch's own longest dialogue and utterance); with `states`, also the
    dialogue BiLSTM's state per utterance (U_i, 2H), what its emissions are read from."""
    # one trace for any (dialogues, utterances, words) shape, not one per new shape
    out = graphs.forward(_with_states(model) if states else model, pad(ids),
                         tf.TensorSpec((None, None, None), tf.int32))
    _, emissions, lengths, transitions = out[:4]
    tr = transitions.numpy().astype(np.float64)
    lengths = lengths.numpy()
    if states:
        return [(em[:n].astype(np.float64), tr, h[:n]) for em, n, h in zip(emissions.numpy(), lengths, out[4].numpy())]
    return [(em[:n].astype(np.float64), tr) for em, n in zip(emissions.numpy(), lengths)]


@graphs.once_per_model
def _with_states(model: tf.keras.Model) -> tf.keras.Model:
    """The model with the dialogue BiLSTM's states (B, U, 2H) as a fifth output."""
    return tf.keras.Model(model.input, [*model.outputs, model.get_layer("emissions").input])


def scores_bucketed(model, ids, max_cells: int = 200_000, states: bool = False) -> list[tuple]:
    """`scores` for many dialogues, grouped by size so no group pads beyond `max_cells` word slots
    (a long dialogue goes alone): memory stays bounded however the corpus is shaped."""
    order = sorted(range(len(ids)), key=lambda i: (len(ids[i]), max(map(len, ids[i]))))
    out, group = [None] * len(ids), []

    def flush():
        for i, s in zip(group, scores(model, [ids[i] for i in group], states)):
            out[i] = s
        group.clear()

    for i in order:
        cells = (len(group) + 1) * len(ids[i]) * max(map(len, ids[i]))   # sorted: i is the group's largest
        if group and cells > max_cells:
            flush()
        group.append(i)
    if group:
        flush()
    return out


def evaluate(model, ids, tags, ambiguous=None) -> dict:
    """Tag accuracy of the Viterbi path and of the per-utterance argmax, on whole dialogues."""
    hits = {"crf": [], "greedy": []}
    amb_hits = {"crf": [], "greedy": []}
    decoded = scores_bucketed(model, ids)
    for k, ((em, tr), gold) in enumerate(zip(decoded, tags)):
        for name, path in (("crf", crf.viterbi(em, tr).path), ("greedy", em.argmax(1).tolist())):
            ok = np.array(path) == np.array(gold)
            hits[name].extend(ok)
            if ambiguous is not None:
                amb_hits[name].extend(ok[np.array(ambiguous[k], dtype=bool)])
    out = {"val_accuracy": float(np.mean(hits["crf"])), "val_greedy_accuracy": float(np.mean(hits["greedy"]))}
    if ambiguous is not None and amb_hits["crf"]:
        out["val_ambiguous_accuracy"] = float(np.mean(amb_hits["crf"]))
        out["val_ambiguous_greedy_accuracy"] = float(np.mean(amb_hits["greedy"]))
        out["n_val_ambiguous"] = len(amb_hits["crf"])
    return out


# ---------------------------------------------------------------------------------------------
# The held-out set (seqviz.evaluate): every utterance scored in its dialogue, the Viterbi tag beside the argmax
# ---------------------------------------------------------------------------------------------
def _kept(utterances, tags, speakers) -> dict:
    """Held-out dialogues as rows (dialogue, utterance, tag, speaker) for heldout.npz, bounded by whole
    dialogues."""
    rows = [(d, u, t, s) for d, (us, ts, ss) in enumerate(zip(utterances, tags, speakers or [None] * len(tags)))
            for u, t, s in zip(us, ts, ss or [""] * len(us))]
    kept = keep({"dialogue": [r[0] for r in rows], "utterance": [r[1] for r in rows], "tag": [r[2] for r in rows],
                 "speaker": [r[3] for r in rows]})
    n = len(kept["dialogue"])
    if n < len(rows) and n:         # cut at the last whole dialogue
        n = int(np.searchsorted(kept["dialogue"], kept["dialogue"][-1]))
    return {k: v[:n] for k, v in kept.items()}


def heldout_data(bundle) -> Dialogues:
    """The model's held-out dialogues: regenerated from its seed, or the ones of your file it kept."""
    p = bundle.params
    if bundle.data.get("source") == "upload":
        h = kept(bundle, "dialogue", "dialogues", "score it on a labelled file")
        ds = h["dialogue"]
        at = [np.flatnonzero(ds == d) for d in dict.fromkeys(ds.tolist())]
        speakers = [[str(s) for s in h["speaker"][i]] for i in at]
        return Dialogues([[str(u) for u in h["utterance"][i]] for i in at], [[str(t) for t in h["tag"][i]] for i in at],
                         speakers if any(any(s) for s in speakers) else None)
    data = make_toy(int(p["n_dialogues"] / 0.85), p["max_utterances"], p["seed"])
    val = holdout(len(data.utterances), p["seed"])[1]
    return Dialogues([data.utterances[i] for i in val], [data.tags[i] for i in val],
                     [data.speakers[i] for i in val], [data.ambiguous[i] for i in val])


def score_examples(bundle, data: Dialogues):
    """Every utterance of `data`'s dialogues scored in its dialogue (seqviz.evaluate.Scored): its Viterbi tag with
    the CRF's marginal of it, the per-utterance argmax beside, the dialogue BiLSTM's state (the map), and the
    slices: position in the dialogue, speaker change, the ambiguous replies of generated dialogues. A file's own
    split: its val dialogues, else test. Tags the model has never seen: those utterances left out, in one note."""
    from seqviz.evaluate import Scored, bucket
    p, vocab, tags = bundle.params, bundle.vocabs["words"], bundle.vocabs["tags"]
    keep_d = list(range(len(data.utterances)))
    if data.split is not None:
        held = {s: [i for i, x in enumerate(data.split) if x == s] for s in ("val", "test")}
        keep_d = held["val"] or held["test"] or keep_d
    speakers = data.speakers if data.speakers else None
    ids = [encode(vocab, data.utterances[d], p["max_words"], speakers[d] if p["use_speaker"] and speakers else None)
           for d in keep_d]
    decoded = scores_bucketed(bundle.model, ids, states=True)
    unseen = sorted({t for d in keep_d for t in data.tags[d]} - set(tags.tokens))
    cols = {k: [] for k in ("input", "shown", "gold", "pred", "argmax", "confidence", "position", "speaker",
                            "ambiguous", "dialogue", "utterance", "vector")}
    for k, d in enumerate(keep_d):
        em, tr, h = decoded[k]
        path, marg = crf.viterbi(em, tr).path, crf.marginals(em, tr)
        who = speakers[d] if speakers else [""] * len(data.utterances[d])
        text = "\n".join(f"{w}: {u}" if w else u for w, u in zip(who, data.utterances[d]))
        for u, gold in enumerate(data.tags[d]):
            if gold not in tags.index:
                continue
            cols["input"].append(text)
            cols["shown"].append(f"{who[u]}: {data.utterances[d][u]}" if who[u] else data.utterances[d][u])
            cols["gold"].append(gold)
            cols["pred"].append(tags.tokens[path[u]])
            cols["argmax"].append(tags.tokens[int(em[u].argmax())])
            cols["confidence"].append(float(marg[u, path[u]]))
            cols["position"].append(bucket(u + 1, (1, 5, 10), ""))
            cols["speaker"].append("first utterance" if u == 0 else "same speaker" if who[u] == who[u - 1]
                                   else "speaker changes")
            cols["ambiguous"].append("ambiguous reply" if data.ambiguous and data.ambiguous[d][u] else "other")
            cols["dialogue"].append(k + 1)
            cols["utterance"].append(u + 1)
            cols["vector"].append(h[u])
    n_out = sum(t not in tags.index for d in keep_d for t in data.tags[d])
    notes = [f"{n_out:,} utterance(s) have tags the model has never seen ({', '.join(map(repr, unseen[:8]))}"
             f"{', ...' if len(unseen) > 8 else ''}): left out, the rest scored."] if unseen else []
    if not cols["gold"]:
        raise SeqvizError(f"None of the utterances has a tag the model knows ({', '.join(tags.tokens)}).")
    slices = {"position in the dialogue": cols["position"]}
    if speakers:
        slices["speaker"] = cols["speaker"]
    if data.ambiguous:
        slices["reply"] = cols["ambiguous"]
    return Scored("utterance", cols["input"], cols["gold"], cols["pred"], np.array(cols["confidence"]),
                  list(tags.tokens), slices=slices, also={"per-utterance argmax": cols["argmax"]},
                  vectors=np.stack(cols["vector"]), shown=cols["shown"], notes=notes,
                  columns={"dialogue": cols["dialogue"], "turn": cols["utterance"]})


def parse(text: str) -> tuple[list[str], list[str]]:
    """One utterance per line, optional `A:` speaker prefix. Returns (speakers, utterances)."""
    if not isinstance(text, str) or not text.strip():
        raise SeqvizError("The dialogue is empty; type one utterance per line (optionally 'A: ...').")
    if len(text) > MAX_CHARS:
        raise SeqvizError(f"The dialogue has {len(text):,} characters; the limit is {MAX_CHARS:,}.")
    lines = [ln for ln in text.splitlines() if ln.strip()]
    if len(lines) > MAX_UTTERANCES:
        raise SeqvizError(f"The dialogue has {len(lines):,} utterances; the limit is {MAX_UTTERANCES:,}. "
                          "Paste a part of it.")
    if len(lines) < 2:
        raise SeqvizError("Only one utterance: a CRF tags a sequence, so give at least two lines "
                          "(one utterance per line).")
    speakers, utterances = [], []
    for n, line in enumerate(lines, 1):
        m = _SPEAKER.match(line)
        who, said = (m.group(1).strip(), m.group(2)) if m else ("", line.strip())
        if not tokenize(said):
            raise SeqvizError(f"Line {n} ({line.strip()[:40]!r}) has no words; every line must be an utterance.")
        speakers.append(who)
        utterances.append(said.strip())
    return speakers, utterances


def predict(bundle, text: str) -> dict:
    """Viterbi tags (the whole decode: path, score, best scores and backpointers), per-utterance argmax, marginals,
    emissions and transitions for one dialogue."""
    (got,) = predict_batch(bundle, [text])
    if isinstance(got, SeqvizError):
        raise got
    return got


def _read(bundle, text: str) -> tuple:
    """(speakers, utterances, ids, unknown utterances) of a dialogue, or a SeqvizError saying why not."""
    vocab = bundle.vocabs["words"]
    speakers, utterances = parse(text)
    use_speaker = bundle.params["use_speaker"]
    ids = encode(vocab, utterances, bundle.params["max_words"],        # as in training: long utterances are cut
                 speakers if use_speaker else None)
    unknown = [all(i == vocab.unk_id for i in u[use_speaker:]) for u in ids]
    if all(unknown):
        raise SeqvizError(f"None of the words are in the model's vocabulary of {len(vocab):,} words "
                          f"(it knows e.g. {', '.join(vocab.tokens[2:8])}); type a dialogue like the training data.")
    return speakers, utterances, ids, unknown


def predict_batch(bundle, texts: list[str]) -> list:
    """`predict` of many dialogues (predict --data): their emissions in forward passes of similar-sized dialogues
    (`scores_bucketed`: memory bounded by the padded word slots, not the number of dialogues), then each one's CRF
    decode in numpy; per dialogue its result, or the SeqvizError that refused it."""
    tags = bundle.vocabs["tags"]
    from seqviz.batch import each
    out = each(_read)(bundle, texts)                   # each text read, or the SeqvizError that refused it
    read = [i for i, r in enumerate(out) if not isinstance(r, SeqvizError)]
    if read:
        for i, (em, tr) in zip(read, scores_bucketed(bundle.model, [out[i][2] for i in read])):
            speakers, utterances, _, unknown = out[i]
            best = crf.viterbi(em, tr)
            out[i] = {"utterances": utterances, "speakers": speakers, "labels": tags.tokens,
                      "tags": tags.decode(best.path), "greedy_tags": tags.decode(em.argmax(1)),
                      "path": best.path, "path_score": best.score,
                      "cumulative": best.cumulative.tolist(), "backpointers": best.backpointers.tolist(),
                      "marginals": crf.marginals(em, tr).tolist(), "emissions": em.tolist(), "transitions": tr.tolist(),
                      "unknown_utterances": [u for u, unk in enumerate(unknown) if unk]}
    return out


# ---------------------------------------------------------------------------------------------
# Explanations (seqviz.explain): which words of an utterance, and which other utterances, decide its tag
# ---------------------------------------------------------------------------------------------
@graphs.once_per_model
def _scorer(model: tf.keras.Model, params: dict):
    """The chosen utterance's word embeddings (N, W, E), the dialogue's ids (N, U, W (+1 with speakers)), the
    utterance u (N,) and a tag (N,) -> the log-odds of the CRF's marginal of that tag at u (N,): log P(tag at u)
    − log P(another tag at u). The log-odds, not the marginal: the CRF is often sure (0.9998), and a probability
    that close to 1 barely moves whatever is occluded. The model's own layers after its word embedding (the other
    utterances' embeddings looked up as usual), then the CRF's log-partition over the paths through the tag at u
    and over the others (tfa's forward algorithm, what tf2crf trains with)."""
    import tensorflow_addons as tfa
    enc = model.get_layer("encode_utterances").layer
    embed, word_bilstm = enc.get_layer("word_embedding"), enc.get_layer("word_bilstm")
    pool = enc.get_layer(f"{params['pooling']}_over_words")
    context, dense = model.get_layer("context"), model.get_layer("emissions")
    transitions = model.get_layer("crf").transitions
    speaker = params["use_speaker"]

    def score(emb_u, dialogue, u, tag):
        words = dialogue[:, :, 1:] if speaker else dialogue                                   # (N, U, W)
        n, n_utt, w = tf.shape(words)[0], tf.shape(words)[1], tf.shape(words)[2]
        at_u = tf.one_hot(u, n_utt, dtype=emb_u.dtype)[:, :, None, None]                     # (N, U, 1, 1)
        x = embed(words) * (1 - at_u) + emb_u[:, None] * at_u                                 # (N, U, W, E)
        flat = tf.reshape(words, (-1, w))
        states = word_bilstm(tf.reshape(x, (n * n_utt, w, -1)), mask=flat != 0, training=False)
        utt = tf.reshape(pool(states, mask=flat != 0), (n, n_utt, -1))                       # (N, U, 2h)
        if speaker:
            utt = tf.concat([utt, model.get_layer("speaker_change")(dialogue[:, :, 0])], -1)
        real = tf.reduce_any(words != 0, axis=-1)                                             # (N, U)
        em = dense(context(utt, mask=real, training=False))                                   # (N, U, K)
        lengths = tf.reduce_sum(tf.cast(real, tf.int32), 1)
        is_tag = tf.one_hot(tag, tf.shape(em)[-1])[:, None]                                    # (N, 1, K)
        at = at_u[:, :, 0]                                                                    # (N, U, 1)
        paths_with = tfa.text.crf_log_norm(em - 1e4 * at * (1 - is_tag), lengths, transitions)   # tag at u
        paths_without = tfa.text.crf_log_norm(em - 1e4 * at * is_tag, lengths, transitions)       # another tag
        return paths_with - paths_without                   # log P(tag at u) - log P(not tag at u)
    return tf.function(score, reduce_retracing=True, autograph=False)


def _pick(r: dict, target) -> tuple[int, str]:
    """(utterance index, tag) of a target: "3" (utterance 3's Viterbi tag) or "3:yes_answer"; None -> the first
    utterance where the CRF overrules the per-utterance argmax, else the last one."""
    n = len(r["tags"])
    if target is None:
        over = [i for i, (a, b) in enumerate(zip(r["tags"], r["greedy_tags"])) if a != b]
        u = over[0] if over else n - 1
        return u, r["tags"][u]
    head, _, tag = str(target).partition(":")
    try:
        u = int(head) - 1
    except ValueError:
        u = -1
    if not 0 <= u < n:
        raise SeqvizError(f"The utterance to explain is one of 1 to {n}, not {head!r} (a target is 'N' or "
                          "'N:tag').")
    tag = tag.strip() or r["tags"][u]
    if tag not in r["labels"]:
        raise SeqvizError(f"{tag!r} is not one of the model's tags ({', '.join(r['labels'])}).")
    return u, tag


IG_STEPS = 128   # integrated gradients' steps: from all-zero words the path bends sharply (32 steps: 12% short)


def explainable(bundle, text: str, target=None):
    """Utterance u's words as seqviz.explain's methods see them, for the CRF's marginal of a tag at u (its
    Viterbi tag unless the target names another; see `_pick`), the rest of the dialogue as it is."""
    from seqviz import explain
    r = predict(bundle, text)
    u, tag = _pick(r, target)
    p, vocab = bundle.params, bundle.vocabs["words"]
    ids = encode(vocab, r["utterances"], p["max_words"], r["speakers"] if p["use_speaker"] else None)
    dialogue = pad([ids])
    words = ids[u][1:] if p["use_speaker"] else ids[u]
    table = bundle.model.get_layer("encode_utterances").layer.get_layer("word_embedding").embeddings.numpy()
    emb = np.zeros((1, dialogue.shape[2] - p["use_speaker"], table.shape[1]), np.float32)
    emb[0, :len(words)] = table[words]
    units = tokenize(r["utterances"][u])[:p["max_words"]]
    return explain.Subject([units], emb, table[vocab.unk_id], _scorer(bundle.model, p),
                           (dialogue, np.array([u], np.int32), np.array([r["labels"].index(tag)], np.int32)),
                           [f"log-odds of P(utterance {u + 1} = {tag})"], ig_steps=IG_STEPS)


def heldout_cases(bundle, n: int = 60) -> list[tuple[str, str]]:
    """seqviz.explain's held-out cases: every utterance (for its Viterbi tag) of the held-out generated dialogues,
    `n` in all (a model of your file does not keep its dialogues)."""
    p = bundle.params
    if bundle.data.get("source") == "upload":
        raise SeqvizError("The held-out explanations need the generated dialogues the model was trained on; this "
                          "model was trained on your file, which it does not keep.")
    data = make_toy(int(p["n_dialogues"] / 0.85), p["max_utterances"], p["seed"])
    cases = []
    for i in holdout(len(data.utterances), p["seed"])[1]:
        lines = [f"{w}: {u}" for w, u in zip(data.speakers[i], data.utterances[i])][:MAX_UTTERANCES]
        cases += [("\n".join(lines), str(u + 1)) for u in range(len(lines))]
        if len(cases) >= n:
            break
    return cases[:n]


def lstm_inputs(bundle, texts: list[str]) -> list:
    """Both BiLSTMs as seqviz.states reads them for a batch of dialogues: the utterance encoder's word_bilstm
    over each utterance's word embeddings (a row per utterance of every dialogue, a step per word), and the
    dialogue BiLSTM `context` over the utterance vectors (with the speaker-change vector where the model uses it),
    a row per dialogue, a step per utterance."""
    from seqviz import states
    from seqviz.states import LayerInput
    p, vocab, model = bundle.params, bundle.vocabs["words"], bundle.model
    use_speaker = p["use_speaker"]
    parsed = [parse(t) for t in texts]                                                  # (speakers, utterances)
    ids = [encode(vocab, u, p["max_words"], s if use_speaker else None) for s, u in parsed]
    encoder = model.get_layer("encode_utterances").layer
    table = encoder.get_layer("word_embedding").embeddings.numpy()
    words = [row[use_speaker:] for d in ids for row in d]                 # column 0: the turn flag, where used
    flat = np.zeros((len(words), max(map(len, words))), np.int32)
    for i, w in enumerate(words):
        flat[i, :len(w)] = w
    utterances = [(k, j, u) for k, (_, us) in enumerate(parsed) for j, u in enumerate(us)]
    word_rows = LayerInput("word_bilstm", encoder.get_layer("word_bilstm"), table[flat], flat != 0,
                           [tokenize(u)[:len(w)] for (_, _, u), w in zip(utterances, words)],
                           of=[k for k, _, _ in utterances], parts=[f"utterance {j + 1}" for _, j, _ in utterances])
    # what the dialogue BiLSTM reads, from the word BiLSTM's own outputs (numpy, no Keras call): each utterance's
    # pooled states (MaskedPool), beside its speaker-change vector where the model uses one
    h = states.layer_states(word_rows)["directions"]
    utt = _pooled(np.concatenate([h["forward"]["h"], h["backward"]["h"]], axis=-1), p["pooling"])      # (n, 2h)
    if use_speaker:
        change = model.get_layer("speaker_change").embeddings.numpy()
        utt = np.concatenate([utt, change[[row[0] for d in ids for row in d]]], axis=1)
    x = np.zeros((len(ids), max(map(len, ids)), utt.shape[1]))                                       # (N, U, D)
    mask = np.zeros(x.shape[:2], bool)
    for r, (k, j, _) in enumerate(utterances):
        x[k, j], mask[k, j] = utt[r], True
    return [word_rows, LayerInput("context", model.get_layer("context"), x, mask,
                                  [[f"{j + 1}. {u[:24]}" for j, u in enumerate(us)] for _, us in parsed])]


def batch_inputs(raw: bytes, filename: str) -> list:
    """predict --data: a CSV with columns conversation_id, utterance[, speaker] (an `act` column, if any, is not
    read), rows in dialogue order, one input per conversation; or a text file of dialogues one utterance a line
    ("A: ..." speakers optional), separated by blank lines."""
    from seqviz.uploads import decode_text, read_csv
    if filename.lower().endswith(".csv"):
        df = read_csv(raw, filename, ["conversation_id", "utterance"], ["speaker"])
        out = []
        for cid, g in df.groupby("conversation_id", sort=False):
            who = g.speaker.tolist() if "speaker" in df.columns else [""] * len(g)
            out.append((f"conversation {cid}", "\n".join(f"{s}: {u}" if s else u for s, u in zip(who, g.utterance))))
        return out
    blocks, n = [], 0
    for block in decode_text(raw, filename).replace("\r\n", "\n").split("\n\n"):
        if block.strip():
            n += 1
            blocks.append((f"dialogue {n}", block.strip()))
    return blocks


def unit_effects(bundle, text: str, layer: str) -> dict | None:
    """Each unit of the dialogue BiLSTM (`context`) against the CRF's Viterbi path (seqviz.states.effects): its
    weight into the emissions of the path's tags (the mean over the utterances), and the drop in the path's
    log-probability log P(path | dialogue) with the unit's output zeroed at every utterance (emissions are a
    Dense layer over that output: the 2H variants' emissions at once, then the forward algorithm each). The
    word-level BiLSTM reaches the CRF only through the dialogue BiLSTM: None."""
    from seqviz import states
    if layer != "context":
        return None
    r = predict(bundle, text)
    em0, tr, path = np.array(r["emissions"]), np.array(r["transitions"]), r["path"]
    h = states.outputs(bundle, text, "context")
    seq = np.concatenate([h["forward"], h["backward"]], axis=1)                        # (U, 2H)
    dense = bundle.model.get_layer("emissions")
    w = dense.kernel.numpy().astype(np.float64)                                       # (2H, K)
    base = crf.log_likelihood(em0, tr, path)
    dropped = [base - crf.log_likelihood(em0 - np.outer(seq[:, k], w[k]), tr, path) for k in range(len(w))]
    into = w[:, path].mean(axis=1)                                                     # (2H,)
    return {"target": "log P(Viterbi path)", "base": float(base), "link": "weight into the path's tags (mean)",
            "weights": states.per_direction(into, h), "ablation": states.per_direction(dropped, h)}


def _pooled(h: np.ndarray, how: str) -> np.ndarray:
    """MaskedPool in numpy over the word BiLSTM's outputs h (N, W, D), NaN at padding -> (N, D): the `mean` or
    element-wise `max` over the real words, or the state at the `last` real word."""
    real = ~np.isnan(h[..., 0])                                                        # (N, W)
    if how == "max":
        return np.nanmax(h, axis=1)
    if how == "last":
        return h[np.arange(len(h)), real.sum(axis=1) - 1]
    return np.nanmean(h, axis=1)


def context_importance(bundle, text: str, target=None) -> dict:
    """What each utterance contributes to the tag of utterance u: the drop in the log-odds of the CRF's marginal
    of that tag at u when the utterance's words are all read as <unk> (all variants in one forward pass) ->
    {"utterance" (u, 0-based), "tag", "marginal", "log_odds", "drop" (one per utterance; u's own included)}."""
    r = predict(bundle, text)
    u, tag = _pick(r, target)
    p, vocab = bundle.params, bundle.vocabs["words"]
    ids = encode(vocab, r["utterances"], p["max_words"], r["speakers"] if p["use_speaker"] else None)
    k = r["labels"].index(tag)
    lead = int(p["use_speaker"])
    variants = [[row if j != i else row[:lead] + [vocab.unk_id] * (len(row) - lead) for j, row in enumerate(ids)]
                for i in range(len(ids))]
    def log_odds(em, tr):      # log P(tag at u) − log P(another tag at u), from the two log-partitions
        others = em.copy()
        others[u, k] = -1e4
        only = np.full_like(em, -1e4)
        only[u, k] = em[u, k]
        only = np.where(np.arange(len(em))[:, None] == u, only, em)
        return crf.log_partition(only, tr) - crf.log_partition(others, tr)

    base = log_odds(*scores(bundle.model, [ids])[0])
    drops = [base - log_odds(em, tr) for em, tr in scores(bundle.model, variants)]
    return {"utterance": u, "tag": tag, "marginal": float(np.array(r["marginals"])[u, k]), "log_odds": float(base),
            "drop": [float(d) for d in drops]}


def viterbi_of(r: dict) -> crf.Viterbi:
    """The Viterbi decode a prediction (or a replay's snapshot) carries: its path, score, and per step and tag
    the best score of a path ending there and its backpointer (what the lattice draws). A snapshot recorded
    before predictions carried the last two is decoded again from its emissions and transitions."""
    if "backpointers" not in r:
        return crf.viterbi(np.array(r["emissions"]), np.array(r["transitions"]))
    return crf.Viterbi(path=list(r["path"]), score=float(r["path_score"]), cumulative=np.array(r["cumulative"]),
                       backpointers=np.array(r["backpointers"], dtype=np.int64))


def diff(a, ra: dict, b, rb: dict) -> dict:
    """Two models on one dialogue (seqviz.compare): the utterances whose tags differ, the share that agree,
    and the label sets (what only one model knows is never compared)."""
    from seqviz.compare import shared
    differs = [i for i, (x, y) in enumerate(zip(ra["tags"], rb["tags"])) if x != y]
    return {"differs": differs, "agreement": 1 - len(differs) / len(ra["tags"]),
            "labels": shared(ra["labels"], rb["labels"]), "heads": [a.params["head"], b.params["head"]]}


# ---------------------------------------------------------------------------------------------
# Replay (seqviz.replay): the CRF on one probe dialogue, epoch by epoch
# ---------------------------------------------------------------------------------------------
PROBE_UTTERANCES = 30     # your data's probe: the first held-out dialogue, cut to this many utterances


def probe(params: dict, data: Dialogues | None) -> dict:
    """The replay's input: the page's example dialogue, or your first held-out (test) dialogue."""
    if data is None:
        return {"text": EXAMPLE}
    if data.split is not None:
        i = next(i for i, s in enumerate(data.split) if s == "test")
    else:
        i = holdout(len(data.utterances), params["seed"])[1][0]
    who = data.speakers[i] if data.speakers else [""] * len(data.utterances[i])
    lines = [f"{w}: {u}" if w else u for w, u in zip(who, data.utterances[i]) if tokenize(u)][:PROBE_UTTERANCES]
    return {"text": "\n".join(" ".join(line.split()) for line in lines)}


def snapshot(bundle, text: str) -> dict:
    """One epoch of a replay: the whole prediction (emissions, transitions, Viterbi path, per-utterance argmax,
    marginals)."""
    return predict(bundle, text)


def story(rep: dict) -> dict:
    """What changed over a replay: per epoch, the share of tags already equal to the final Viterbi path and how
    many utterances the CRF overrules (its tag is not the utterance's own argmax); in words, the tags that
    flipped at each epoch and when the path settled."""
    snaps = rep["snapshots"]
    final = snaps[-1]["tags"]
    lines = {"tags as in the final path": [float(np.mean([a == b for a, b in zip(s["tags"], final)])) for s in snaps],
             "utterances the CRF overrules": [sum(a != b for a, b in zip(s["tags"], s["greedy_tags"])) for s in snaps]}
    events = []
    for a, b in zip(snaps, snaps[1:]):
        flips = [i for i, (x, y) in enumerate(zip(a["tags"], b["tags"])) if x != y]
        if flips:
            shown = "; ".join(f"{i + 1} ({b['utterances'][i][:24]!r}) {a['tags'][i]} → {b['tags'][i]}"
                              for i in flips[:4])
            events.append(f"Epoch {b['epoch']}: {len(flips)} tag{'s' * (len(flips) > 1)} flip: {shown}"
                          + (" …" if len(flips) > 4 else "") + ".")
    since = replay.first_stable([s["tags"] for s in snaps])
    if since is not None:
        events.append(f"From epoch {snaps[since]['epoch']} on the Viterbi path is the final one.")
    return {"lines": lines, "events": events}


def serving(bundle):
    """The export's signature (seqviz.export): a dialogue's utterances -> the CRF's Viterbi tags (tf2crf's
    own decode, in the graph), the emissions and the transitions, tokenised as `predict` does."""
    from seqviz import export
    vocab, tags = bundle.vocabs["words"], bundle.vocabs["tags"]
    ids_of = export.table(vocab)
    use_speaker = bundle.params["use_speaker"]

    def serve(utterances, speakers=None):
        words = export.tokenize(utterances)[:, :bundle.params["max_words"]]         # (U, None): cut as in training
        ids = export.pad_ragged(ids_of.lookup(words))                               # (U, W)
        empty = tf.equal(words.row_lengths(), 0)[:, None] & tf.equal(tf.range(tf.shape(ids)[1]), 0)[None]
        ids = tf.where(empty, vocab.unk_id, ids)                 # a wordless utterance reads <unk>, as `encode`
        if speakers is not None:                                 # each row starts with its turn flag, as `turns`
            prev = tf.concat([[""], speakers[:-1]], 0)
            changed = (tf.range(tf.size(speakers)) > 0) & (speakers != "") & (prev != "") & (speakers != prev)
            ids = tf.concat([tf.where(changed, 2, 1)[:, None], ids], 1)
        path, emissions, _, transitions = bundle.model(ids[None], training=False)
        return {"tags": export.words(tags, path[0]), "emissions": emissions[0], "transitions": transitions,
                "labels": tf.constant(tags.tokens)}

    spec = [tf.TensorSpec([None], tf.string, name="utterances")]
    inputs = {"utterances": "(U,) string: the dialogue, one utterance per element, without speaker prefixes"}
    example = {"utterances": repr(parse(EXAMPLE)[1][:4])}
    if use_speaker:
        spec.append(tf.TensorSpec([None], tf.string, name="speakers"))
        inputs["speakers"] = "(U,) string: who says each utterance (the model reads where the speaker changes)"
        example["speakers"] = repr(parse(EXAMPLE)[0][:4])
    one = export.Serving(tf.function(serve, input_signature=spec), inputs,
                         {"tags": "(U,) string: the CRF's Viterbi tag of each utterance",
                          "emissions": "(U, K) float: the per-utterance tag scores (the CRF's unary potentials)",
                          "transitions": "(K, K) float: the CRF's tag-to-tag scores, from row to column",
                          "labels": "(K,) string: the tag set, in the order of the emission columns"},
                         example, [ids_of])
    # a batch of dialogues: (N, U) padded with "" (`predict` never reads an empty utterance), dropped per row
    speakers, utterances = parse(EXAMPLE)
    batch = {"utterances": [utterances[:4], utterances[4:6] + ["", ""]]}
    if use_speaker:
        batch["speakers"] = [speakers[:4], speakers[4:6] + ["", ""]]
    return export.one_or_many(one, batch, trim=lambda u, *rest: [tf.boolean_mask(x, tf.not_equal(u, ""))
                                                                 for x in (u, *rest)],
                              many='a batch of N dialogues (N, U), the shorter ones padded with ""')
