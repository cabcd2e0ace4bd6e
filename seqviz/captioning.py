"""Captioning: a two-headed multi-task captioner over image feature vectors.

Where it comes from: a Keras user built a multi-task image captioner, two encoder-decoders over 4096-d
image features (VGG fc7-like) whose LSTM outputs are concatenated into two softmax heads, one per caption
dataset. Training died deep inside TensorFlow with "All dimensions except 1 must match ... [4 500] vs
[47 500]" (ConcatOffset): their generator yielded every (partial caption, next word) pair of a caption,
47 of them for one branch and 4 for the other, in the same batch. Here the pipeline (`Pairs`) yields one
row per (scene, step) for BOTH captions, and `check_batch` refuses unequal branches with a sentence.

    branch k (k = 1, 2), one row per (scene, step t); L_k = max_len_k (0: the longest caption k + 1):
      features_k (B, D) -> Dropout -> Dense(image_units, relu) -> RepeatVector(L_k)  (B, L_k, I)
      partial_k  (B, L_k) ids "<s> w1 .. wt", 0-padded -> Embedding(mask_zero) (B, L_k, E)
      concatenate (B, L_k, I + E) -> LSTM(units) -> h_k (B, units)   (its state after the last real word)
    [h_1, h_2] (B, 2 units) -> Dense(V_1, softmax) next word of caption 1
                            -> Dense(V_2, softmax) next word of caption 2

Both branches get the same scene's features (two inputs, so a branch can be switched off: the page's
ablation feeds zeros to one of them). Each head reads BOTH LSTM states.

Toy data: scenes of one or two groups of objects (`max_objects`, 1 by default), each group a count (1-4),
colour, shape and position (left, right, top, bottom, centre; two groups never share one). Caption 1 is an
English sentence ("there are two red circles on the left and a blue star at the top"), caption 2 a terse
French label ("deux cercles rouges à gauche et une étoile bleue en haut", with gender and number agreement):
different vocabularies and lengths (8 and 5 words for one group, 15 and 11 for two). The feature vector is a
fixed function of the scene: every position p has a seeded random projection P_p (13 attribute one-hots ->
D, seed `PROJECTION_SEED`, the same for every model), and

    features = relu(sum over groups of onehot(count, colour, shape) @ P_position + noise * N(0, 1))

so, like a CNN's pooled features, what an object is and where it is are mixed into every dimension.

Training pairs: for a scene whose captions have n_1 and n_2 words, rows t = 0 .. max(n_1, n_2): at step
t branch k reads "<s>" and the first min(t, n_k) words of caption k, and its target is word t+1, "</s>"
at t = n_k, and nothing (sample weight 0) after that. A caption that has ended stays fed in full, as
decoding feeds it.

Decoding (both heads share `seqviz.decoding`'s beam search): the greedy captions are decoded in LOCK-STEP:
at step t each branch reads its own head's words so far, and both heads pick their argmax. Beam search
decodes one head at a time while the other branch reads the other head's lock-step greedy caption, cut to
step t exactly as in lock-step, so a beam of width 1 reproduces the greedy captions. A scene's greedy
captions and both beams are one graph (`_compiled`), one call: it runs each branch's LSTM cell a word at a
time, keeping its state, which is where re-reading the whole partial caption each step would get to.

The default model (`models/captioning/default`, seed 0, `python -m seqviz train captioning --name
default`, 13-24 s on 2 shared cores) is scored on 162 held-out scenes whose object combination never
occurs among its training scenes: exact match 0.98 for caption 1 and 0.94 for caption 2 (BLEU-1 1.00 and
0.99; the first shipped model, trained with older code: 1.00 / 0.97); seeds 1 and 2 gave 1.00 / 0.90 and
1.00 / 1.00. Zeroing one branch's features hurts BOTH heads, since each reads both LSTM states (branch 1
zeroed: 0.16 / 0.33; branch 2 zeroed: 0.50 / 0.53). Two groups
per scene is a harder task: `max_objects=2, n_scenes=3000, epochs=8` reaches 0.59 / 0.60 (BLEU-1 0.95 /
0.93) in ~100 s.
"""
from __future__ import annotations

import io
import re
from dataclasses import dataclass
from functools import lru_cache
from typing import Sequence

import numpy as np
import tensorflow as tf

from seqviz import budget, decoding, graphs
from seqviz.contract import Out
from seqviz.errors import SeqvizError
from seqviz.params import SEED, Param
from seqviz.heldout import holdout, kept
from seqviz.run import UNWATCHED, Run, phase
from seqviz.uploads import check_size, read_csv
from seqviz.vocab import PAD, UNK, Vocab, tokenize

# ---------------------------------------------------------------------------------------------
# Scenes and their two captions
# ---------------------------------------------------------------------------------------------
START, END = "<s>", "</s>"
COUNTS = [1, 2, 3, 4]
COLOURS = ["red", "green", "blue", "yellow", "purple"]
SHAPES = ["circle", "square", "triangle", "star"]
POSITIONS = ["left", "right", "top", "bottom", "centre"]       # also the order groups are described in
EN_COUNT = {1: "a", 2: "two", 3: "three", 4: "four"}
EN_WHERE = {"left": "on the left", "right": "on the right", "top": "at the top", "bottom": "at the bottom",
            "centre": "in the centre"}
FR_SHAPE = {"circle": ("cercle", "m"), "square": ("carré", "m"), "triangle": ("triangle", "m"),
            "star": ("étoile", "f")}
FR_COLOUR = {"red": ("rouge", "rouge"), "green": ("vert", "verte"), "blue": ("bleu", "bleue"),
             "yellow": ("jaune", "jaune"), "purple": ("violet", "violette")}   # (masculine, feminine)
FR_COUNT = {2: "deux", 3: "trois", 4: "quatre"}
FR_WHERE = {"left": "à gauche", "right": "à droite", "top": "en haut", "bottom": "en bas", "centre": "au centre"}
HEADS = ("caption 1 (English sentence)", "caption 2 (French label)")


def heads(bundle) -> list[str]:
    """What the two heads write: the generated scenes' English sentence and French label, or your captions."""
    return list(HEADS) if bundle.data.get("source") != "upload" else ["caption 1", "caption 2"]
PROJECTION_SEED = 20_240_501
MAX_ROWS = 64               # rows of an uploaded .npy decoded at once
MAX_HELDOUT = 60            # held-out pairs a model of your files keeps for the page (60 x D float32: 1 MB at 4096)

Group = tuple  # (count, colour, shape, position)


def english(scene: Sequence[Group]) -> list[str]:
    parts = [f"{EN_COUNT[n]} {colour} {shape}{'s' if n > 1 else ''} {EN_WHERE[where]}"
             for n, colour, shape, where in scene]
    return ("there " + ("are " if scene[0][0] > 1 else "is ") + " and ".join(parts)).split()


def french(scene: Sequence[Group]) -> list[str]:
    parts = []
    for n, colour, shape, where in scene:
        noun, gender = FR_SHAPE[shape]
        adj = FR_COLOUR[colour][gender == "f"]
        count = ("une" if gender == "f" else "un") if n == 1 else FR_COUNT[n]
        plural = "s" if n > 1 else ""
        parts.append(f"{count} {noun}{plural} {adj}{plural} {FR_WHERE[where]}")
    return " et ".join(parts).split()


def make_scenes(n: int, max_objects: int = 2, seed: int = 0) -> list[tuple[Group, ...]]:
    """n random scenes of 1..max_objects groups at distinct positions, in POSITIONS order."""
    rng = np.random.default_rng(seed)
    scenes = []
    for _ in range(n):
        where = sorted(rng.choice(len(POSITIONS), size=rng.integers(1, max_objects + 1), replace=False))
        scenes.append(tuple((COUNTS[rng.integers(len(COUNTS))], COLOURS[rng.integers(len(COLOURS))],
                             SHAPES[rng.integers(len(SHAPES))], POSITIONS[w]) for w in where))
    return scenes


@lru_cache(maxsize=4)
def projection(dim: int) -> np.ndarray:
    """(positions, 13, dim): one fixed random projection of the attribute one-hots per position (read-only;
    drawn once per dim, ~3 ms at 4096)."""
    n_attr = len(COUNTS) + len(COLOURS) + len(SHAPES)
    proj = np.random.default_rng(PROJECTION_SEED).standard_normal((len(POSITIONS), n_attr, dim)) / np.sqrt(3)
    proj.flags.writeable = False
    return proj


def scene_features(scenes: Sequence[Sequence[Group]], dim: int, noise: float = 0.0,
                   seed: int = 0) -> np.ndarray:
    """(N, dim) float32 features: relu(sum over groups of onehot(count, colour, shape) @ P_position + noise)."""
    proj = projection(dim)
    offsets = np.cumsum([0, len(COUNTS), len(COLOURS)])
    x = np.zeros((len(scenes), dim))
    for i, scene in enumerate(scenes):
        for n, colour, shape, where in scene:
            rows = [offsets[0] + COUNTS.index(n), offsets[1] + COLOURS.index(colour), offsets[2] + SHAPES.index(shape)]
            x[i] += proj[POSITIONS.index(where), rows].sum(0)
    x += noise * np.random.default_rng(seed).standard_normal(x.shape)
    return np.maximum(x, 0).astype(np.float32)


# Sample scenes for the page and the CLI (`--text "sample 2"`), and as downloadable .npy files.
SAMPLES = [((2, "red", "circle", "left"),), ((1, "blue", "star", "top"),), ((4, "yellow", "triangle", "centre"),),
           ((3, "green", "square", "bottom"),), ((1, "purple", "circle", "right"),), ((3, "blue", "star", "left"),)]
EXAMPLE = "sample 1"


def sample_features(i: int, dim: int, noise: float) -> np.ndarray:
    """(dim,) features of sample scene i (0-based), with a fixed noise draw per sample."""
    return scene_features([SAMPLES[i]], dim, noise, seed=1000 + i)[0]


@dataclass
class SceneData:
    scenes: list
    features: np.ndarray            # (N, D) float32
    captions: tuple                 # (caption 1 words per scene, caption 2 words per scene)


def make_data(n: int, max_objects: int, dim: int, noise: float, seed: int) -> SceneData:
    scenes = make_scenes(n, max_objects, seed)
    return SceneData(scenes, scene_features(scenes, dim, noise, seed + 1),
                     ([english(s) for s in scenes], [french(s) for s in scenes]))


def split(scenes: Sequence[tuple], seed: int) -> tuple[list[int], list[int]]:
    """(train, held-out) scene indices, held out by object combination: a held-out scene's objects never
    occur together in a training scene."""
    combos = sorted(set(scenes))
    held = {combos[i] for i in holdout(len(combos), seed)[1]}
    return ([i for i, s in enumerate(scenes) if s not in held], [i for i, s in enumerate(scenes) if s in held])


def seen_in_training(params: dict, scene: tuple) -> bool:
    """Whether a model trained with `params` saw this exact scene (its data is regenerated from the seed)."""
    return tuple(scene) in _training_scenes(params["n_scenes"], params["max_objects"], params["seed"])


@lru_cache(maxsize=8)
def _training_scenes(n_scenes: int, max_objects: int, seed: int) -> frozenset:
    scenes = make_scenes(n_scenes, max_objects, seed)
    return frozenset(scenes[i] for i in split(scenes, seed)[0])


# ---------------------------------------------------------------------------------------------
# Your own data: image features (.npy, N x D) and a captions CSV (row, caption_1, caption_2)
# ---------------------------------------------------------------------------------------------
READ_COST = {"upload": 12, "features": 3}     # bytes held per byte read (seqviz.budget.check_read)
FILES = {"features": "your image features: a .npy of shape (N, D), one image per row (the CSV's row column "
                     "indexes it)"}


@dataclass
class UserData:
    """A user's two files, checked: every caption pair with the feature row of its image."""
    features: np.ndarray            # (N, D) float32: one row per image
    rows: np.ndarray                # (M,) int: caption pair i describes image rows[i]
    captions: tuple                 # (caption 1 words per pair, caption 2 words per pair)
    filename: str = "captions.csv"
    scenes: list | None = None      # generated held-out scenes: what each pair's image shows
    image_rows: list | None = None  # kept held-out pairs: each one's image as your features file numbers it


def read_upload(raw: bytes, filename: str = "captions.csv", features: tuple | None = None) -> UserData:
    """Captions (a CSV with columns row,caption_1,caption_2; `row` indexes the features) and `features`
    (filename, raw .npy of shape (N, D)), read with `allow_pickle=False`. Each caption is read as lower-cased
    words (`seqviz.vocab.tokenize`)."""
    if features is None:
        raise SeqvizError(f"Training on your own captions needs two files: {filename} (columns row,caption_1,"
                          "caption_2) and your image features, a .npy of shape (N, D) (CLI: --features).")
    fname, fraw = features
    x = read_features(fraw, fname, None, max_rows=None)
    if x.ndim != 2 or len(x) < 2:
        raise SeqvizError(f"{fname} has shape {x.shape}; training needs (N, D): one feature vector per image, "
                          "at least 2 images.")
    df = read_csv(raw, filename, ["row", "caption_1", "caption_2"])
    rows = np.zeros(len(df), np.int64)
    for i, cell in enumerate(df.row):
        if not cell.isascii() or not cell.isdigit():
            raise SeqvizError(f"{filename}: data row {i + 1} has row {cell!r}; the row column takes the index "
                              f"(0, 1, 2, ...) of an image's feature vector in {fname}.")
        rows[i] = int(cell)
    out = np.flatnonzero(rows >= len(x))
    if len(out):
        raise SeqvizError(f"{filename}: data row {out[0] + 1} points at feature row {rows[out[0]]}, but {fname} has "
                          f"{len(x):,} rows (0-{len(x) - 1}); {len(out):,} rows point beyond it.")
    captions = []
    for k in (1, 2):
        words = [tokenize(c) for c in df[f"caption_{k}"]]
        empty = [i for i, w in enumerate(words) if not w]
        if empty:
            raise SeqvizError(f"{filename}: data row {empty[0] + 1} has an empty caption_{k} ({len(empty):,} rows "
                              "do); every row needs both captions, with words.")
        captions.append(words)
    images = len(np.unique(rows))
    if len(df) < 20 or images < 2:
        raise SeqvizError(f"{filename} has {len(df)} caption pairs of {images} image{'s' * (images != 1)}; at least "
                          "20 pairs of 2 images are needed (some images are held out to measure the model).")
    return UserData(x, rows, tuple(captions), filename)


def check_params(params: dict, data: UserData | None = None) -> dict:
    """The settings a run trains with: with your files, feature_dim is their D, and each caption input length
    (max_len1, max_len2; 0 = the longest caption + 1 for <s>) is checked against the longest caption."""
    if data is None:
        return params
    d = data.features.shape[1]
    if not 8 <= d <= 8192:
        raise SeqvizError(f"The features have D = {d} values per image; the model takes 8 to 8192.")
    params = {**params, "feature_dim": d}
    for k, caps in ((1, data.captions[0]), (2, data.captions[1])):
        longest = int(np.argmax([len(c) for c in caps]))
        need = len(caps[longest]) + 1
        if need > 64 or (params[f"max_len{k}"] and need > params[f"max_len{k}"]):
            limit = params[f"max_len{k}"] or 64
            raise SeqvizError(f"{data.filename}: data row {longest + 1}'s caption_{k} has {need - 1} words, which "
                              f"needs max_len{k} >= {need} (the words plus <s>); it is {limit}"
                              + (" at most: shorten the caption." if need > 64 else f". Raise max_len{k} (or 0)."))
        params[f"max_len{k}"] = params[f"max_len{k}"] or need
    return params


def split_images(rows: np.ndarray, seed: int) -> tuple[list[int], list[int]]:
    """(training, held-out) caption-pair indices: 15% of the images (seeded) held out, with all their pairs."""
    images = np.unique(rows)
    held = set(images[holdout(len(images), seed)[1]].tolist())
    return [i for i, r in enumerate(rows) if r not in held], [i for i, r in enumerate(rows) if r in held]


PARAMS = [
    Param("n_scenes", 1200, 50, 50_000, "generated scenes (15% of the object combinations held out)", generated=True),
    Param("max_objects", 1, 1, 2, "groups of objects per scene, at most (2: longer captions, slower training)",
          generated=True),
    Param("noise", 0.3, 0.0, 3.0, "std of the Gaussian noise added to every feature before the ReLU",
          label="feature noise (std)", generated=True),
    Param("feature_dim", 4096, 8, 8192, "image feature vector size D (4096 like VGG's fc7)"),
    Param("max_len1", 0, 0, 64, "caption 1 input length (RepeatVector n), at least its longest sentence + 1 "
          "for <s>; 0 = exactly that"),
    Param("max_len2", 0, 0, 64, "caption 2 input length (RepeatVector n), at least its longest label + 1 "
          "for <s>; 0 = exactly that"),
    Param("dropout", 0.2, 0.0, 0.9, "dropout on the image features"),
    Param("image_units", 64, 4, 1024, "Dense size of each branch's image projection"),
    Param("embed_dim", 32, 4, 512, "word embedding size"),
    Param("units", 64, 4, 1024, "LSTM units per branch"),
    Param("epochs", 5, 1, 50, "passes over the training pairs"),
    Param("batch_size", 128, 8, 2048, "(scene, step) rows per batch, the same for both branches"),
    Param("learning_rate", 0.005, 1e-5, 0.1, "Adam step size"),
    SEED,
]
QUICK = {"n_scenes": 600, "epochs": 3}      # the sidebar's Quick preset (the rest as PARAMS)
PREDICT_PARAMS = [
    Param("beam", 3, 1, decoding.MAX_BEAM, "beam width per head (1 = the lock-step greedy captions)"),
    Param("top_k", 5, 1, 20, "alternatives shown per step"),
    Param("ablate", "none", help="zero one branch's image features", choices=("none", "1", "2")),
]
RESULT = {   # what predict returns (seqviz.contract): H heads (2), K beams; a .npy of N rows gives "rows"
    "scene": Out(str, (), "the scene the text describes (a typed or sample scene)", optional=True),
    "truth": Out(list[str] | None, ("H",), "the scene's true captions, one per head", optional=True),
    "seen_in_training": Out(bool, (), "the scene was among the training scenes", optional=True),
    "heads": Out(list[str], ("H",), "what each head writes"),
    "ablate": Out(str, (), "the branch zeroed: none, 1 or 2"),
    "captions": Out(list[str], ("H",), "each head's best beam", optional=True),
    "greedy": Out(list[str], ("H",), "each head's greedy caption", optional=True),
    "beams": Out(list[list[dict]], ("H", "K"), "each head's beams: caption, tokens, logprob, step_logprobs, finished",
                 optional=True),
    "steps": Out(list[list[dict]], ("H",), "each head's best caption per step: word, prob, top alternatives",
                 optional=True),
    "logprob": Out(list[float], ("H",), "each head's best caption's log-probability", optional=True),
    "rows": Out(list[dict], ("N",), "a .npy of N feature rows: one result per row (the keys above)", optional=True),
}


# ---------------------------------------------------------------------------------------------
# The model
# ---------------------------------------------------------------------------------------------
def input_lengths(params: dict) -> tuple[int, int]:
    """(L_1, L_2): the partial-caption input lengths; 0 in the settings = the longest caption of scenes with
    max_objects groups + 1 for <s> (English: 2 + 7 words per group, less 1; French: 6 per group, less 1)."""
    g = params["max_objects"]
    return params["max_len1"] or 7 * g + 2, params["max_len2"] or 6 * g


def memory(params: dict, data=None) -> list[budget.Term]:
    """What a training run holds (seqviz.budget): the weights, one batch of (scene, step) rows through both
    branches (the gathered features, the image projections, the LSTMs), and the scenes' features (made in
    float64, kept as float32, copied into training and held-out sets)."""
    n, d, i, e, h, b = (params[k] for k in ("n_scenes", "feature_dim", "image_units", "embed_dim", "units",
                                             "batch_size"))
    lengths, v = input_lengths(params), 64          # the generated captions' vocabularies are smaller than 64
    if data is not None:                            # your files: a feature row copied per caption pair
        n, v = len(data.rows), max(len({w for c in caps for w in c}) for caps in data.captions) + 4
    w = 2 * (d + 1) * i + 2 * v * e + 2 * budget.lstm_weights(i + e, h) + 2 * (2 * h + 1) * v
    return [budget.weights(w, {"feature_dim": d, "image_units": i}),
            budget.Term("one batch's features", 2 * 3 * b * d * budget.FLOAT, {"batch_size": b, "feature_dim": d}),
            budget.Term("one batch through both LSTMs",
                        sum(budget.lstm_activations(b, n_k, h, i + e) for n_k in lengths),
                        {"batch_size": b, "units": h}),
            budget.Term("the scenes' features", n * d * (2 * 8 + 2 * budget.FLOAT), {"n_scenes": n, "feature_dim": d},
                        "data")]


def build(params: dict, vocabs: dict[str, Vocab]) -> tf.keras.Model:
    dim, lengths = params["feature_dim"], input_lengths(params)
    inputs, states = [], []
    for k in (1, 2):
        features = tf.keras.Input(shape=(dim,), name=f"features_{k}")
        partial = tf.keras.Input(shape=(lengths[k - 1],), dtype="int32", name=f"partial_{k}")
        x = tf.keras.layers.Dropout(params["dropout"], name=f"dropout_{k}")(features)
        x = tf.keras.layers.Dense(params["image_units"], activation="relu", name=f"image_{k}")(x)
        x = tf.keras.layers.RepeatVector(lengths[k - 1], name=f"repeat_{k}")(x)        # (B, L_k, I)
        words = tf.keras.layers.Embedding(len(vocabs[f"caption{k}"]), params["embed_dim"], mask_zero=True,
                                          name=f"embedding_{k}")(partial)                       # (B, L_k, E)
        x = tf.keras.layers.Concatenate(name=f"concat_{k}")([x, words])   # the embedding's mask carries over
        # RNN(LSTMCell) is Keras' LSTM without its cuDNN/CPU implementation switch, which doubles the graph
        # to trace (the first epoch's cost on a CPU); short inputs are unrolled, which trains faster still.
        lstm = tf.keras.layers.RNN(tf.keras.layers.LSTMCell(params["units"]), unroll=max(lengths) <= 16,
                                   name=f"lstm_{k}")
        states.append(lstm(x))                                                                   # (B, units)
        inputs += [features, partial]
    both = tf.keras.layers.Concatenate(name="both")(states)                                   # (B, 2 units)
    heads = [tf.keras.layers.Dense(len(vocabs[f"caption{k}"]), activation="softmax", name=f"next_{k}")(both)
             for k in (1, 2)]
    return tf.keras.Model(inputs, heads, name="two_headed_captioner")


KERAS_CODE = (build,)   # what the page's "Keras code" view shows, read from this file


def vocabularies(captions1, captions2) -> dict[str, Vocab]:
    specials = (PAD, UNK, START, END)
    return {"caption1": Vocab.build(captions1, specials=specials),
            "caption2": Vocab.build(captions2, specials=specials)}


# ---------------------------------------------------------------------------------------------
# The pipeline: one row per (scene, step) for both branches
# ---------------------------------------------------------------------------------------------
def check_batch(inputs: Sequence[np.ndarray], targets: Sequence[np.ndarray]) -> None:
    """Refuse a batch whose branches differ in size (what TF reports as "ConcatOffset ... [4 500] vs
    [47 500]"). inputs = [features_1, partial_1, features_2, partial_2], targets = [next_1, next_2]."""
    branches = [[("features_1", inputs[0]), ("partial_1", inputs[1]), ("next_1", targets[0])],
                [("features_2", inputs[2]), ("partial_2", inputs[3]), ("next_2", targets[1])]]
    for k, branch in enumerate(branches, 1):
        sizes = {name: len(a) for name, a in branch}
        if len(set(sizes.values())) > 1:
            listed = ", ".join(f"{n} has {s}" for n, s in sizes.items())
            raise SeqvizError(f"Branch {k}'s arrays differ in batch size ({listed}); every array of a branch "
                              "needs one row per (partial caption, next word) pair.")
    n1, n2 = len(inputs[0]), len(inputs[2])
    if n1 != n2:
        raise SeqvizError(f"The two branches got different batch sizes: branch 1 has {n1} samples and branch 2 "
                          f"has {n2}. Yield the same number of rows for both: one row per (scene, step) "
                          f"carrying both captions' partial caption and next word, with sample weight 0 for "
                          f"a caption that has already ended (as seqviz.captioning.Pairs does), instead of "
                          f"each caption's own list of pairs.")


def caption_ids(vocab: Vocab, captions: Sequence[Sequence[str]], max_len: int, k: int) -> list[list[int]]:
    """Ids of "<s> w1 .. wn" per caption, checked against the model's input length."""
    longest = max(map(len, captions))
    if longest + 1 > max_len:
        raise SeqvizError(f"Caption {k} has up to {longest} words, which needs max_len{k} >= {longest + 1} "
                          f"(the words plus <s>); it is {max_len}. Raise max_len{k}.")
    start = vocab.index[START]
    return [[start] + vocab.encode(c) for c in captions]


def step_rows(ids1: list[list[int]], ids2: list[list[int]], end1: int, end2: int, len1: int, len2: int):
    """All training rows of all scenes: scene index (R,), partial_k (R, L_k), next_k (R,), weight_k (R,)."""
    scene, out = [], {k: ([], [], []) for k in (1, 2)}
    for i, (s1, s2) in enumerate(zip(ids1, ids2)):
        n1, n2 = len(s1) - 1, len(s2) - 1                       # words (without <s>)
        for t in range(max(n1, n2) + 1):
            scene.append(i)
            for k, s, n, end in ((1, s1, n1, end1), (2, s2, n2, end2)):
                partials, nexts, weights = out[k]
                partials.append(s[:min(t, n) + 1])              # <s> + the words so far; a finished caption in full
                nexts.append(s[t + 1] if t < n else end if t == n else 0)
                weights.append(1.0 if t <= n else 0.0)
    rows = {"scene": np.array(scene, np.int32)}
    for k, length in ((1, len1), (2, len2)):
        partials, nexts, weights = out[k]
        rows[f"partial_{k}"] = pad(partials, length)
        rows[f"next_{k}"] = np.array(nexts, np.int32)
        rows[f"weight_{k}"] = np.array(weights, np.float32)
    return rows


def pad(seqs: Sequence[Sequence[int]], length: int) -> np.ndarray:
    out = np.zeros((len(seqs), length), np.int32)
    for i, s in enumerate(seqs):
        out[i, :len(s)] = s
    return out


class Pairs(tf.keras.utils.Sequence):
    """Batches ([features_1, partial_1, features_2, partial_2], [next_1, next_2], [weight_1, weight_2]):
    one row per (scene, step) for BOTH captions, so the branches always have the same batch size. The
    features (N, D) are gathered per batch (rows x 4096 floats would not fit in memory)."""

    def __init__(self, features: np.ndarray, rows: dict, batch_size: int, shuffle_seed: int | None = None):
        super().__init__()
        self.features, self.rows, self.batch_size = features, rows, batch_size
        self.order = np.arange(len(rows["scene"]))
        self.rng = None if shuffle_seed is None else np.random.default_rng(shuffle_seed)
        self.on_epoch_end()

    def __len__(self) -> int:
        return -(-len(self.order) // self.batch_size)

    def __getitem__(self, i: int):
        idx = self.order[i * self.batch_size:(i + 1) * self.batch_size]
        f = self.features[self.rows["scene"][idx]]
        inputs = [f, self.rows["partial_1"][idx], f, self.rows["partial_2"][idx]]
        targets = [self.rows["next_1"][idx], self.rows["next_2"][idx]]
        check_batch(inputs, targets)
        return inputs, targets, [self.rows["weight_1"][idx], self.rows["weight_2"][idx]]

    def on_epoch_end(self) -> None:
        if self.rng is not None:
            self.rng.shuffle(self.order)


# ---------------------------------------------------------------------------------------------
# Training
# ---------------------------------------------------------------------------------------------
def train_on(params: dict, vocabs: dict[str, Vocab], features: np.ndarray, captions1, captions2,
             val=None, run: Run = UNWATCHED):
    """Build, compile and fit on scenes given as features (N, D) and word lists; `val` is an optional
    (features, captions1, captions2) for val_loss. Returns (model, history)."""
    lengths = input_lengths(params)

    def pairs(feats, caps1, caps2, shuffle_seed):
        ids = [caption_ids(vocabs[f"caption{k}"], caps, lengths[k - 1], k) for k, caps in ((1, caps1), (2, caps2))]
        ends = [vocabs[f"caption{k}"].index[END] for k in (1, 2)]
        rows = step_rows(*ids, *ends, *lengths)
        return Pairs(feats, rows, params["batch_size"], shuffle_seed)

    if features.ndim != 2 or features.shape[1] != params["feature_dim"]:
        raise SeqvizError(f"The features have shape {features.shape}; feature_dim is {params['feature_dim']}.")
    model = build(params, vocabs)
    model.compile(tf.keras.optimizers.Adam(params["learning_rate"]),
                  loss=["sparse_categorical_crossentropy"] * 2, weighted_metrics=[["accuracy"], ["accuracy"]])
    hist = model.fit(pairs(features, captions1, captions2, params["seed"]),
                     validation_data=pairs(*val, None) if val is not None else None,
                     epochs=params["epochs"], callbacks=run.callbacks(model, vocabs), verbose=0, shuffle=False)
    return model, hist


def fit(params: dict, data: UserData | None = None, run: Run = UNWATCHED):
    params = check_params(params, data)
    if data is None:
        data = make_data(params["n_scenes"], params["max_objects"], params["feature_dim"], params["noise"],
                         params["seed"])
        images = np.arange(len(data.scenes))          # one caption pair per scene
        train_idx, val_idx = split(data.scenes, params["seed"])
        if len(train_idx) < 10 or not val_idx:
            raise SeqvizError(f"{params['n_scenes']} scenes give {len(train_idx)} training and {len(val_idx)} "
                              "held-out scenes; generate more scenes.")
    else:                                             # your pairs: held out by image
        images = data.rows
        train_idx, val_idx = split_images(images, params["seed"])
    train = (data.features[images[train_idx]], *([caps[i] for i in train_idx] for caps in data.captions))
    val = (data.features[images[val_idx]], *([caps[i] for i in val_idx] for caps in data.captions))
    phase("building vocabularies and the model")
    vocabs = vocabularies(*train[1:])
    model, _ = train_on(params, vocabs, *train, val, run)
    metrics = {"n_train": len(train_idx), "n_val": len(val_idx),
               "vocab_1": len(vocabs["caption1"]), "vocab_2": len(vocabs["caption2"])}
    for ablate in ("none", "1", "2"):
        scores = evaluate(model, params, vocabs, *val, ablate=ablate)
        prefix = "val" if ablate == "none" else f"ablate{ablate}"
        metrics.update({f"{prefix}_{name}": v for name, v in scores.items()})
    if isinstance(data, UserData):   # the page's held-out picker: your first held-out pairs, kept with the model
        keep = val_idx[:MAX_HELDOUT]
        metrics["heldout"] = {"row": images[keep].astype(np.int64), "features": val[0][:MAX_HELDOUT],
                              **{f"caption_{k + 1}": np.array([" ".join(c) for c in val[k + 1][:MAX_HELDOUT]])
                                 for k in (0, 1)}}
    # The store's .weights.h5 would also save the optimizer's slots (2 x the weights, > 5 MB with D = 4096):
    # hand back an uncompiled copy holding only the layers' weights.
    trained, model = model, build(params, vocabs)
    model.set_weights(trained.get_weights())
    return model, vocabs, metrics


def bleu1(candidate: Sequence[str], reference: Sequence[str]) -> float:
    """Clipped unigram precision times the brevity penalty (BLEU with n = 1, one reference)."""
    if not candidate:
        return 0.0
    ref = {w: reference.count(w) for w in set(reference)}
    clipped = sum(min(candidate.count(w), ref.get(w, 0)) for w in set(candidate))
    brevity = 1.0 if len(candidate) > len(reference) else float(np.exp(1 - len(reference) / len(candidate)))
    return brevity * clipped / len(candidate)


def evaluate(model, params, vocabs, features, captions1, captions2, ablate: str = "none") -> dict:
    """Lock-step greedy captions of every scene vs the true ones: exact match and BLEU-1 per head."""
    got = greedy_captions(model, params, vocabs, features, ablate)
    out = {}
    for k, truth in ((1, captions1), (2, captions2)):
        out[f"exact_{k}"] = float(np.mean([g == list(c) for g, c in zip(got[k - 1], truth)]))
        out[f"bleu1_{k}"] = float(np.mean([bleu1(g, c) for g, c in zip(got[k - 1], truth)]))
    return out


# ---------------------------------------------------------------------------------------------
# Decoding
# ---------------------------------------------------------------------------------------------
def forward(model, features: np.ndarray, partial1: np.ndarray, partial2: np.ndarray, ablate: str = "none"):
    """Both heads' next-word probabilities [(B, V_1), (B, V_2)] as numpy; `ablate` "1" or "2" feeds zeros
    as that branch's features. Through `graphs.forward`, traced once: an eager call runs the unrolled LSTMs
    op by op (~30x slower)."""
    x1, x2 = _branches(features, ablate)
    x = [x1, partial1, x2, partial2]
    spec = [tf.TensorSpec(i.shape, i.dtype) for i in model.inputs]   # any batch size: traced once
    return [p.numpy() for p in graphs.forward(model, x, spec)]


def greedy_batch(model, params, vocabs, features: np.ndarray, ablate: str = "none") -> list[np.ndarray]:
    """Lock-step greedy decoding of a batch of scenes (B, D): per head k, ids (B, L_k + 1) "<s> w1 .. wn"
    padded with 0, without "</s>". Head k takes at most L_k steps (a caption of L_k words is cut there);
    at every step branch k reads its own words so far, cut to its L_k inputs. One graph call."""
    return [p.numpy() for p in _compiled(model, params, vocabs).greedy(*_branches(features, ablate))]


def _branches(features: np.ndarray, ablate: str) -> list[np.ndarray]:
    """The two branches' features (B, D): the scenes', or zeros for the ablated one."""
    features = np.asarray(features, np.float32)
    return [np.zeros_like(features) if ablate == k else features for k in "12"]


@dataclass
class _Compiled:
    greedy: tf.types.experimental.GenericFunction   # (features_1, features_2) (B, D) -> greedy ids per head
    decode: tf.types.experimental.GenericFunction   # (features_1, features_2) (1, D), width, top_k
    #                                                 -> greedy ids per head, each head's search records


@graphs.once_per_model
def _compiled(model, params, vocabs) -> _Compiled:
    """Greedy and beam decoding as graphs, traced once per model: a decode is one call, not one per step.

    They run the trained layers a token at a time: each branch's LSTM cell reads the newest word and keeps
    its state. That is the state the model reaches by re-reading the whole partial caption (its padding is
    masked), in one cell step instead of L_k; `score` and the tests run the whole model to check it."""
    layer = {lay.name: lay for lay in model.layers}
    lengths = input_lengths(params)
    starts = [vocabs[f"caption{k}"].index[START] for k in (1, 2)]
    ends = [vocabs[f"caption{k}"].index[END] for k in (1, 2)]
    sizes = [len(vocabs[f"caption{k}"]) for k in (1, 2)]

    def read(k: int, image, token, h, c, on):
        """Branch k's LSTM reads `token` (B,) beside its image projection (B, I) where `on`; else keeps h, c."""
        x = tf.concat([image, layer[f"embedding_{k}"](token)], -1)              # as concat_k: image first
        _, (h2, c2) = layer[f"lstm_{k}"].cell(x, [h, c])
        return tf.where(on[:, None], h2, h), tf.where(on[:, None], c2, c)

    def heads(h1, h2):                                                            # [(B, V_1), (B, V_2)]
        both = tf.concat([h1, h2], -1)
        return [layer[f"next_{k}"](both) for k in (1, 2)]

    def greedy(x1, x2):
        b = tf.shape(x1)[0]
        images = [layer["image_1"](x1), layer["image_2"](x2)]                  # (B, I); no dropout here
        zero = tf.zeros([b, params["units"]])
        cols = [tf.range(n + 1)[None] for n in lengths]
        partial = [tf.concat([tf.fill([b, 1], s), tf.zeros([b, n], tf.int32)], 1) for s, n in zip(starts, lengths)]
        loop = (0, partial, [tf.ones([b], tf.int32)] * 2, [tf.zeros([b], tf.bool)] * 2, [zero] * 2, [zero] * 2,
                [tf.fill([b], s) for s in starts], [tf.ones([b], tf.bool)] * 2)

        def body(t, partial, n_tokens, done, h, c, last, reading):
            hc = [read(k + 1, images[k], last[k], h[k], c[k], reading[k]) for k in (0, 1)]
            h, c = [x[0] for x in hc], [x[1] for x in hc]
            probs = heads(*h)
            new = [[], [], [], [], []]
            for k in (0, 1):    # a live head appends its argmax; "</s>", or a caption of L_k words, ends it
                tok = tf.argmax(probs[k], -1, output_type=tf.int32)
                ended, grow = tf.equal(tok, ends[k]), ~done[k] & tf.not_equal(tok, ends[k])
                p = tf.where(grow[:, None] & tf.equal(cols[k], n_tokens[k][:, None]), tok[:, None], partial[k])
                n = n_tokens[k] + tf.cast(grow, tf.int32)
                d = done[k] | ended | (n > lengths[k])
                for out, x in zip(new, (p, n, d, tok, grow & ~d)):          # the branch reads it next step
                    out.append(x)
            return t + 1, new[0], new[1], new[2], h, c, new[3], new[4]

        def more(t, partial, n_tokens, done, *rest):
            return (t < max(lengths)) & ~tf.reduce_all(done[0] & done[1])
        return tf.while_loop(more, body, loop)[1]

    def head_step(head: int):
        """Head `head`'s step over state [h, c of its branch, h, c of the other, the two image projections
        (B, I), other (B, L_other): the other head's caption, which the other branch reads in step]."""
        mine, other_k, theirs = head, 3 - head, lengths[2 - head]

        def step(tokens, state, t):
            h, c, h_o, c_o, image, image_o, other = state
            h, c = read(mine, image, tokens, h, c, tf.ones_like(tokens, tf.bool))
            word = other[:, tf.minimum(t, theirs - 1)]                          # "<s> w1 .. wt" of the other
            h_o, c_o = read(other_k, image_o, word, h_o, c_o, (t < theirs) & tf.not_equal(word, 0))
            probs = heads(h, h_o) if head == 1 else heads(h_o, h)
            log_probs = tf.math.log(tf.maximum(probs[head - 1], 1e-30))
            return log_probs, [h, c, h_o, c_o, image, image_o, other], tf.zeros([tf.shape(tokens)[0], 0])
        return step

    x_spec, i32 = tf.TensorSpec((None, params["feature_dim"])), tf.TensorSpec([], tf.int32)
    # no autograph: the loops are tf.while_loop already (transpiling the Python was half of the trace)
    greedy_graph = tf.function(greedy, input_signature=[x_spec, x_spec], autograph=False)

    @tf.function(input_signature=[x_spec, x_spec, i32, i32], autograph=False)
    def decode(x1, x2, width, top_k):
        ids = greedy_graph(x1, x2)       # one trace, shared with the held-out evaluation's greedy_batch
        images, zero = [layer["image_1"](x1), layer["image_2"](x2)], tf.zeros([1, params["units"]])
        searches = []
        for head in (1, 2):    # each head's beam, the other branch reading the other head's greedy caption
            state = [zero, zero, zero, zero, images[head - 1], images[2 - head], ids[2 - head][:, :lengths[2 - head]]]
            searches.append(decoding.search_graph(head_step(head), sizes[head - 1], state, starts[head - 1],
                                                  ends[head - 1], width, lengths[head - 1], tf.zeros([0], tf.int32),
                                                  top_k))
        return ids, searches

    return _Compiled(greedy_graph, decode)


def diff(a, ra: dict, b, rb: dict) -> dict:
    """Two models on one scene (seqviz.compare): per head, whether the best captions and the greedy ones are
    the same, and each caption's log-probability. For a file of N rows, one such diff per row."""
    if "rows" in ra:
        return {"rows": [diff(a, x, b, y) for x, y in zip(ra["rows"], rb["rows"])]}
    return {"same_captions": [x == y for x, y in zip(ra["captions"], rb["captions"])],
            "same_greedy": [x == y for x, y in zip(ra["greedy"], rb["greedy"])],
            "logprob": {"a": ra["logprob"], "b": rb["logprob"]}}


def serving(bundle):
    """The export's signature (seqviz.export): image features (N, D) -> both heads' lock-step greedy captions
    (the same graph as the page's greedy decode), one string per row and head."""
    from seqviz import export
    params, vocabs = bundle.params, bundle.vocabs
    greedy = _compiled(bundle.model, params, vocabs).greedy
    dim = params["feature_dim"]

    @tf.function(input_signature=[tf.TensorSpec([None, dim], tf.float32, name="features")])
    def serve(features):
        ids = greedy(features, features)                  # per head (N, L_k + 1): "<s> w1 .. wn", 0-padded
        out = {}
        for k in (1, 2):
            rows = tf.RaggedTensor.from_tensor(ids[k - 1][:, 1:], padding=0)
            out[f"caption_{k}"] = tf.strings.reduce_join(export.words(vocabs[f"caption{k}"], rows), axis=-1,
                                                         separator=" ")
        return out

    return export.Serving(serve, {"features": f"(N, {dim}) float32: one image's features per row"},
                          {"caption_1": f"(N,) string: {heads(bundle)[0]}, greedy",
                           "caption_2": f"(N,) string: {heads(bundle)[1]}, greedy"},
                          {"features": 'np.load("features.npy").astype("float32")  # shape (N, D)'}, [])


def greedy_captions(model, params, vocabs, features, ablate: str = "none") -> list[list[list[str]]]:
    """Per head, per scene: the lock-step greedy caption as words."""
    out = []
    for k, ids in enumerate(greedy_batch(model, params, vocabs, features, ablate), 1):
        tokens = vocabs[f"caption{k}"].tokens
        out.append([[tokens[i] for i in row[1:] if i] for row in ids])
    return out


def head_inputs(params, head: int, rows: Sequence[Sequence[int]], other: Sequence[int] | None,
                others: Sequence[Sequence[int]] | None = None) -> tuple:
    """The model's (partial1, partial2) for head `head` (1 or 2): its partial captions `rows` ("<s> w1 ..",
    each of any length up to L_head) padded to L_head, and beside each the other branch's caption `other`
    (or each row's own, `others`) cut to the same length (as in lock-step decoding), padded to its own L."""
    mine, theirs = input_lengths(params)[head - 1], input_lengths(params)[2 - head]
    p_mine, p_theirs = np.zeros((len(rows), mine), np.int32), np.zeros((len(rows), theirs), np.int32)
    for i, row in enumerate(rows):
        p_mine[i, :len(row)] = row
        cut = (other if others is None else others[i])[:min(len(row), theirs)]
        p_theirs[i, :len(cut)] = cut
    return (p_mine, p_theirs) if head == 1 else (p_theirs, p_mine)


def decode(bundle, features: np.ndarray, beam: int = 3, top_k: int = 5, ablate: str = "none") -> dict:
    """Both heads of one scene (D,): lock-step greedy captions, then a beam per head, with the best beam's
    per-step top words and probabilities."""
    model, params, vocabs = bundle.model, bundle.params, bundle.vocabs
    decoding.check_width(beam)
    graph = _compiled(model, params, vocabs).decode
    ids, searches = graph(*_branches(features[None], ablate), np.int32(beam), np.int32(top_k))
    greedy = [g[:max(1, int(np.count_nonzero(g)))] for g in (i.numpy()[0] for i in ids)]   # "<s> w1 .. wn"
    out = {"captions": [], "greedy": [], "beams": [], "steps": [], "logprob": []}
    for head in (1, 2):
        vocab = vocabs[f"caption{head}"]
        end = vocab.index[END]

        def words(ids, vocab=vocab, end=end) -> str:
            return " ".join(vocab.tokens[i] for i in ids if i != end)

        beams = decoding.hypotheses(searches[head - 1], int(beam))
        best = beams[0]
        out["captions"].append(words(best.tokens))
        out["greedy"].append(words(greedy[head - 1][1:]))
        out["logprob"].append(best.logprob)
        out["beams"].append([{"caption": words(b.tokens), "logprob": b.logprob, "finished": b.finished,
                              "tokens": vocab.decode(b.tokens), "step_logprobs": b.step_logprobs} for b in beams])
        out["steps"].append([{"word": vocab.tokens[tok], "prob": float(np.exp(lp)),
                              "top": [{"word": vocab.tokens[i], "prob": float(np.exp(p))} for i, p in top]}
                             for tok, lp, top in zip(best.tokens, best.step_logprobs, best.topk)])
    return out


def score(bundle, features: np.ndarray, captions: Sequence[str], ablate: str = "none") -> list[list[float]]:
    """Per head: the probability of every word (and "</s>") of the given captions, each step reading the
    caption so far and the other branch the other caption cut to the same step (as `head_step` feeds them);
    e.g. the full model's captions under an ablated model."""
    return score_pairs(bundle, features[None], [captions], ablate)[0]


def score_pairs(bundle, features: np.ndarray, pairs: Sequence[Sequence[str]], ablate: str = "none"):
    """`score` of many images (B, D), each with its caption pair: per pair, per head, every word's probability.
    The model reads whole partial captions, so all steps of all pairs are one batch per head: a row per (pair,
    step t), holding the first t words."""
    model, params, vocabs = bundle.model, bundle.params, bundle.vocabs
    ids = [[[vocabs[f"caption{k}"].index[START]] + vocabs[f"caption{k}"].encode(c.split()) for k, c in
            ((1, pair[0]), (2, pair[1]))] for pair in pairs]
    out = [[None, None] for _ in pairs]
    for head in (1, 2):
        end, length = vocabs[f"caption{head}"].index[END], input_lengths(params)[head - 1]
        rows, others, owner, forced = [], [], [], []
        for i, pair in enumerate(ids):
            mine = pair[head - 1]
            words = (mine[1:] + [end])[:length]
            rows += [mine[:t + 1] for t in range(len(words))]     # step t reads <s> + the first t words
            others += [pair[2 - head]] * len(words)
            owner += [i] * len(words)
            forced += words
        x = np.asarray(features, np.float32)[owner]
        probs = forward(model, x, *head_inputs(params, head, rows, None, others), ablate)[head - 1]   # (rows, V)
        got = probs[np.arange(len(forced)), forced]
        for i in range(len(pairs)):
            out[i][head - 1] = [float(p) for p in got[np.array(owner) == i]]
    return out


# ---------------------------------------------------------------------------------------------
# Explanations (seqviz.explain): what each word of each head's caption rests on
# ---------------------------------------------------------------------------------------------
def heldout_cases(bundle, n: int = 60) -> list[tuple[np.ndarray, str]]:
    """seqviz.explain's held-out cases: every word of both heads' greedy captions of the held-out scenes (a model
    of your files: the held-out images it keeps), `n` in all."""
    p = bundle.params
    if bundle.data.get("source") == "upload":
        kept(bundle, "features", "images", "explain inputs of your own")
        x = np.stack([image["features"] for image in heldout_images(bundle)])
    else:
        data = make_data(p["n_scenes"], p["max_objects"], p["feature_dim"], p["noise"], p["seed"])
        x = data.features[split(data.scenes, p["seed"])[1][:n]]
    captions = greedy_captions(bundle.model, p, bundle.vocabs, x)
    lengths = input_lengths(p)
    cases = [(x[i], f"{h + 1}:{k + 1}") for i in range(len(x)) for h in (0, 1)
             for k in range(min(len(captions[h][i]) + 1, lengths[h]))]
    return cases[:n]


def heldout_data(bundle) -> UserData:
    """The model's held-out caption pairs with their images: generated scenes regenerated from its seed, or the
    pairs of your files it kept (the first MAX_HELDOUT)."""
    p = bundle.params
    if bundle.data.get("source") == "upload":
        h = kept(bundle, "features", "images", "score it on your files (CLI: --data with --features)")
        return UserData(np.asarray(h["features"], np.float32), np.arange(len(h["features"])),
                        tuple([str(c).split() for c in h[f"caption_{k}"]] for k in (1, 2)), "held-out images",
                        image_rows=[int(r) for r in h["row"]])
    data = make_data(p["n_scenes"], p["max_objects"], p["feature_dim"], p["noise"], p["seed"])
    val = split(data.scenes, p["seed"])[1]
    return UserData(data.features[val], np.arange(len(val)), tuple([c[i] for i in val] for c in data.captions),
                    "held-out scenes", [data.scenes[i] for i in val])


def score_examples(bundle, data: UserData, batch: int = 256):
    """Both heads' lock-step greedy captions of every pair's image, `batch` images at a time
    (seqviz.evaluate.Scored): a row per (pair, head), its input the scene in words (or "row N" of your
    features), exact match against the pair's own caption, BLEU-1, the
    probability of the caption, the image as the two branches read it (their projections, side by side: the
    map); sliced by head and, for generated scenes, by the groups of objects in the scene."""
    from seqviz.evaluate import Scored, bucket
    model, p, vocabs = bundle.model, bundle.params, bundle.vocabs
    names = heads(bundle)
    cols = {k: [] for k in ("input", "gold", "pred", "conf", "head", "bleu", "vector", "slice")}
    layer = [model.get_layer(f"image_{k}") for k in (1, 2)]
    for i in range(0, len(data.rows), batch):
        x = np.asarray(data.features[data.rows[i:i + batch]], np.float32)
        got = greedy_captions(model, p, vocabs, x)
        pairs = [(" ".join(a), " ".join(b)) for a, b in zip(*got)]
        probs = score_pairs(bundle, x, pairs)
        vectors = np.concatenate([lay(x).numpy() for lay in layer], axis=1)         # (B, 2 I)
        for b, j in enumerate(range(i, i + len(x))):
            for h in (0, 1):
                gold = data.captions[h][j]
                cols["input"].append(" ".join(english(data.scenes[j])) if data.scenes else
                                     f"row {(data.image_rows or data.rows)[j]}")
                cols["gold"].append(" ".join(gold))
                cols["pred"].append(pairs[b][h])
                cols["conf"].append(float(np.prod(probs[b][h])))
                cols["head"].append(names[h])
                cols["bleu"].append(bleu1(got[h][b], gold))
                cols["vector"].append(vectors[b])
                cols["slice"].append(f"{len(data.scenes[j])} group{'s' * (len(data.scenes[j]) > 1)} of objects"
                                     if data.scenes else bucket(len(gold), (5, 10, 20), "words"))
    n = len(cols["gold"])
    return Scored("caption", cols["input"], cols["gold"], cols["pred"], np.array(cols["conf"]),
                  shown_name="scene" if data.scenes else "image", accuracy_name="exact match",
                  slices={"head": cols["head"], "scene" if data.scenes else "caption length": cols["slice"]},
                  vectors=np.stack(cols["vector"]), measures={"BLEU-1": (np.array(cols["bleu"]), np.ones(n))})


@graphs.once_per_model
def _upto_lstms(model: tf.keras.Model) -> tf.keras.Model:
    """The model up to what each branch's LSTM reads: its image projection repeated beside its words."""
    return tf.keras.Model(model.inputs, [model.get_layer(f"concat_{k}").output for k in (1, 2)])


def lstm_inputs(bundle, images: list) -> list:
    """Both branches' LSTMs (lstm_1, lstm_2) as seqviz.states reads them for a batch of images, over each head's
    whole greedy caption "<s> w1 .. wn": at each step the image projection beside the word (a step per word read).
    An image: a sample or a described scene, or a feature vector (D,)."""
    from seqviz.states import LayerInput
    model, p, vocabs = bundle.model, bundle.params, bundle.vocabs
    x = np.stack([text_features(bundle, i)[0] if isinstance(i, str) else np.asarray(i, np.float32) for i in images])
    ids = [g[:, :n] for g, n in zip(greedy_batch(model, p, vocabs, x), input_lengths(p))]   # "<s> w.." per head
    partial = [pad(g, n) for g, n in zip(ids, input_lengths(p))]
    reads = _upto_lstms(model)([x, partial[0], x, partial[1]], training=False)
    return [LayerInput(f"lstm_{k}", model.get_layer(f"lstm_{k}"), reads[k - 1].numpy(), partial[k - 1] != 0,
                       [[vocabs[f"caption{k}"].tokens[i] for i in row if i] for row in partial[k - 1]]) for k in (1, 2)]


def unit_effects(bundle, image, layer: str) -> dict | None:
    """Each unit of a branch's LSTM against both heads' greedy captions (seqviz.states.effects): its weight into
    its own head's caption words (the mean over the words), and the drop in log P of both captions with the unit's
    output zeroed at every step. Both heads read both branches' last h (`both`), so the rows `score_pairs` scores
    go through the LSTMs once and the H variants through the two Dense heads at once."""
    if layer not in ("lstm_1", "lstm_2"):
        return None
    model, p, vocabs = bundle.model, bundle.params, bundle.vocabs
    j = int(layer[-1])
    x = text_features(bundle, image)[0] if isinstance(image, str) else np.asarray(image, np.float32)
    ids = [[vocabs[f"caption{k}"].index[START]] + vocabs[f"caption{k}"].encode(c[0])
           for k, c in zip((1, 2), greedy_captions(model, p, vocabs, x[None]))]
    units = p["units"]
    total, weights = np.zeros(1 + units), np.zeros(units)
    for head in (1, 2):                                  # the rows of `score_pairs`: step t reads "<s>" + t words
        words = (ids[head - 1][1:] + [vocabs[f"caption{head}"].index[END]])[:input_lengths(p)[head - 1]]
        partial = head_inputs(p, head, [ids[head - 1][:t + 1] for t in range(len(words))], ids[2 - head])
        f = np.repeat(x[None], len(words), axis=0)
        reads = _upto_lstms(model)([f, partial[0], f, partial[1]], training=False)
        both = np.concatenate([model.get_layer(f"lstm_{k}")(reads[k - 1], mask=tf.constant(partial[k - 1] != 0))
                               .numpy() for k in (1, 2)], axis=1).astype(np.float64)          # (R, 2U)
        dense = model.get_layer(f"next_{head}")
        w, b = dense.kernel.numpy().astype(np.float64), dense.bias.numpy().astype(np.float64)  # (2U, V), (V,)
        mine = slice((j - 1) * units, j * units)
        z = both @ w + b                                                                # (R, V)
        z = np.concatenate([z[None], z[None] - both[None, :, mine].transpose(2, 1, 0) * w[mine][:, None, :]])
        log_p = z - np.log(np.exp(z - z.max(-1, keepdims=True)).sum(-1, keepdims=True)) - z.max(-1, keepdims=True)
        total += log_p[:, np.arange(len(words)), words].sum(axis=1)                  # (1 + U,)
        if head == j:
            weights = w[mine][:, words].mean(axis=1)
    return {"target": "log P(both captions)", "base": float(total[0]), "link": "weight into its head's words (mean)",
            "weights": {"forward": weights.tolist()}, "ablation": {"forward": (total[0] - total[1:]).tolist()}}


def lstm_heldout(bundle) -> tuple[list, list]:
    """The held-out images (features) and what opens each: its scene in words, or "row N" of your features."""
    data = heldout_data(bundle)
    opens = [" ".join(english(data.scenes[j])) if data.scenes else f"row {(data.image_rows or data.rows)[j]}"
             for j in range(len(data.rows))]
    first: dict[str, int] = {}
    for j, o in enumerate(opens):
        first.setdefault(o, j)                            # a scene described twice: its first image
    first = list(first.values())
    return [data.features[data.rows[j]] for j in first], [opens[j] for j in first]


def explain_input(bundle, raw: bytes, filename: str) -> np.ndarray:
    """The CLI's `explain --file`: a .npy of one feature vector, (D,) or (1, D)."""
    x = read_features(raw, filename, bundle.params["feature_dim"], max_rows=None)
    if x.ndim == 2 and len(x) != 1:
        raise SeqvizError(f"{filename} has {len(x)} rows; explain reads one image's features: save one row, "
                          "e.g. numpy.save(path, features[i]).")
    return x.reshape(-1)


IG_STEPS = 256    # the path from zero embeddings bends sharply at a caption's last words: 32 steps fell 43% short


@graphs.once_per_model
def _scorers(model: tf.keras.Model, params: dict):
    """Per head k: units (N, U, W), where_1 (N, L_1), where_2 (N, L_2), token (N,) -> P(head k's next word =
    token) (N,), the model's own layers after its image projections and word embeddings. The units are rows of
    width W = max(I, E): row 0 the image as branch 1 reads it (its projection image_1, the first I columns), row 1
    as branch 2 does, then words (their embeddings, the first E columns); where_k[i, j] is the row branch k reads
    at position j of its partial caption, -1 where it is padding (masked, as the Embedding masks id 0)."""
    layers = {layer.name: layer for layer in model.layers}
    image_units, e, lengths = params["image_units"], params["embed_dim"], input_lengths(params)

    def score(head: int):
        def f(units, where_1, where_2, token):
            states = []
            for k, where in ((1, where_1), (2, where_2)):
                where = tf.reshape(where, [-1, lengths[k - 1]])     # static: an unrolled LSTM needs its length
                image = layers[f"repeat_{k}"](units[:, k - 1, :image_units])                       # (N, L_k, I)
                on = where >= 0
                words = tf.gather(units[..., :e], tf.maximum(where, 0), batch_dims=1)           # (N, L_k, E)
                words *= tf.cast(on, tf.float32)[..., None]
                states.append(layers[f"lstm_{k}"](tf.concat([image, words], -1), mask=on))    # as concat_k
            probs = layers[f"next_{head}"](tf.concat(states, -1))
            return tf.gather(probs, token, batch_dims=1)
        return tf.function(f, reduce_retracing=True, autograph=False)
    return score(1), score(2)


def explain_target(target, captions: list[list[str]], params: dict) -> tuple[int, int]:
    """"H:N" (head H's word N, 1-based; "</s>" after its last word) -> (H, N); None -> (1, 1)."""
    if target is None:
        return 1, 1
    lengths = input_lengths(params)
    steps = [min(len(c) + 1, n) for c, n in zip(captions, lengths)]
    try:
        head, step = (int(x) for x in str(target).split(":"))
        assert head in (1, 2) and 1 <= step <= steps[head - 1]
    except (ValueError, AssertionError):
        raise SeqvizError(f"The word to explain is 'H:N', word N of head H's caption: head 1 has words 1 to "
                          f"{steps[0]}, head 2 has 1 to {steps[1]} (the last is </s>); not {target!r}.") from None
    return head, step


def explainable(bundle, text, target=None, captions: Sequence[str] | None = None):
    """One image as seqviz.explain's methods see it, for P(word N of head H's greedy caption): the units are
    the image as each branch reads it, its projection (Dense(image_units) of the features: the image's
    embedding, as a word's is its row of the Embedding; occluded: the projection of zero features, the page's
    ablation) and the words read before that step, head H's ("<s>" first) then the other branch's (its caption
    cut to the same step, as lock-step decoding reads it). `text`: a sample or a described scene, or a feature
    vector (D,) (an upload's row, a held-out image); `target`: "H:N" (None: "1:1"); `captions`: the two captions
    read (None: the greedy ones, what the model says)."""
    from seqviz import explain
    model, p, vocabs = bundle.model, bundle.params, bundle.vocabs
    x = text_features(bundle, text)[0] if isinstance(text, str) else np.asarray(text, np.float32)
    if x.shape != (p["feature_dim"],):
        raise SeqvizError(f"The image to explain is one vector of {p['feature_dim']} features, not shape {x.shape}.")
    captions = ([c[0] for c in greedy_captions(model, p, vocabs, x[None])] if captions is None
                else [c.split() for c in captions])
    head, step = explain_target(target, captions, p)
    ids = [[vocabs[f"caption{k}"].index[START]] + vocabs[f"caption{k}"].encode(c)
           for k, c in ((1, captions[0]), (2, captions[1]))]
    forced = (ids[head - 1][1:] + [vocabs[f"caption{head}"].index[END]])[step - 1]
    read = {head: ids[head - 1][:step]}                                           # "<s> w1 .. w(N-1)"
    read[3 - head] = ids[2 - head][:min(step, input_lengths(p)[2 - head])]        # the other, cut alike
    tables = {k: model.get_layer(f"embedding_{k}").embeddings.numpy() for k in (1, 2)}
    width = max(p["image_units"], p["embed_dim"])
    project = [model.get_layer(f"image_{k}")(np.stack([x, np.zeros_like(x)])).numpy() for k in (1, 2)]   # (2, I)
    rows, unk = [project[0][0], project[1][0]], [project[0][1], project[1][1]]
    units = ["image → branch 1", "image → branch 2"]
    where = {k: -np.ones(n, np.int32) for k, n in zip((1, 2), input_lengths(p))}
    for k in (head, 3 - head):
        vocab = vocabs[f"caption{k}"]
        for j, i in enumerate(read[k]):
            where[k][j] = len(rows)
            rows.append(tables[k][i])
            unk.append(tables[k][vocab.unk_id])
            units.append(f"{k}: {vocab.tokens[i]}")
    pad = lambda v: np.pad(np.asarray(v, np.float32), (0, width - len(v)))     # noqa: E731
    word = vocabs[f"caption{head}"].tokens[forced]
    return explain.Subject([units], np.stack([pad(r) for r in rows])[None], np.stack([pad(u) for u in unk])[None],
                           _scorers(model, p)[head - 1], (where[1][None], where[2][None], np.array([forced], np.int32)),
                           [f"P(caption {head} word {step} = {word})"], ig_steps=IG_STEPS)


# ---------------------------------------------------------------------------------------------
# Inputs: .npy features, or a sample / a described scene
# ---------------------------------------------------------------------------------------------
NPY_MAGIC = b"\x93NUMPY"


def read_features(raw: bytes, filename: str, dim: int | None, max_rows: int | None = MAX_ROWS) -> np.ndarray:
    """A user's .npy of shape (D,) or (N, D), checked (D = `dim` unless None, N <= `max_rows` unless None), as
    float32 of that shape."""
    check_size(raw, filename)
    if not raw.startswith(NPY_MAGIC):
        raise SeqvizError(f"{filename} is not a .npy file (it lacks the NumPy header); save the features with "
                          "numpy.save(path, array) as an array of shape (D,) or (N, D).")
    # the header first, checked against the bytes that follow, before anything is allocated from it
    f = io.BytesIO(raw)
    try:
        version = np.lib.format.read_magic(f)
        read_header = {(1, 0): np.lib.format.read_array_header_1_0,
                       (2, 0): np.lib.format.read_array_header_2_0}.get(version)
        if read_header is None:
            raise ValueError(f"version {version}")
        shape, _, dtype = read_header(f)
    except (ValueError, SyntaxError, TypeError, EOFError, OSError):
        raise SeqvizError(f"{filename} is not a valid .npy file: its header could not be read; save the features "
                          "with numpy.save(path, array).") from None
    if dtype.hasobject:
        raise SeqvizError(f"{filename} holds Python objects (an object array), which are never unpickled "
                          "here; save plain numbers, e.g. array.astype('float32').")
    expected, found = int(np.prod(shape, dtype=object)) * dtype.itemsize, len(raw) - f.tell()
    if expected != found:
        raise SeqvizError(f"{filename} could not be read as .npy: it is truncated or damaged (its header says shape "
                          f"{tuple(shape)} of {dtype}, {expected:,} bytes of data, but {found:,} bytes follow it).")
    try:
        arr = np.load(io.BytesIO(raw), allow_pickle=False)
    except (ValueError, OSError, EOFError) as e:
        raise SeqvizError(f"{filename} could not be read as .npy (truncated or damaged: "
                          f"{str(e).strip()[:200]}).") from None
    if arr.dtype.kind not in "fiub":
        raise SeqvizError(f"{filename} holds {arr.dtype} values ({_kind(arr.dtype)}); the features must be "
                          "numbers, e.g. float32.")
    if arr.ndim not in (1, 2):
        raise SeqvizError(f"{filename} has shape {arr.shape} ({arr.ndim} dimensions); expected (D,) for one "
                          f"scene or (N, D) for N scenes, with D = {dim}.")
    if dim is not None and arr.shape[-1] != dim:
        raise SeqvizError(f"{filename} has shape {arr.shape}: its feature vectors have {arr.shape[-1]} values, "
                          f"but this model reads {dim}-d features (its feature_dim).")
    if arr.ndim == 2 and not 1 <= len(arr) <= (max_rows or len(arr) or 1):
        raise SeqvizError(f"{filename} has {len(arr)} rows; upload 1 to {max_rows} feature vectors at a time.")
    with np.errstate(over="ignore", invalid="ignore"):
        out = arr.astype(np.float32)      # checked after the cast: 1e300 is finite as float64, inf as float32
    bad = ~np.isfinite(out)
    if bad.any():
        where = np.argwhere(bad)[0]
        at = f"row {where[0]}, column {where[1]}" if arr.ndim == 2 else f"position {where[0]}"
        raise SeqvizError(f"{filename} contains {int(bad.sum())} NaN or infinite value(s) (first at {at}) as float32; "
                          "every feature must be a finite number within float32's range (±3.4e38).")
    return out


def _kind(dtype: np.dtype) -> str:
    return {"U": "text", "S": "bytes", "c": "complex numbers", "V": "structured records",
            "M": "dates", "m": "time spans", "O": "Python objects"}.get(dtype.kind, "not numbers")


_WORDS = {"a": 1, "an": 1, "one": 1, "two": 2, "three": 3, "four": 4, "1": 1, "2": 2, "3": 3, "4": 4}
_PLACES = {"left": "left", "right": "right", "top": "top", "bottom": "bottom", "centre": "centre",
           "center": "centre", "middle": "centre"}
_FILLER = {"there", "is", "are", "on", "the", "at", "in", "of"}


def parse_scene(text: str) -> tuple[Group, ...]:
    """A scene described in words: "2 red circles left and a blue star at the top" (or the English caption).
    Groups are split by "and" or commas; a group without a count has one object."""
    if not isinstance(text, str) or not text.strip():
        raise SeqvizError("The scene description is empty; describe one, e.g. '2 red circles left'.")
    if len(text) > 300:
        raise SeqvizError(f"The scene description has {len(text):,} characters; at most 300 are read.")
    groups = []
    for part in [p for p in re.split(r",|\band\b", text.lower()) if p.strip()]:
        count = colour = shape = where = None
        for w in re.findall(r"\w+", part):
            if w in _FILLER:
                continue
            if w in _WORDS and count is None:
                count = _WORDS[w]
            elif w in COLOURS and colour is None:
                colour = w
            elif w.rstrip("s") in SHAPES and shape is None:
                shape = w.rstrip("s")
            elif w in _PLACES and where is None:
                where = _PLACES[w]
            else:
                raise SeqvizError(f"Cannot read {w!r} in {part.strip()!r}: describe each group with a count "
                                  f"(1-4), a colour ({', '.join(COLOURS)}), a shape ({', '.join(SHAPES)}) and a "
                                  f"position ({', '.join(POSITIONS)}).")
        missing = [n for n, v in (("colour", colour), ("shape", shape), ("position", where)) if v is None]
        if missing:
            raise SeqvizError(f"{part.strip()!r} has no {' or '.join(missing)}; e.g. '2 red circles left'.")
        groups.append((count or 1, colour, shape, where))
    if len(groups) > 2:
        raise SeqvizError(f"The scene has {len(groups)} groups of objects; the scenes have one or two.")
    if len({g[3] for g in groups}) < len(groups):
        raise SeqvizError("Two groups share a position; put them in different places.")
    return tuple(sorted(groups, key=lambda g: POSITIONS.index(g[3])))


def agreement(bundle, captions1: list[str], captions2: list[str]) -> list[bool] | None:
    """Per row, whether the two heads describe the same scene; None for a model of your own files: the check
    reads captions as the generated scenes' English and French, which your captions are not."""
    if bundle.data.get("source") == "upload":
        return None
    return [heads_agree(a, b) for a, b in zip(captions1, captions2)]


def heads_agree(caption1: str, caption2: str) -> bool:
    """Do the two heads describe the same scene? Caption 1 (English) read back as a scene, and that scene's
    French label compared with caption 2."""
    try:
        return " ".join(french(parse_scene(caption1))) == caption2
    except SeqvizError:
        return False


def scene_from_text(text: str) -> tuple[int | None, tuple[Group, ...]]:
    """'sample 2' (1-based) -> (1, that sample); a description -> (None, the parsed scene)."""
    m = re.fullmatch(r"\s*(?:sample\s*)?(\d+)\s*", text or "", re.I)
    if m:
        i = int(m.group(1))
        if not 1 <= i <= len(SAMPLES):
            raise SeqvizError(f"There are samples 1 to {len(SAMPLES)}; got {i}.")
        return i - 1, SAMPLES[i - 1]
    return None, parse_scene(text)


def text_features(bundle, text: str) -> tuple[np.ndarray, tuple]:
    """'sample 2' or a description -> (features (D,), scene), computed like the training scenes' features
    (a sample with its fixed noise draw, a description without noise); refused if the model never saw
    scenes with that many groups."""
    p = bundle.params
    if bundle.data.get("source") == "upload":
        raise SeqvizError(f"Model {bundle.name!r} was trained on your own image features: caption a .npy of "
                          f"{p['feature_dim']}-d feature vectors (CLI: --file), not a generated scene.")
    index, scene = scene_from_text(text)
    if len(scene) > p["max_objects"]:
        raise SeqvizError(f"The scene has {len(scene)} groups of objects, but model {bundle.name!r} was trained on "
                          f"scenes of at most {p['max_objects']}; describe one group, or train a model with "
                          "max_objects=2.")
    x = (sample_features(index, p["feature_dim"], p["noise"]) if index is not None
         else scene_features([scene], p["feature_dim"])[0])
    return x, scene


def heldout_images(bundle) -> list[dict]:
    """The held-out images a model of your files keeps (a few of them, MAX_HELDOUT pairs): per image its row in
    your features, its feature vector and each head's true captions (an image may have several) -> [{"row",
    "features" (D,), "truth": ([caption 1s], [caption 2s])}], in your file's order; [] for other models."""
    h = bundle.heldout or {}
    images: dict[int, dict] = {}
    for i, row in enumerate(h.get("row", [])):
        image = images.setdefault(int(row), {"row": int(row), "features": h["features"][i], "truth": ([], [])})
        for k in (0, 1):
            if str(h[f"caption_{k + 1}"][i]) not in image["truth"][k]:
                image["truth"][k].append(str(h[f"caption_{k + 1}"][i]))
    return sorted(images.values(), key=lambda image: image["row"])


def predict(bundle, text: str, beam: int = 3, top_k: int = 5, ablate: str = "none") -> dict:
    """Caption a sample scene ("sample 2") or a described one ("2 red circles left")."""
    x, scene = text_features(bundle, text)
    return {"scene": " ".join(english(scene)), "truth": [" ".join(english(scene)), " ".join(french(scene))],
            "seen_in_training": seen_in_training(bundle.params, scene), "heads": heads(bundle), "ablate": ablate,
            **decode(bundle, x, beam, top_k, ablate)}


# ---------------------------------------------------------------------------------------------
# Replay (seqviz.replay): both heads' greedy captions of one probe image, epoch by epoch
# ---------------------------------------------------------------------------------------------
def probe(params: dict, data: UserData | None) -> dict:
    """The replay's input: the page's sample scene, or the features of your first held-out image."""
    if data is None:
        return {"text": EXAMPLE}
    row = data.rows[split_images(data.rows, params["seed"])[1][0]]
    return {"features": data.features[row].astype(float).tolist()}


def snapshot(bundle, text: str | None = None, features=None) -> dict:
    """One epoch of a replay: both heads' greedy captions with each step's top 5 (a scene as text, or a feature
    vector of the model's D), and the scene's true captions where it is a generated one."""
    if features is not None:
        x = np.asarray(features, dtype=np.float32)
        if x.shape != (bundle.params["feature_dim"],) or not np.isfinite(x).all():
            raise SeqvizError(f"The probe's features must be {bundle.params['feature_dim']} finite numbers.")
        truth = None
    else:
        x, scene = text_features(bundle, text)
        truth = [" ".join(english(scene)), " ".join(french(scene))]
    r = decode(bundle, x, beam=1, top_k=5)
    return {"heads": heads(bundle), "captions": r["captions"], "steps": r["steps"], "truth": truth}


def story(rep: dict) -> dict:
    """What changed over a replay: per epoch and head, the mean probability of the chosen words; in words, each
    head's new captions and (a generated scene) the first epoch each was right."""
    snaps = rep["snapshots"]
    names = snaps[-1]["heads"]
    lines = {f"{name}: mean probability of its words": [float(np.mean([w["prob"] for w in s["steps"][h]]))
                                                         if s["steps"][h] else 0.0 for s in snaps]
             for h, name in enumerate(names)}
    events = []
    for h, name in enumerate(names):
        events += [f"Epoch {b['epoch']}, {name}: {b['captions'][h]!r}" for a, b in zip(snaps, snaps[1:])
                   if a["captions"][h] != b["captions"][h]]
        truth = snaps[-1]["truth"]
        if truth:
            right = [s["epoch"] for s in snaps if s["captions"][h] == truth[h]]
            events.append(f"{name}: first right at epoch {right[0]}." if right else f"{name}: not right at any epoch.")
    return {"lines": lines, "events": events}


def batch_inputs(raw: bytes, filename: str) -> list:
    """predict --data: a .npy of image features (N, D), one input a row ("row i", from 0 as in captions.csv)."""
    x = read_features(raw, filename, None, max_rows=None)                  # the file size limit bounds it
    return [(f"row {i}", row) for i, row in enumerate(x[None] if x.ndim == 1 else x)]


def predict_batch(bundle, images: list, beam: int = 3, top_k: int = 5, ablate: str = "none") -> list:
    """predict --data: each image's result as `predict --file` prints it for a .npy of that one vector."""
    from seqviz import batch
    one = lambda b, x, **o: {"heads": heads(b), "ablate": ablate, **decode(b, _checked(b, x), **o)}  # noqa: E731
    return batch.each(one)(bundle, images, beam=beam, top_k=top_k, ablate=ablate)


def _checked(bundle, x: np.ndarray) -> np.ndarray:
    d = bundle.params["feature_dim"]
    if x.shape != (d,):
        raise SeqvizError(f"The image has {x.shape[-1]} features; model {bundle.name!r} reads {d}.")
    return x


def predict_file(bundle, raw: bytes, filename: str = "features.npy", beam: int = 3, top_k: int = 5,
                 ablate: str = "none") -> dict:
    """A .npy of shape (D,) -> one result {captions, steps, ...}; of shape (N, D) -> {"rows": [N results]}."""
    x = read_features(raw, filename, bundle.params["feature_dim"])
    if x.ndim == 1:
        return {"heads": heads(bundle), "ablate": ablate, **decode(bundle, x, beam, top_k, ablate)}
    return {"heads": heads(bundle), "ablate": ablate, "rows": [decode(bundle, row, beam, top_k, ablate) for row in x]}
