"""Seq2seq: one encoder-decoder, four ways to decode -- basic, feedback, peek and attention.

Where it comes from: the "four ways to decode" comparison of Keras seq2seq models (a toy task mapping
digit strings to words) and farizrahman4u/seq2seq (Keras 1, unmaintained), which packaged them as
SimpleSeq2Seq, Seq2Seq(peek, depth, teacher_force) and AttentionSeq2Seq. Here all four are one builder:

    source ids (B, S) -> Embedding(mask_zero) -> LSTM x depth -> states (B, S, H), final h/c per layer
    decoder input, per mode, at output step t:
      basic      the encoder's final h, repeated (RepeatVector): the decoder never sees its own words,
                 and starts from zero states
      feedback   the embedding of the previous output word; the decoder starts from the encoder's states
      peek       feedback + the encoder's final h ("the context vector") at every step
      attention  feedback, then Luong attention over all encoder states: the alignment weights over the
                 real (unpadded) source tokens are a second model output
    -> LSTM x depth -> (attention: tanh(W_c [context; h])) -> Dense softmax over target words (B, T, V)

Training feeds the gold previous word (`teacher_force`, the default) or, with teacher_force off, the
model's own previous argmax (an unrolled free-running decoder; slower to build, no exposure bias).
Inference builds two small pieces from the trained layers, as keras-io's lstm_seq2seq does: an encoder
(source in, the decoder's start state out) and a one-step decoder (previous word + states in, next-word
probabilities + states out; it runs the LSTM cells themselves), which `seqviz.decoding` compiles into one
graph for greedy and beam search. Every code path runs the same `_decoder_input` and `_decode` functions:
the parallel teacher-forced pass, the free-running loop and the one-step decoder.

Tasks (generated): digits -> words ("4 7 1" -> "four seven one"), sorting a digit string, and Pig Latin
over real English words (the words of Python's own documentation, `pydoc_data`; spelled letter by letter).
Or your own pairs (task "file", set by the upload): a CSV of source,target read as words or as characters
(`tokens`), vocabularies from its training rows, 15% held out; keras-io's addition data (50k "a+b" pairs,
`python -m seqviz bench seq2seq-addition`) reaches 99.9% held-out exact match in attention mode in 20 epochs.
Each task is one small class (`Digits`, `Sort`, `PigLatin`, `FilePairs`), picked from a model's params once by
`task_of`: what it reads and writes, its data and its error messages are its members.

Default models (seed 0, inputs of 1-10 tokens; listed in `seqviz.archs`, regenerated with
`python -m seqviz train seq2seq --set mode=<mode> --name default-<mode> --overwrite`): digits -> words in all four
modes. On held-out 10-digit inputs the exact match is basic 0.07, feedback 0.59, peek 0.60 and
attention 1.00 (all >= 0.99 at 3 digits): basic must squeeze the whole input into one vector, and
attention looks the digit up instead. Also shipped, in attention mode: sort (1.00 exact on held-out
inputs) and Pig Latin (0.96 exact on held-out words, never seen in training). Each trains in 15-35 s, and
carries its replay (seqviz.replay): the example's greedy decode after every epoch.
"""
from __future__ import annotations

import re
from dataclasses import dataclass, field
from functools import cached_property, lru_cache
from typing import Callable

import numpy as np
import tensorflow as tf

from seqviz import budget, decoding, graphs, nn, replay, store
from seqviz.contract import Out
from seqviz.errors import SeqvizError
from seqviz.params import SEED, Param
from seqviz.heldout import holdout, keep, kept
from seqviz.run import UNWATCHED, Run, phase
from seqviz.uploads import read_csv
from seqviz.vocab import PAD, UNK, Vocab

MODES = ("basic", "feedback", "peek", "attention")
TASKS = ("digits", "sort", "piglatin")     # generated: the classes Digits, Sort and PigLatin below
FILE = "file"                              # the user's own source,target pairs (FilePairs): an upload sets it
START, END = "<s>", "</s>"

PARAMS = [
    Param("task", "digits", help="what to learn: digits -> words, sorting digits, or Pig Latin; uploading "
          "your own pairs sets it to file", choices=TASKS + (FILE,)),
    Param("tokens", "word", choices=("word", "char"), label="tokens (your pairs)",
          help="how your pairs are split: word = on whitespace; char = every character is a token, spaces included"),
    Param("mode", "attention", help="how the decoder is fed (see the page)", choices=MODES),
    Param("depth", 1, 1, 4, "stacked LSTM layers in the encoder and in the decoder"),
    Param("encoder_depth", 0, 0, 4, "stacked LSTM layers in the encoder; 0 = depth",
          label="encoder layers (0 = depth)"),
    Param("decoder_depth", 0, 0, 4, "stacked LSTM layers in the decoder; 0 = depth",
          label="decoder layers (0 = depth)"),
    Param("attention", "luong", choices=("luong", "bahdanau"),
          help="attention mode's score: luong = s_t W h_j (general); bahdanau = v · tanh(W_s s_t + W_h h_j), "
               "the additive score of AttentionSeq2Seq", label="attention score"),
    Param("teacher_force", True, help="train on the gold previous word (off: on the model's own previous word)"),
    Param("min_len", 1, 1, 20, "shortest training input (tokens; letters for Pig Latin)", generated=True),
    Param("max_len", 10, 2, 64, "longest training input; also the longest input the model accepts (your pairs: "
          "the longest source and the longest target)", label="longest input (tokens)"),
    Param("n_train", 8000, 100, 100_000, "generated training pairs (Pig Latin: at most the word list)",
          label="training pairs", generated=True),
    Param("embed_dim", 32, 4, 256, "token embedding size"),
    Param("units", 96, 8, 512, "LSTM units"),
    Param("epochs", 8, 1, 100, "passes over the training data"),
    Param("batch_size", 64, 8, 1024, "pairs per step"),
    Param("learning_rate", 0.01, 1e-5, 0.1, "Adam step size"),
    Param("decay", False, help="let the step size fall to 0 along a cosine over the run: steadier last epochs "
          "(a large step learns fast and then wobbles)", label="decay the learning rate"),
    SEED,
]
QUICK = {"n_train": 3000, "epochs": 4}      # the sidebar's Quick preset (the rest as PARAMS)
PREDICT_PARAMS = [
    Param("mode", "auto", help="which default model to use (auto: the given model's own mode, or attention)",
          choices=("auto",) + MODES),
    Param("beam", 3, 1, decoding.MAX_BEAM, "beam width (1 = greedy)"),
    Param("top_k", 5, 1, 20, "alternatives kept per step"),
    Param("prefix", "", help="target words to force at the start, space-separated (pin and re-decode; a char-level "
          "model's: its characters as written)"),
    Param("expected", "", help="the output you expect, for a model of your own pairs (generated tasks know theirs; "
          "a held-out source finds its own): marks the decode right or wrong and gives the exposure-bias view"),
]
RESULT = {   # what predict returns (seqviz.contract): S source tokens, N decoder steps (</s> included), B beams
    "mode": Out(str, (), "the decoder mode: basic, feedback, peek or attention"),
    "task": Out(str, (), "digits, sort, piglatin or file (your pairs)"),
    "source": Out(list[str], ("S",), "the source tokens, as the model reads them"),
    "output": Out(list[str], (), "the best beam's tokens, </s> left out"),
    "text": Out(str, (), "the output joined the way the targets were written"),
    "unknown": Out(list[bool], ("S",), "source tokens outside the vocabulary (read as <unk>)"),
    "gold": Out(list[str] | None, (), "the right output, where it is known"),
    "correct": Out(bool | None, (), "output == gold (None: gold unknown)"),
    "finished": Out(bool, (), "the best beam ended with </s>"),
    "beams": Out(list[dict], ("B",), "every beam: tokens, logprob, step_logprobs, finished"),
    "steps": Out(list[dict[str, float]], ("N",), "per step of the best beam: top tokens -> probability"),
    "attention": Out(list[list[float]] | None, ("N", "S"), "the alignment, decoder step x source token "
                     "(attention mode; else None)"),
    "teacher_forced": Out(list[str] | None, (), "the argmax at each step given the gold prefix (exposure bias)"),
    "free_running": Out(list[str] | None, (), "the greedy decode reading its own outputs (exposure bias)"),
    "prefix": Out(list[str], (), "the pinned first tokens of the output"),
}


def default_model(options: dict) -> str:
    """The store name of the shipped model of the chosen mode (the CLI's --model default)."""
    return f"default-{'attention' if options.get('mode', 'auto') == 'auto' else options['mode']}"


# ---------------------------------------------------------------------------------------------
# Tasks: one small class each (what a model learns, reads and writes), chosen once by `task_of`
# ---------------------------------------------------------------------------------------------
def pig_latin(word: str) -> str:
    """Move the leading consonants (with a 'qu') to the end and add 'ay'; vowel-initial words add 'way'."""
    m = re.match(r"^(qu|[^aeiou]*qu|[^aeiou]+)(.*)$", word)
    if word[0] in "aeiou" or m is None or not m.group(2):
        return word + "way"
    return m.group(2) + m.group(1) + "ay"


@lru_cache(maxsize=1)
def english_words() -> tuple[str, ...]:
    """Lower-case alphabetic words of Python's own documentation (`pydoc_data.topics`), sorted."""
    from pydoc_data.topics import topics
    return tuple(sorted(set(re.findall(r"\b[a-z]+\b", " ".join(topics.values())))))


@dataclass(frozen=True)
class Generated:
    """A generated task: sources drawn from a closed vocabulary, each target a function of its source.
    Everything that differs between tasks is a member, here or in `FilePairs` (the same members): the
    vocabularies (SOURCE and TARGET, in id order: the shipped models' ids follow them), how typed text becomes
    tokens (`read`; `read_graph` is the same in the export's graph), how output tokens are written (`joiner`),
    the longest target, the example, the training and held-out data, the gold output and the words of the
    errors. Subclasses give `read`, `read_graph`, `sources` and `target`."""
    name = ""
    EXAMPLE = ""                      # the page's first input, and the replay's
    SOURCE = TARGET = ()              # the vocabularies' tokens, in id order
    joiner = " "                      # output tokens -> text, the way the targets are written
    asks = ""                         # what an empty input is told to type
    reads = ""                        # what a token outside the vocabulary is told the model reads
    N_VAL = 300                       # held-out pairs, overall and at each of `lengths`

    @classmethod
    def of(cls, params: dict):
        return cls()

    def target(self, source: list[str]) -> list[str]:
        raise NotImplementedError

    def max_target_len(self, max_len: int) -> int:
        """Longest target (without </s>) for sources of at most max_len tokens."""
        return max_len

    def vocabularies(self, pairs=None) -> dict[str, Vocab]:
        """Closed: every token the task can produce. Target ids: 0 pad, 1 unk, 2 <s>, 3 </s>."""
        return {"source": Vocab(self.SOURCE), "target": Vocab(self.TARGET, specials=(PAD, UNK, START, END))}

    def example(self, metrics: dict | None = None) -> str:
        return self.EXAMPLE

    # -- typed text -> tokens (`read` and `read_graph` are each task's own)
    def read_target(self, text: str) -> list[str]:
        """A written target (a pinned prefix) -> target tokens: separated by spaces."""
        return text.split()

    def check(self, text: str, tokens: list[str], vocab: Vocab, max_len: int) -> None:
        """Typed text's tokens that the model cannot read, named in one SeqvizError."""
        bad = sorted({t for t in tokens if t not in vocab or t in (PAD, UNK)})
        if bad:
            shown = ", ".join(repr(t) for t in bad[:8])
            raise SeqvizError(f"Not in the {self.name} task's vocabulary: {shown}; it reads {self.reads} only.")
        if len(tokens) > max_len:
            raise SeqvizError(f"The input has {len(tokens)} tokens; this model was built for at most {max_len}. "
                              "Shorten it, or train a model with a larger max_len.")

    @property
    def whose(self) -> str:
        """The model, in a sentence ("Cannot pin 'x': the digits model writes only ...")."""
        return f"the {self.name}"

    def gold(self, source: list[str], expected: str, metrics: dict, max_len: int) -> list[str]:
        """The right output for a source: the task knows it."""
        return self.target(source)

    # -- data
    def pairs(self, n: int, min_len: int, max_len: int, seed: int,
              exclude: set | None = None) -> list[tuple[list[str], list[str]]]:
        """n distinct (source, target) pairs with sources of min_len..max_len tokens, none in `exclude` (a set of
        source tuples)."""
        rng = np.random.default_rng(seed)
        return [(s, self.target(s)) for s in self.sources(rng, n, min_len, max_len, exclude or set())]

    def reserved(self, params: dict) -> set:
        """Sources kept out of training, for evaluation (none: the digit strings are plenty)."""
        return set()

    def lengths(self, params: dict) -> dict[str, int]:
        """The short and the long input length the held-out metrics are reported at."""
        return {"short": max(params["min_len"], min(3, params["max_len"])), "long": params["max_len"]}

    def data(self, params: dict, data=None):
        """-> training pairs, held-out pairs (none a training source), {key: (length, held-out pairs of it)}."""
        seed, lo, hi = params["seed"], params["min_len"], params["max_len"]
        pairs = self.pairs(params["n_train"], lo, hi, seed, exclude=self.reserved(params))
        if len(pairs) < 20:
            raise SeqvizError(f"Only {len(pairs)} training pairs exist for {self.name} with inputs of "
                              f"{lo}-{hi} tokens; widen the lengths.")
        seen = {tuple(s) for s, _ in pairs}
        val = self.pairs(self.N_VAL, lo, hi, seed + 1, exclude=seen)
        return pairs, val, {k: (n, self.pairs(self.N_VAL, n, n, seed + 2, exclude=seen))
                            for k, n in self.lengths(params).items()}

    def examples(self, val: list) -> dict:
        """What metrics.json keeps of the held-out pairs: nothing (a generated task knows every gold)."""
        return {}

    def sizes(self, params: dict, data=None) -> tuple[int, int, int]:
        """(training pairs, source vocabulary, target vocabulary), for `memory`."""
        vocabs = self.vocabularies()
        return params["n_train"], len(vocabs["source"]), len(vocabs["target"])

    def check_params(self, params: dict, data=None) -> None:
        if params["min_len"] > params["max_len"]:
            raise SeqvizError(f"min_len ({params['min_len']}) is larger than max_len ({params['max_len']}); "
                              "the shortest training input cannot be longer than the longest.")

    def probe(self, params: dict, data=None) -> dict:
        """The replay's input: the example, cut to what the model reads."""
        return {"text": self.joiner.join(self.read(self.EXAMPLE)[:params["max_len"]])}


WORDS = "zero one two three four five six seven eight nine".split()
DIGITS = tuple(str(d) for d in range(10))


@dataclass(frozen=True)
class Digits(Generated):
    """Digits -> words: "4 7 1" -> "four seven one"."""
    name, EXAMPLE, SOURCE, TARGET = "digits", "2 8 9 0 4 8 1 7 1 4", DIGITS, tuple(WORDS)
    asks = "digits, e.g. 4 7 1"
    reads = "the digits 0-9"

    def target(self, source: list[str]) -> list[str]:
        return [WORDS[int(d)] for d in source]

    def read(self, text: str) -> list[str]:
        """Typed text (stripped) -> source tokens: digits separated by spaces or not ("4 7 1" or "471")."""
        text = text.lower()
        return text.split() if len(text.split()) > 1 else list(text)

    def read_graph(self, text):
        """`read` in the graph (the export): a string tensor -> (S,) string tensor."""
        text = tf.strings.lower(text, encoding="utf-8")
        spaced = tf.strings.split(text)
        return tf.cond(tf.size(spaced) > 1, lambda: spaced, lambda: tf.strings.unicode_split(text, "UTF-8"))

    def sources(self, rng, n: int, min_len: int, max_len: int, exclude: set) -> list[list[str]]:
        """n distinct digit strings of min_len..max_len digits (fewer if the space is smaller), none in `exclude`:
        a length drawn uniformly, then its digits."""
        seen, sources = set(exclude), []
        capacity = (sum(10 ** k for k in range(min_len, max_len + 1))
                    - sum(min_len <= len(e) <= max_len for e in exclude))
        for _ in range(min(n, max(0, capacity))):
            for _attempt in range(100):
                s = tuple(str(d) for d in rng.integers(0, 10, size=rng.integers(min_len, max_len + 1)))
                if s not in seen:
                    seen.add(s)
                    sources.append(list(s))
                    break
        return sources


@dataclass(frozen=True)
class Sort(Digits):
    """Sorting a digit string: "4 7 1" -> "1 4 7"."""
    name, EXAMPLE, TARGET = "sort", "4 7 1 9 2 8 3 6", DIGITS

    def target(self, source: list[str]) -> list[str]:
        return sorted(source)


@dataclass(frozen=True)
class PigLatin(Generated):
    """Pig Latin over real English words, letter by letter: "string" -> "ingstray"."""
    name, EXAMPLE = "piglatin", "string"
    SOURCE = TARGET = tuple("abcdefghijklmnopqrstuvwxyz")
    joiner = ""                           # letters run together
    asks = "a word, e.g. string"
    reads = "lower-case letters a-z"

    def target(self, source: list[str]) -> list[str]:
        return list(pig_latin("".join(source)))

    def max_target_len(self, max_len: int) -> int:
        return max_len + 3                # 'way' added

    def read(self, text: str) -> list[str]:
        return list(text.lower())         # one token per letter

    def read_graph(self, text):
        return tf.strings.unicode_split(tf.strings.lower(text, encoding="utf-8"), "UTF-8")

    def check(self, text: str, tokens: list[str], vocab: Vocab, max_len: int) -> None:
        if len(text.split()) > 1:
            raise SeqvizError("Type one word at a time for Pig Latin (no spaces).")
        super().check(text, tokens, vocab, max_len)

    def sources(self, rng, n: int, min_len: int, max_len: int, exclude: set) -> list[list[str]]:
        """n of the English words of min_len..max_len letters not in `exclude`, in word-list order."""
        words = [w for w in english_words() if min_len <= len(w) <= max_len and tuple(w) not in exclude]
        picked = rng.permutation(len(words))[:n]
        return [list(words[i]) for i in sorted(picked)]

    def reserved(self, params: dict) -> set:
        """The word list is finite: 15% of its words are kept out of training, for evaluation."""
        words = self.pairs(10**9, params["min_len"], params["max_len"], params["seed"])
        return {tuple(words[i][0]) for i in holdout(len(words), params["seed"])[1]}


# ---------------------------------------------------------------------------------------------
# Your own pairs: a CSV with columns source,target (task "file")
# ---------------------------------------------------------------------------------------------
MAX_EXAMPLES = 100     # held-out pairs kept in metrics.json: the page's picker, and the gold of a typed source


def split_tokens(text: str, tokens: str) -> list[str]:
    """Your pairs' text -> tokens: on whitespace (word), or every character, spaces included (char)."""
    return list(text) if tokens == "char" else text.split()


@dataclass
class Pairs:
    """A user's pairs, as written (cells stripped), in file order."""
    sources: list[str]
    targets: list[str]
    filename: str = "upload.csv"
    tokens: dict = field(default_factory=dict, repr=False)   # tokens -> (source tokens, target tokens), cached

    def split(self, tokens: str) -> tuple[list[list[str]], list[list[str]]]:
        if tokens not in self.tokens:
            self.tokens[tokens] = ([split_tokens(s, tokens) for s in self.sources],
                                   [split_tokens(t, tokens) for t in self.targets])
        return self.tokens[tokens]


def read_upload(raw: bytes, filename: str = "upload.csv") -> Pairs:
    """A user's CSV with columns `source,target` (UTF-8, header; BOM and CRLF accepted): every row needs both."""
    df = read_csv(raw, filename, ["source", "target"])
    for col in ("source", "target"):
        empty = (df[col] == "").to_numpy().nonzero()[0]
        if len(empty):
            raise SeqvizError(f"{filename}: data row {empty[0] + 1} has an empty {col} ({len(empty)} rows do); every "
                              "row needs a source and a target.")
    if len(df) < 20:
        raise SeqvizError(f"{filename} has {len(df)} pairs; at least 20 are needed (some are held out to "
                          "measure the model).")
    return Pairs(df.source.tolist(), df.target.tolist(), filename)


@dataclass(frozen=True)
class FilePairs:
    """Your pairs, read as words or as characters (`tokens`): vocabularies from the training rows (most frequent
    first), sources and targets as written, case kept; a token outside the vocabulary is read as <unk> (and
    marked by `predict`). The members are `Generated`'s."""
    tokens: str = "word"                  # the `tokens` param: word | char
    name = FILE
    asks = "a source like your pairs'"
    whose = "your pairs'"

    @classmethod
    def of(cls, params: dict):
        return cls(params["tokens"])

    @property
    def joiner(self) -> str:
        return "" if self.tokens == "char" else " "     # a char-level model's characters (spaces among them)

    @property
    def unit(self) -> str:
        return "characters" if self.tokens == "char" else "words"

    def max_target_len(self, max_len: int) -> int:
        return max_len                    # targets are held to max_len like their sources

    def vocabularies(self, pairs=None) -> dict[str, Vocab]:
        return {"source": Vocab.build(s for s, _ in pairs),
                "target": Vocab.build((t for _, t in pairs), specials=(PAD, UNK, START, END))}

    def example(self, metrics: dict | None = None) -> str:
        """The first held-out source."""
        return ((metrics or {}).get("examples") or [[""]])[0][0]

    # -- typed text -> tokens: as the pairs were split for training
    def read(self, text: str) -> list[str]:
        return split_tokens(text, self.tokens)

    def read_graph(self, text):
        return tf.strings.unicode_split(text, "UTF-8") if self.tokens == "char" else tf.strings.split(text)

    def read_target(self, text: str) -> list[str]:
        return split_tokens(text, self.tokens)

    def check(self, text: str, tokens: list[str], vocab: Vocab, max_len: int) -> None:
        if len(tokens) > max_len:
            raise SeqvizError(f"The input has {len(tokens)} {self.unit}; this model was trained on sources of at "
                              f"most {max_len}. Shorten it.")

    def gold(self, source: list[str], expected: str, metrics: dict, max_len: int) -> list[str] | None:
        """What the user expects, or a held-out source's own target, or nothing known."""
        held_out = dict(map(tuple, metrics.get("examples", [])))
        known = expected.strip() or held_out.get(self.joiner.join(source), "")
        return self.read_target(known)[:self.max_target_len(max_len)] if known else None

    # -- data
    def data(self, params: dict, data: Pairs):
        """-> training pairs, held-out pairs, {} (no lengths of their own): a seeded 15% held out, less any pair
        whose source is also a training source (a duplicate would be measured on what the model was trained on);
        at most 5,000 held out are evaluated."""
        pairs = list(zip(*data.split(self.tokens)))
        train_ids, val_ids = holdout(len(pairs), params["seed"])
        train = [pairs[i] for i in train_ids]
        seen = {tuple(s) for s, _ in train}
        return train, [pairs[i] for i in val_ids if tuple(pairs[i][0]) not in seen][:5000], {}

    def examples(self, val: list) -> dict:
        """The page's held-out picker, and the gold of a typed source that is one of them."""
        return {"examples": [[self.joiner.join(s), self.joiner.join(t)] for s, t in val[:MAX_EXAMPLES]]}

    def sizes(self, params: dict, data: Pairs | None = None) -> tuple[int, int, int]:
        if data is None:                  # a stored model of your pairs: a generous guess
            return params["n_train"], 1000, 1000
        sources, targets = data.split(self.tokens)
        return len(sources), len({t for s in sources for t in s}) + 2, len({t for s in targets for t in s}) + 4

    def check_params(self, params: dict, data: Pairs | None = None) -> None:
        """Every row against the settings: sources and targets of 1..max_len tokens, more than one distinct
        target token."""
        if data is None:
            raise SeqvizError("task=file trains on your own pairs: upload a CSV with columns source,target (CLI: "
                              "--data pairs.csv), or choose a generated task.")
        sources, targets = data.split(self.tokens)
        most = params["max_len"]
        for what, seqs in (("source", sources), ("target", targets)):
            lengths = np.fromiter(map(len, seqs), int, len(seqs))
            longest = int(lengths.argmax())
            if lengths[longest] > most:
                over = int((lengths > most).sum())
                raise SeqvizError(f"{data.filename}: data row {longest + 1}'s {what} has {lengths[longest]} "
                                  f"{self.unit} ({over:,} rows have more than {most}); the model reads at most "
                                  f"max_len = {most}: raise max_len to {lengths[longest]} (64 at most) or shorten "
                                  "those rows.")
        if len({t for seq in targets for t in seq}) < 2:
            raise SeqvizError(f"{data.filename}'s targets are all made of one token; there is nothing to learn. "
                              "(tokens=char reads characters, tokens=word words.)")

    def probe(self, params: dict, data: Pairs) -> dict:
        """The replay's input: your first held-out pair (its target as the expected output)."""
        train, val, _ = self.data(params, data)
        source, tgt = (val or train)[0]
        return {"text": self.joiner.join(source), "expected": self.joiner.join(tgt)}


# ---------------------------------------------------------------------------------------------
# A model's task, and the names the page, the CLI and the tests use
# ---------------------------------------------------------------------------------------------
KINDS = {"digits": Digits, "sort": Sort, "piglatin": PigLatin, FILE: FilePairs}
Task = Generated | FilePairs


def task_of(params: dict) -> Task:
    """The task a model's params name (your pairs: read as `tokens` says)."""
    return KINDS[params["task"]].of(params)


EXAMPLES = {name: KINDS[name].EXAMPLE for name in TASKS}
EXAMPLE = EXAMPLES["digits"]


def target(task: str, source: list[str]) -> list[str]:
    return KINDS[task]().target(source)


def joiner(params: dict) -> str:
    """How a model's output tokens are written as text, the way its targets were: Pig Latin's letters and a
    char-level model's characters (spaces among them) run together, words get spaces."""
    return task_of(params).joiner


def max_target_len(task: str, max_len: int) -> int:
    """Longest target (without </s>): Pig Latin adds up to 3 letters ('way'); your pairs' targets are held to
    max_len like their sources."""
    return KINDS[task]().max_target_len(max_len)


def make_pairs(task: str, n: int, min_len: int, max_len: int, seed: int,
               exclude: set | None = None) -> list[tuple[list[str], list[str]]]:
    """n distinct pairs of a generated task with inputs of min_len..max_len tokens (fewer if the space is
    smaller), none in `exclude` (a set of source tuples)."""
    return KINDS[task]().pairs(n, min_len, max_len, seed, exclude)


def vocabularies(task: str, pairs=None) -> dict[str, Vocab]:
    """Closed vocabularies: every token a task can produce; your pairs': their training rows' tokens (most
    frequent first). Target ids: 0 pad, 1 unk, 2 <s>, 3 </s>."""
    return KINDS[task]().vocabularies(pairs)


def encode(pairs, vocabs: dict[str, Vocab], max_len: int, task: str):
    """-> source (N, max_len), decoder input (N, T) = <s> + target, decoder output (N, T) = target + </s>,
    with T = longest target + 1; all right-padded with 0."""
    t_len = max_target_len(task, max_len) + 1
    src = np.zeros((len(pairs), max_len), np.int32)
    tgt_in, tgt_out = np.zeros((2, len(pairs), t_len), np.int32)
    start, end = vocabs["target"].index[START], vocabs["target"].index[END]
    for i, (s, t) in enumerate(pairs):
        ids = vocabs["target"].encode(t)
        src[i, :len(s)] = vocabs["source"].encode(s)
        tgt_in[i, :len(ids) + 1] = [start] + ids
        tgt_out[i, :len(ids) + 1] = ids + [end]
    return src, tgt_in, tgt_out


# ---------------------------------------------------------------------------------------------
# The model
# ---------------------------------------------------------------------------------------------
class LuongAttention(tf.keras.layers.Layer):
    """Luong "general" attention: score(s_t, h_j) = s_t W h_j, softmax over the real source tokens (the
    source ids give the mask), context c_t = sum_j a_tj h_j, output tanh(W_c [c_t; s_t]).
    Inputs [decoder states (B, t, H), encoder states (B, S, H), source ids (B, S)];
    outputs [attentional states (B, t, H), alignment weights (B, t, S)]."""

    def __init__(self, units: int, **kwargs):
        super().__init__(**kwargs)
        self.units = units
        self.supports_masking = True

    def build(self, input_shape):
        h = int(input_shape[0][-1])
        self.W = self.add_weight(name="W", shape=(h, h), initializer="glorot_uniform")
        self.combine = tf.keras.layers.Dense(self.units, activation="tanh", name="combine")
        self.combine.build((None, None, 2 * h))
        super().build(input_shape)

    def score(self, dec, enc):
        """(B, t, H) decoder states, (B, S, H) encoder states -> (B, t, S): s_t W h_j."""
        return tf.matmul(tf.tensordot(dec, self.W, 1), enc, transpose_b=True)

    def call(self, inputs, mask=None):
        dec, enc, src = inputs                     # dec (B, t, H), or (B, H) for one step (no time axis)
        one_step = dec.shape.rank == 2
        scores = self.score(dec[:, None] if one_step else dec, enc)                   # (B, t, S)
        real = tf.not_equal(src, 0)[:, None, :]                                      # (B, 1, S)
        weights = tf.nn.softmax(tf.where(real, scores, -1e9), axis=-1)               # padding gets 0
        context = tf.matmul(weights, enc)                                            # (B, t, H)
        if one_step:
            weights, context = weights[:, 0], context[:, 0]
        return self.combine(tf.concat([context, dec], -1)), weights

    def compute_mask(self, inputs, mask=None):
        return [None, None]

    def get_config(self):
        return {**super().get_config(), "units": self.units}


@tf.keras.utils.register_keras_serializable(package="seqviz")
class BahdanauAttention(LuongAttention):
    """The additive score of AttentionSeq2Seq (Bahdanau et al. 2015): score(s_t, h_j) = v · tanh(W_s s_t + W_h h_j),
    everything else as `LuongAttention` (the same place in the decoder, the same mask and output), so the two
    differ in the score alone. (Bahdanau's decoder attends from its previous state and feeds the context into
    the LSTM; here both scores attend from the current one, which keeps the teacher-forced pass parallel.)"""

    def build(self, input_shape):
        h = int(input_shape[0][-1])
        self.W_s = self.add_weight(name="W_s", shape=(h, self.units), initializer="glorot_uniform")
        self.W_h = self.add_weight(name="W_h", shape=(h, self.units), initializer="glorot_uniform")
        self.v = self.add_weight(name="v", shape=(self.units,), initializer="glorot_uniform")
        self.combine = tf.keras.layers.Dense(self.units, activation="tanh", name="combine")
        self.combine.build((None, None, 2 * h))
        tf.keras.layers.Layer.build(self, input_shape)

    def score(self, dec, enc):
        q = tf.tensordot(dec, self.W_s, 1)[:, :, None, :]                          # (B, t, 1, A)
        k = tf.tensordot(enc, self.W_h, 1)[:, None, :, :]                          # (B, 1, S, A)
        return tf.tensordot(tf.tanh(q + k), self.v, 1)                             # (B, t, S)


def _depths(params: dict) -> tuple[int, int]:
    """(encoder layers, decoder layers): `encoder_depth` / `decoder_depth` where set (farizrahman4u's
    depth=(4, 5)), else `depth` for both."""
    return params["encoder_depth"] or params["depth"], params["decoder_depth"] or params["depth"]


def _start_states(enc_states: list, decoder_depth: int) -> list:
    """The decoder's start state, [h, c] per decoder layer, from the encoder's final [h, c] per layer: layer i
    starts where encoder layer i ended, and a decoder deeper than the encoder starts its extra layers where the
    encoder's top layer ended."""
    pairs = [enc_states[i:i + 2] for i in range(0, len(enc_states), 2)]
    return [t for i in range(decoder_depth) for t in pairs[min(i, len(pairs) - 1)]]


def _layers(params: dict, vocabs: dict[str, Vocab]) -> dict:
    """Every layer, created once and keyed by its name; the training and inference models call the same objects."""
    L = tf.keras.layers
    units, (enc_depth, dec_depth) = params["units"], _depths(params)
    layers = {"src_embed": L.Embedding(len(vocabs["source"]), params["embed_dim"], mask_zero=True, name="src_embed"),
              "tgt_embed": L.Embedding(len(vocabs["target"]), params["embed_dim"], name="tgt_embed"),
              "probs": L.Dense(len(vocabs["target"]), activation="softmax", name="probs")}
    for side, depth in (("encoder", enc_depth), ("decoder", dec_depth)):
        for i in range(depth):
            layers[f"{side}_lstm_{i}"] = nn.lstm(units, return_sequences=True, return_state=True,
                                                 name=f"{side}_lstm_{i}")
    if params["mode"] == "attention":
        kind = LuongAttention if params["attention"] == "luong" else BahdanauAttention
        layers["attention"] = kind(units, name="attention")
    return layers


def _encode(layers: dict, depth: int, src, embedded=None):
    """-> encoder states (B, S, H), the last layer's final h (B, H), [h, c] of every layer. `embedded` (B, S, E):
    the source's embeddings given instead of looked up (seqviz.explain differentiates through them), masked
    where `src` is padding."""
    x, states = layers["src_embed"](src) if embedded is None else embedded, []
    masked = {} if embedded is None else {"mask": tf.not_equal(src, 0)}   # else the embedding's own mask
    for i in range(depth):
        x, h, c = layers[f"encoder_lstm_{i}"](x, **masked)
        states += [h, c]
    return x, states[-2], states


def _decoder_input(layers: dict, mode: str, tokens, h_enc, steps: int | None):
    """What the decoder LSTM reads at each of `steps` steps, given the previous tokens (B, steps); with
    `steps` None, at one step, given the previous token (B,): (B, in), no time axis."""
    repeat = (lambda h: h) if steps is None else tf.keras.layers.RepeatVector(steps)
    if mode == "basic":
        return repeat(h_enc)                                                         # (B, steps, H)
    x = layers["tgt_embed"](tokens)                                                  # (B, steps, E)
    if mode == "peek":
        x = tf.keras.layers.Concatenate()([x, repeat(h_enc)])
    return x


def _decode(layers: dict, depth: int, mode: str, x, enc, src, states, one_step: bool = False):
    """Decoder LSTMs (from `states`, [h, c] per layer; None = zeros) -> probs (B, t, V), alignment
    (B, t, S) or None, new states. `one_step` (x is (B, in), states given; outputs without the time axis)
    runs each LSTM's cell itself: the same weights without the layer's loop over time, which costs more
    than the step (~1.8x), and the Dense layers see rank-2 inputs (a MatMul, not a reshaping tensordot)."""
    new_states = []
    for i in range(depth):
        init = None if states is None else states[2 * i:2 * i + 2]
        lstm = layers[f"decoder_lstm_{i}"]
        if one_step:
            x, (h, c) = lstm.cell(x, init)
        else:
            x, h, c = lstm(x, initial_state=init)
        new_states += [h, c]
    weights = None
    if mode == "attention":
        x, weights = layers["attention"]([x, enc, src])
    return layers["probs"](x), weights, new_states


def build(params: dict, vocabs: dict[str, Vocab]) -> tf.keras.Model:
    """The training model: [source (B, S), decoder input (B, T)] -> probs (B, T, V) [, alignment (B, T, S)]."""
    mode, (enc_depth, depth) = params["mode"], _depths(params)        # depth: the decoder's, from here on
    t_len = task_of(params).max_target_len(params["max_len"]) + 1
    layers = _layers(params, vocabs)
    src = tf.keras.Input((params["max_len"],), dtype="int32", name="source")
    tgt_in = tf.keras.Input((t_len,), dtype="int32", name="decoder_input")
    enc, h_enc, enc_states = _encode(layers, enc_depth, src)
    init = None if mode == "basic" else _start_states(enc_states, depth)
    if mode == "basic" or params["teacher_force"]:      # all steps at once: the gold previous words
        x = _decoder_input(layers, mode, tgt_in, h_enc, t_len)
        probs, weights, _ = _decode(layers, depth, mode, x, enc, src, init)
    else:                                               # free-running: each step reads the last argmax
        prev, states, out, align = tgt_in[:, :1], init, [], []
        for _ in range(t_len):
            x = _decoder_input(layers, mode, prev, h_enc, 1)
            p, w, states = _decode(layers, depth, mode, x, enc, src, states)
            out.append(p)
            align.append(w)
            prev = tf.stop_gradient(tf.argmax(p, -1, output_type=tf.int32))         # (B, 1)
        probs = tf.keras.layers.Concatenate(axis=1, name="free_running")(out)
        weights = tf.keras.layers.Concatenate(axis=1)(align) if mode == "attention" else None
    outputs = [probs] if weights is None else [probs, weights]
    return tf.keras.Model([src, tgt_in], outputs, name=f"seq2seq_{mode}")


KERAS_CODE = (LuongAttention, BahdanauAttention, _depths, _start_states, _layers, _encode, _decoder_input, _decode,
              build)   # the page's "Keras code"


# ---------------------------------------------------------------------------------------------
# Training and evaluation
# ---------------------------------------------------------------------------------------------
def evaluate(model, params, vocabs, pairs) -> dict:
    """Free-running greedy decode of held-out pairs: exact match (every token and </s>) and token accuracy."""
    if not pairs:
        return {"exact": float("nan"), "token_accuracy": float("nan"), "n": 0}
    src, _, gold = encode(pairs, vocabs, params["max_len"], params["task"])
    tv = vocabs["target"]
    pred = greedy_batch(inference(model, params), src, gold.shape[1], tv.index[END], tv.index[START])
    real = gold != 0
    exact = np.all((pred == gold) | ~real, axis=1)
    return {"exact": float(exact.mean()), "token_accuracy": float((pred == gold)[real].mean()), "n": len(pairs)}


def memory(params: dict, data=None) -> list[budget.Term]:
    """What a training run holds (seqviz.budget): the weights, one batch through the encoder and decoder
    stacks (with the attention's (T, S) scores and the (T, V) output), and the training pairs."""
    task = task_of({**params, "task": FILE} if data is not None else params)    # as check_params decides
    n_train, vs, vt = task.sizes(params, data)
    e, h, depth, b = params["embed_dim"], params["units"], params["depth"], params["batch_size"]
    extra = sum(_depths(params)) - 2                     # stacked layers beyond each side's first
    s, t = params["max_len"], task.max_target_len(params["max_len"]) + 1
    additive = params["mode"] == "attention" and params["attention"] == "bahdanau"    # + (B, T, S, H) tanh
    dec_in = {"basic": h, "feedback": e, "peek": e + h, "attention": e}[params["mode"]]
    w = (vs + vt) * e + budget.lstm_weights(e, h) + budget.lstm_weights(dec_in, h) + \
        extra * budget.lstm_weights(h, h) + (2 * h + 1) * vt + 2 * h * h
    lstms = budget.lstm_activations(b, s, h, e) + budget.lstm_activations(b, t, h, dec_in) + \
        extra * budget.lstm_activations(b, (s + t) / 2, h, h)
    return [budget.weights(w, {"units": h, "depth": depth}),
            budget.Term("one batch through the encoder and decoder LSTMs", lstms,
                        {"batch_size": b, "units": h, "depth": depth, "max_len": s}),
            budget.Term("one batch's attention scores and output probabilities",
                        3 * b * t * (s + vt + 2 * h + (s * h if additive else 0)) * budget.FLOAT,
                        {"batch_size": b, "max_len": s}),
            budget.Term("the training pairs", n_train * (s + 2 * t) * 70, {"n_train": n_train}, "data")]


def check_params(params: dict, data: Pairs | None = None) -> dict:
    """The settings a run trains with, checked before any work (the training service calls this): the knobs'
    constraints; with the user's pairs, task = file and every row checked against max_len."""
    if data is not None:
        params = {**params, "task": FILE}
    task_of(params).check_params(params, data)
    return params


def advise(params: dict, data: Pairs | None = None) -> list[str]:
    """What to reconsider before training on your pairs (the run may still go ahead): read as words, nearly every
    source or target being one token means each whole cell is a token to memorise (`77+97` never splits into
    digits), and the model cannot learn a rule."""
    if data is None or params["tokens"] != "word":
        return []
    out = []
    for what, rows in zip(("source", "target"), data.split("word")):
        single = sum(len(r) == 1 for r in rows) / max(1, len(rows))
        if single >= 0.9:
            out.append(f"{single:.0%} of your {what}s are a single word with tokens=word (e.g. {rows[0][0]!r}): the "
                       "model would see each whole cell as one token to memorise, with nothing to learn a rule "
                       "from. Did you mean tokens=char (every character a token)?")
    return out


def fit(params: dict, data=None, run: Run = UNWATCHED):
    params = check_params(params, data)
    task = params["task"]
    pairs, val, at_len = task_of(params).data(params, data)     # at_len: {key: (length, held-out pairs)}
    vocabs = task_of(params).vocabularies(pairs)
    src, tgt_in, tgt_out = encode(pairs, vocabs, params["max_len"], task)
    phase("building the model")
    model = build(params, vocabs)
    losses = ["sparse_categorical_crossentropy"] + ([None] if params["mode"] == "attention" else [])
    rate = params["learning_rate"]
    if params["decay"]:   # one cosine from the rate to 0 over every step of the run
        steps = params["epochs"] * -(-len(pairs) // params["batch_size"])
        rate = tf.keras.optimizers.schedules.CosineDecay(rate, steps)
    model.compile(tf.keras.optimizers.Adam(rate, clipnorm=5.0), loss=losses)
    model.fit([src, tgt_in], tgt_out, sample_weight=(tgt_out != 0).astype("float32"),
                     epochs=params["epochs"], batch_size=params["batch_size"],
              callbacks=run.callbacks(model, vocabs), verbose=0)
    held = evaluate(model, params, vocabs, val)
    metrics = {"val_exact": held["exact"], "val_token_accuracy": held["token_accuracy"],
               "n_train": len(pairs), "n_val": held["n"], "mode": params["mode"], "task": task}
    if data is not None:   # your pairs: the held-out ones kept with the model (bounded), for the held-out view
        j = task_of(params).joiner
        metrics["heldout"] = keep({"source": [j.join(s) for s, _ in val], "target": [j.join(t) for _, t in val]})
    metrics.update(task_of(params).examples(val))
    for k, (n, pairs_n) in at_len.items():
        r = evaluate(model, params, vocabs, pairs_n)
        metrics.update({f"len_{k}": n, f"exact_{k}": r["exact"], f"token_accuracy_{k}": r["token_accuracy"],
                        f"n_{k}": r["n"]})
    return model, vocabs, metrics


# ---------------------------------------------------------------------------------------------
# Inference: an encoder and a one-step decoder from the trained layers
# ---------------------------------------------------------------------------------------------
@dataclass
class Inference:
    """Encoder and one-step decoder built from the trained model's layers (keras-io lstm_seq2seq style)."""
    encoder: tf.keras.Model   # source (B, S) -> the decoder's start state [states (B, S, H), source, h (B, H),
    #                           h_0, c_0, ...] (basic: zero h_i, c_i)
    step: Callable            # [prev (B,), states, source, h, h_0, c_0, ...]
    #                           -> [probs (B, V), (alignment (B, S)), h_0, c_0, ...]
    mode: str
    depth: int
    signatures: tuple         # the TensorSpecs of the encoder's and the step's inputs: each is traced once
    search_step: Callable     # `step` as the search calls it: (tokens, state, t) -> (log-probs, state, alignment)
    vocab_size: int           # target tokens

    @cached_property
    def search(self) -> decoding.Search:
        """Three greedy or beam searches over `search_step` at a time, in one graph; traced on first use (an
        evaluation after training and an export never need it)."""
        return self._compile(runs=3)

    @cached_property
    def search_one(self) -> decoding.Search:
        """One search per call: a third of the graph to trace (~0.8 s instead of ~2 s). For a replay's snapshots
        of a model in training (one greedy decode per epoch; the model is thrown away once saved)."""
        return self._compile(runs=1)

    def _compile(self, runs: int) -> decoding.Search:
        return decoding.compile_search(self.search_step, [self.signatures[0]], self.vocab_size, runs=runs,
                                       init=lambda inputs: self.encoder(inputs[0], training=False))


@graphs.once_per_model
def inference(model: tf.keras.Model, params: dict) -> Inference:
    mode, (enc_depth, depth), units = params["mode"], _depths(params), params["units"]
    layers = {layer.name: layer for layer in model.layers}   # the trained objects, by name
    src = tf.keras.Input((None,), dtype="int32")
    enc, h_enc, enc_states = _encode(layers, enc_depth, src)
    enc_states = _start_states(enc_states, depth)            # [h, c] per decoder layer
    if mode == "basic":                                    # its decoder starts from zero states
        enc_states = [tf.zeros_like(s) for s in enc_states]
    encoder = tf.keras.Model(src, [enc, src, h_enc] + enc_states, name="encoder")

    def step(inputs, training=False):        # see `Inference.step`; traced, never called eagerly
        prev, enc, src, h_enc, *states = inputs
        x = _decoder_input(layers, mode, prev, h_enc, None)
        probs, weights, states = _decode(layers, depth, mode, x, enc, src, states, one_step=True)
        return [probs] + ([weights] if weights is not None else []) + states
    spec = lambda *shape, dtype="float32": tf.TensorSpec(shape, dtype)  # noqa: E731
    signatures = (spec(None, None, dtype="int32"),   # encoder: source ids; step: see `Inference.step`
                  [spec(None, dtype="int32"), spec(None, None, units), spec(None, None, dtype="int32"),
                   spec(None, units)] + [spec(None, units)] * (2 * depth))

    def search_step(tokens, state, t):       # the step inside the compiled search; state as `start_state`
        enc, src, h_enc, *states = state
        out = step([tokens, enc, src, h_enc] + states)
        probs, rest, extra = out[0], out[1:], tf.zeros([tf.shape(tokens)[0], 0])
        if mode == "attention":                                   # keep each step's alignment (B, S)
            extra, rest = rest[0], rest[1:]
        return tf.math.log(tf.maximum(probs, 1e-30)), [enc, src, h_enc] + list(rest), extra
    return Inference(encoder, step, mode, depth, signatures, search_step, layers["probs"].units)


def start_state(inf: Inference, src: np.ndarray) -> list[np.ndarray]:
    """Decoder state for source ids (B, S): [encoder states, source ids, h, h_0, c_0, ...] (numpy).
    Basic mode starts its decoder from zero states; the others from the encoder's final states."""
    return [t.numpy() for t in graphs.forward(inf.encoder, np.asarray(src, np.int32), inf.signatures[0])]


def step_fn(inf: Inference, attention_out: list | None = None):
    """One decoder step in numpy, for a batch of sources (evaluation): previous tokens (B,) and the state ->
    log-probs (B, V) and the new state. Alignment rows (B, S) are appended to `attention_out` when given."""
    def step(tokens, state):
        enc, src, h_enc, *states = state
        out = [t.numpy() for t in graphs.forward(inf.step, [tokens.astype(np.int32), enc, src, h_enc] + states,
                                                inf.signatures[1])]
        probs, rest = out[0], out[1:]
        if inf.mode == "attention":
            if attention_out is not None:
                attention_out.append(rest[0])
            rest = rest[1:]
        return np.log(np.maximum(probs, 1e-30)), [enc, src, h_enc] + rest
    return step


def greedy_batch(inf: Inference, src: np.ndarray, t_len: int, end: int, start: int, state=None,
                 log_probs_out: list | None = None) -> np.ndarray:
    """Free-running argmax decoding of a whole batch (for evaluation): (B, t_len) ids. `state`: the batch's
    `start_state`, where the caller has it; `log_probs_out` gets each step's chosen log-probability (B,)."""
    step, state = step_fn(inf), start_state(inf, src) if state is None else state
    tokens, out = np.full(len(src), start), []
    for _ in range(t_len):
        log_probs, state = step(tokens, state)
        tokens = log_probs.argmax(-1)
        out.append(tokens)
        if log_probs_out is not None:
            log_probs_out.append(log_probs[np.arange(len(tokens)), tokens])
    return np.stack(out, 1)


# ---------------------------------------------------------------------------------------------
# Inference on a typed input
# ---------------------------------------------------------------------------------------------
def parse_source(text: str, params: dict, vocab: Vocab) -> list[str]:
    """Typed input -> source tokens, as the task reads them (`read`); everything the model cannot read is named in
    the error (your pairs' unknown tokens are read as <unk> and marked by `predict`)."""
    task, max_len = task_of(params), params["max_len"]
    if not isinstance(text, str) or not text.strip():
        raise SeqvizError(f"The input is empty; type {task.asks}.")
    text = text.strip()
    if len(text) > 64 * max_len:
        raise SeqvizError(f"The input has {len(text):,} characters; this model reads at most {max_len} tokens.")
    tokens = task.read(text)
    task.check(text, tokens, vocab, max_len)
    return tokens


def predict(bundle, text: str, mode: str = "auto", beam: int = 3, top_k: int = 5, prefix: str = "",
            expected: str = "", exposure: bool = True) -> dict:
    """Beam search (width `beam`; 1 = greedy) of one input, with each beam's log-probability, the best
    beam's per-step top-k, its alignment (attention mode; else None) and the exposure-bias view (None
    without `exposure`: it does not depend on the beam or the prefix, so a re-decode can skip it; None too
    where the gold output is unknown: a model of your pairs given neither `expected` nor a held-out source)."""
    p, vocabs = bundle.params, bundle.vocabs
    if mode not in ("auto", p["mode"]):
        raise SeqvizError(f"Model {bundle.name!r} is a {p['mode']} model, not {mode}; drop the mode option "
                          f"or choose the model default-{mode}.")
    sv, tv, task = vocabs["source"], vocabs["target"], task_of(p)
    source = parse_source(text, p, sv)
    pinned = task.read_target(prefix) if isinstance(prefix, str) else list(prefix)
    bad = [t for t in pinned if t not in tv or t in (PAD, UNK, START)]
    if bad:
        raise SeqvizError(f"Cannot pin {bad[0]!r}: {task.whose} model writes only "
                          f"{', '.join(map(repr, tv.tokens[4:14]))}{'…' if len(tv) > 14 else ''} and {END}.")
    t_len = task.max_target_len(p["max_len"]) + 1
    if len(pinned) > t_len:
        raise SeqvizError(f"The pinned prefix has {len(pinned)} tokens; this model writes at most {t_len}.")
    inf = inference(bundle.model, p)
    src = [np.array([sv.encode(source)], np.int32)]
    start, end = tv.index[START], tv.index[END]
    gold = task.gold(source, expected, bundle.metrics, p["max_len"])      # None: not known
    exposure = exposure and gold is not None
    gold_ids = tv.encode(gold or []) + [end]
    # one call, up to three searches side by side: the beams; the gold target fed in (the argmax at each of
    # its steps is the teacher-forced decode) and the free-running greedy decode (the exposure-bias view)
    runs = [decoding.Run(int(beam), t_len, tv.encode(pinned), int(top_k))]
    if exposure:
        runs += [decoding.Run(1, len(gold_ids), gold_ids, top_k=1), decoding.Run(1, t_len, top_k=1)]
    one = bundle.training and len(runs) == 1    # a replay's snapshot: a one-search graph for a model thrown away
    beams, *seen = decoding.beam_searches(inf.search_one if one else inf.search, src, start, end, runs)
    forced = [top[0][0] for top in seen[0][0].topk] if exposure else None
    return _result(bundle, source, beams, gold, forced, seen[1][0].tokens if exposure else None, pinned)


def _result(bundle, source: list[str], beams: list, gold: list[str] | None, forced: list[int] | None,
            free: list[int] | None, pinned: list[str]) -> dict:
    """`predict`'s result from its searches: the beams (decoding.Hypothesis, best first), the argmax ids at each
    step given the gold prefix and the free-running greedy ids (None without the exposure view)."""
    p, sv, tv, task = bundle.params, bundle.vocabs["source"], bundle.vocabs["target"], task_of(bundle.params)
    best = beams[0]
    words = lambda ids: [t for t in tv.decode(ids) if t != END]  # noqa: E731
    return {
        "mode": p["mode"], "task": p["task"], "source": source, "output": words(best.tokens),
        "text": task.joiner.join(words(best.tokens)),      # the decode written the way the targets were
        "unknown": [t not in sv or t in (PAD, UNK) for t in source],
        "gold": gold, "correct": None if gold is None else words(best.tokens) == gold, "finished": best.finished,
        "beams": [{"tokens": words(b.tokens), "logprob": b.logprob, "step_logprobs": b.step_logprobs,
                   "finished": b.finished} for b in beams],
        "steps": [{tv.tokens[i]: float(np.exp(lp)) for i, lp in top} for top in best.topk],
        "attention": best.extra.tolist() if p["mode"] == "attention" else None,
        # the argmax at each step given the gold prefix; the decoder reading its own outputs
        "teacher_forced": None if forced is None else tv.decode(forced),
        "free_running": None if free is None else tv.decode(free),
        "prefix": pinned,
    }


def predict_batch(bundle, texts: list[str], mode: str = "auto", beam: int = 3, top_k: int = 5, prefix: str = "",
                  expected: str = "") -> list:
    """`predict` of many sources (predict --data): per source its result, or the SeqvizError that refused it.
    Greedy decoding (beam 1, nothing pinned) runs a batch side by side, step by step (`_greedy`): each row is what
    `predict` gives it alone, to float rounding; a beam search runs source by source."""
    from seqviz.batch import each
    options = dict(mode=mode, beam=beam, top_k=top_k, prefix=prefix, expected=expected)
    if beam != 1 or prefix or mode not in ("auto", bundle.params["mode"]):
        return each(predict)(bundle, texts, **options)
    p, sv, tv = bundle.params, bundle.vocabs["source"], bundle.vocabs["target"]
    task, start, end = task_of(p), tv.index[START], tv.index[END]
    out = each(lambda b, text: parse_source(text, p, sv))(bundle, texts)   # tokens, or why not
    read = [i for i, r in enumerate(out) if not isinstance(r, SeqvizError)]
    if not read:
        return out
    decoding.check_width(beam)
    inf, t_len = inference(bundle.model, p), task.max_target_len(p["max_len"]) + 1
    src = _padded([sv.encode(out[i]) for i in read])
    golds = [task.gold(out[i], expected, bundle.metrics, p["max_len"]) for i in read]
    best = _greedy(inf, src, start, end, t_len, int(top_k))
    known = [row for row, g in enumerate(golds) if g is not None]         # the exposure view needs the gold
    forced = {}
    if known:
        gold_ids = [tv.encode(golds[row]) + [end] for row in known]
        fed = _greedy(inf, src[known], start, end, max(map(len, gold_ids)), 1, _padded(gold_ids))
        forced = {row: [h.topk[t][0][0] for t in range(len(g))] for row, h, g in zip(known, fed, gold_ids)}
    for row, i in enumerate(read):
        free = best[row].tokens if row in forced else None
        out[i] = _result(bundle, out[i], [best[row]], golds[row], forced.get(row), free, [])
    return out


def _padded(rows: list[list[int]]) -> np.ndarray:
    """Id lists -> (N, longest) int32, 0-padded (the source embedding masks 0)."""
    ids = np.zeros((len(rows), max(map(len, rows))), np.int32)
    for i, r in enumerate(rows):
        ids[i, :len(r)] = r
    return ids


def _greedy(inf: Inference, src: np.ndarray, start: int, end: int, t_len: int, top_k: int,
            fed: np.ndarray | None = None) -> list:
    """Greedy decoding of a batch of sources (B, S) step by step, each row as `decoding.greedy` finds it alone: a
    Hypothesis with each step's chosen log-prob, top-k (ties: the lower id first, as tf.math.top_k) and alignment
    row, cut after its </s>. `fed` (B, T): read those tokens instead of its own (teacher forcing; T steps, the
    argmax at each step is its top-1)."""
    attention: list = []
    step, state = step_fn(inf, attention), start_state(inf, src)
    rows, tokens, records = np.arange(len(src)), np.full(len(src), start), []
    for t in range(t_len if fed is None else fed.shape[1]):
        log_probs, state = step(tokens, state)                              # (B, V)
        top = np.argsort(-log_probs, axis=1, kind="stable")[:, :top_k]       # (B, K)
        tokens = top[:, 0] if fed is None else fed[:, t]
        records.append((tokens, log_probs[rows, tokens], top, np.take_along_axis(log_probs, top, 1)))
    hyps, lengths = [], (src != 0).sum(1)                                    # alignments over each row's source
    for b in rows:
        chosen = [int(r[0][b]) for r in records]
        n = chosen.index(end) + 1 if fed is None and end in chosen else len(chosen)
        hyps.append(decoding.Hypothesis(
            chosen[:n], [float(r[1][b]) for r in records[:n]],
            [[(int(i), float(lp)) for i, lp in zip(r[2][b], r[3][b])] for r in records[:n]], end in chosen[:n],
            np.stack([a[b, :lengths[b]] for a in attention[:n]]) if attention else np.zeros((n, 0), np.float32)))
    return hyps


def exposure(r: dict) -> dict | None:
    """The exposure-bias view of a `predict` result, or None without the gold output: per step the gold token,
    the teacher-forced choice (given the gold prefix) and the free-running one (reading its own outputs), each
    marked ✗ where it is not the gold token; the first step where the two decodes part; and what that says."""
    if r["teacher_forced"] is None:
        return None
    gold = r["gold"] + [END]
    n = max(len(r["teacher_forced"]), len(r["free_running"]), len(gold))
    pad = lambda tokens: list(tokens) + [""] * (n - len(tokens))  # noqa: E731
    gold, forced, free = pad(gold), pad(r["teacher_forced"]), pad(r["free_running"])
    split = next((i for i in range(n) if forced[i] != free[i]), None)
    mark = lambda tokens: [t if t == g else f"{t} ✗" for t, g in zip(tokens, gold)]  # noqa: E731
    wrong = [i for i in range(n) if free[i] != gold[i]]
    if split is not None:
        says = (f"They part at step {split + 1}: from there the free-running decoder reads its own earlier outputs, "
                "which teacher forcing never showed it.")
    elif not wrong:
        says = "The two agree at every step, and both are right."
    else:
        says = (f"The two agree at every step, and both are wrong from step {wrong[0] + 1}: given the gold prefix the "
                "model still chooses the same token there, so this error is the model's own, not exposure bias.")
    return {"columns": {"step": list(range(1, n + 1)), "gold": gold, "teacher-forced": mark(forced),
                        "free-running": mark(free), "where": ["◀ first divergence" if i == split else ""
                                                              for i in range(n)]},
            "split": split, "says": says}


# ---------------------------------------------------------------------------------------------
# Explanations (seqviz.explain): which source tokens each output token rests on
# ---------------------------------------------------------------------------------------------
@graphs.once_per_model
def _scorer(model: tf.keras.Model, params: dict):
    """source embeddings (N, S, E), source ids (N, S), decoder input (N, T), step (N,), token (N,) -> P(token at
    that step) (N,): the model's own encoder and decoder, all steps at once on the decoder input given."""
    mode, (enc_depth, depth) = params["mode"], _depths(params)
    layers = {layer.name: layer for layer in model.layers}
    t_len = task_of(params).max_target_len(params["max_len"]) + 1

    def score(emb, src, prev, step, token):
        enc, h_enc, enc_states = _encode(layers, enc_depth, src, emb)
        init = None if mode == "basic" else _start_states(enc_states, depth)
        probs, _, _ = _decode(layers, depth, mode, _decoder_input(layers, mode, prev, h_enc, t_len), enc, src, init)
        return tf.gather(tf.gather(probs, step, batch_dims=1), token, batch_dims=1)      # (N, T, V) -> (N,)
    return tf.function(score, reduce_retracing=True, autograph=False)


def explainable(bundle, text: str, target=None, beam: int = 3, r: dict | None = None):
    """The source as seqviz.explain's methods see it, for output steps of the decode the page shows (beam
    `beam`): its tokens' embeddings and P(that step's token | the decode's earlier tokens) from them. `target`:
    a step (1-based, "2" or 2) -> one input; None -> every step (</s> included when the decode ended), one input
    per step: the gradient alignment, output step x source token, with the attention's beside it. `r`: that
    decode, where the caller has it."""
    from seqviz import explain
    p, sv, tv = bundle.params, bundle.vocabs["source"], bundle.vocabs["target"]
    r = r or predict(bundle, text, beam=beam, exposure=False)
    out = decoded(r)
    steps = list(range(len(out)))
    if target is not None:
        try:
            k = int(target)
        except (TypeError, ValueError):
            k = 0
        if not 1 <= k <= len(out):
            raise SeqvizError(f"The step to explain is one of 1 to {len(out)} (the decode {' '.join(out)!r}), "
                              f"not {target!r}.")
        steps = [k - 1]
    t_len = task_of(p).max_target_len(p["max_len"]) + 1
    prev = np.zeros((1, t_len), np.int32)                  # the decoder reads <s> and the decode's own tokens
    ids = [tv.index[START]] + tv.encode(out)[:t_len - 1]
    prev[0, :len(ids)] = ids
    src = np.array([sv.encode(r["source"])], np.int32)
    table = bundle.model.get_layer("src_embed").embeddings.numpy()
    n = len(steps)
    extras = {}
    if r["attention"] is not None:
        extras["attention"] = np.array(r["attention"], np.float32)[steps]
    args = (np.repeat(src, n, axis=0), np.repeat(prev, n, axis=0), np.array(steps, np.int32),
            np.array(tv.encode([out[i] for i in steps]), np.int32))
    return explain.Subject([r["source"]] * n, np.repeat(table[src], n, axis=0), table[sv.unk_id],
                           _scorer(bundle.model, p), args, [f"P(step {i + 1} = {out[i]})" for i in steps], extras)


def heldout_cases(bundle, n: int = 40) -> list[tuple[str, None]]:
    """seqviz.explain's held-out cases: the first `n` held-out sources (a generated task's, or the held-out pairs
    a model of your file keeps), each for every step of its decode."""
    task = task_of(bundle.params)
    if bundle.params["task"] in TASKS:
        sources = [s for s, _ in task.data(bundle.params)[1][:n]]
    else:
        sources = [task.read(s) for s, _ in bundle.metrics.get("examples", [])[:n]]
    return [(task.joiner.join(s), None) for s in sources]


# ---------------------------------------------------------------------------------------------
# The held-out set (seqviz.evaluate): every pair decoded free-running, by input length
# ---------------------------------------------------------------------------------------------
def heldout_data(bundle):
    """The model's held-out pairs: a generated task's (as tokens, regenerated from its seed), or the ones of your
    file it kept (as written)."""
    p = bundle.params
    if p["task"] in TASKS:
        return task_of(p).data(p)[1]
    h = kept(bundle, "source", "pairs", "score it on a file of pairs")
    return Pairs([str(x) for x in h["source"]], [str(x) for x in h["target"]])


def score_examples(bundle, data, batch: int = 256):
    """Every pair (`data`: token pairs, or a Pairs file read as the model's task reads typed text) decoded
    free-running and greedily, `batch` at a time (seqviz.evaluate.Scored): exact match, token accuracy, the
    probability of its decode, the encoder's final state (the map), sliced by input length. Pairs the model
    cannot read (a source over its longest input, a target over its longest output) are left out in one note."""
    from seqviz.evaluate import Scored
    p, tv = bundle.params, bundle.vocabs["target"]
    task = task_of(p)
    pairs = data if isinstance(data, list) else [(task.read(s), task.read_target(t))
                                                 for s, t in zip(data.sources, data.targets)]
    t_len = task.max_target_len(p["max_len"]) + 1
    fits = [(s, t) for s, t in pairs if 1 <= len(s) <= p["max_len"] and len(t) < t_len]
    notes = [f"{len(pairs) - len(fits):,} pair(s) are longer than the model reads ({p['max_len']} input, "
             f"{t_len - 1} output tokens) or empty: left out, the rest scored."] if len(fits) < len(pairs) else []
    if not fits:
        raise SeqvizError(f"None of the pairs fits the model ({p['max_len']} input, {t_len - 1} output tokens).")
    inf, end, start = inference(bundle.model, p), tv.index[END], tv.index[START]
    out = {k: [] for k in ("gold", "pred", "conf", "right", "tokens", "h")}
    for i in range(0, len(fits), batch):
        chunk = fits[i:i + batch]
        src, _, gold = encode(chunk, bundle.vocabs, p["max_len"], p["task"])
        state, chosen = start_state(inf, src), []
        pred = greedy_batch(inf, src, gold.shape[1], end, start, state, chosen)
        chosen = np.stack(chosen, 1)                                                 # (B, T) log P(chosen)
        real = gold != 0
        for b, (_, t) in enumerate(chunk):
            stop = int(np.argmax(pred[b] == end)) if (pred[b] == end).any() else pred.shape[1] - 1
            out["gold"].append(task.joiner.join(t))
            out["pred"].append(task.joiner.join(tv.tokens[k] for k in pred[b, :stop]))
            out["conf"].append(float(np.exp(chosen[b, :stop + 1].sum())))
            out["right"].append(int(((pred[b] == gold[b]) & real[b]).sum()))
            out["tokens"].append(int(real[b].sum()))
        out["h"].append(state[2])
    return Scored("pair", [task.joiner.join(s) for s, _ in fits], out["gold"], out["pred"], np.array(out["conf"]),
                  accuracy_name="exact match",
                  slices={"input length": [f"{len(s)} {getattr(task, 'unit', 'tokens')}" for s, _ in fits]},
                  vectors=np.concatenate(out["h"]), notes=notes,
                  measures={"token accuracy": (np.array(out["right"]), np.array(out["tokens"]))})


def lstm_inputs(bundle, texts: list[str]) -> list:
    """Every encoder and decoder LSTM layer as seqviz.states reads it for a batch of sources (encoder_lstm_i,
    decoder_lstm_i: the model's names): an encoder layer reads the sources' embeddings (or the layer below's
    states), a step per source token; a decoder layer reads what the mode feeds it for "<s>" and each source's
    greedy decode (</s> included where it ended), from the encoder's final states (basic mode: from zeros), a
    step per output token."""
    from seqviz.states import LayerInput
    p, sv, tv = bundle.params, bundle.vocabs["source"], bundle.vocabs["target"]
    mode, (enc_depth, depth) = p["mode"], _depths(p)
    layers = {layer.name: layer for layer in bundle.model.layers}
    sources = [parse_source(t, p, sv) for t in texts]
    src = np.zeros((len(sources), max(map(len, sources))), np.int32)                 # (N, S), 0-padded
    for i, s in enumerate(sources):
        src[i, :len(s)] = sv.encode(s)
    start, end = tv.index[START], tv.index[END]
    greedy = greedy_batch(inference(bundle.model, p), src, task_of(p).max_target_len(p["max_len"]) + 1, end, start)
    outs = [list(row[:list(row).index(end) + 1] if end in row else row) for row in greedy]  # ids, </s> included
    prev = np.zeros((len(outs), max(map(len, outs))), np.int32)                        # "<s>" w1 .. : (N, T)
    for i, o in enumerate(outs):
        prev[i, :len(o)] = [start] + o[:-1]
    items, x, finals = [], layers["src_embed"](src), []
    for i in range(enc_depth):
        name = f"encoder_lstm_{i}"
        items.append(LayerInput(name, layers[name], x.numpy(), src != 0, sources))
        x, h, c = layers[name](x)
        finals += [h, c]
    init = None if mode == "basic" else _start_states(finals, depth)
    x = _decoder_input(layers, mode, prev, finals[-2], prev.shape[1])
    steps = [[f"→ {tv.tokens[t]}" for t in o] for o in outs]
    for i in range(depth):
        name = f"decoder_lstm_{i}"
        start_at = None if init is None else (init[2 * i].numpy(), init[2 * i + 1].numpy())
        items.append(LayerInput(name, layers[name], x.numpy(), prev != 0, steps, initial=start_at))
        x, _, _ = layers[name](x, initial_state=None if init is None else init[2 * i:2 * i + 2])
    return items


def batch_inputs(raw: bytes, filename: str) -> list:
    """predict --data: a CSV's `source` column (a `target` column, if any, is not read), or one source a line."""
    from seqviz import batch
    return batch.text_rows(raw, filename, "source")


def unit_effects(bundle, text: str, layer: str) -> dict | None:
    """Each unit of the encoder's top layer against the greedy decode (seqviz.states.effects): the final h it
    hands the decoder (its first state, and what basic and peek modes read at every step), and the drop in the
    decode's log-probability with the unit silenced everywhere the decoder reads it (the final h and c, and
    every step's state for attention): the H variants decoded side by side, teacher-forced along the decode.
    The other layers reach the output through this one (or are the decoder itself): None."""
    p, sv, tv = bundle.params, bundle.vocabs["source"], bundle.vocabs["target"]
    enc_depth, depth = _depths(p)
    if layer != f"encoder_lstm_{enc_depth - 1}":
        return None
    src = np.array([sv.encode(parse_source(text, p, sv))], np.int32)
    inf, units = inference(bundle.model, p), p["units"]
    start, end = tv.index[START], tv.index[END]
    out = list(greedy_batch(inf, src, task_of(p).max_target_len(p["max_len"]) + 1, end, start)[0])
    out = out[:out.index(end) + 1] if end in out else out
    enc, src_ids, h_enc, *dec = (np.repeat(a, 1 + units, axis=0) for a in start_state(inf, src))
    rows, k = np.arange(1, units + 1), np.arange(units)
    final = h_enc[0].copy()
    enc[rows, :, k], h_enc[rows, k] = 0.0, 0.0                  # variant 1 + k: unit k of the top layer silenced
    for i in range(depth):                                      # decoder layers that start where this layer ended
        if p["mode"] != "basic" and min(i, enc_depth - 1) == enc_depth - 1:
            dec[2 * i][rows, k], dec[2 * i + 1][rows, k] = 0.0, 0.0
    step, state = step_fn(inf), [enc, src_ids, h_enc, *dec]
    tokens, total = np.full(1 + units, start), np.zeros(1 + units)
    for t in out:                                               # teacher-forced along the decode
        log_probs, state = step(tokens, state)
        total += log_probs[:, t]
        tokens = np.full(1 + units, t)
    link = "its final h (what the decoder reads at every step)" if p["mode"] == "basic" else \
        "its final h (where the decoder starts)"
    return {"target": "log P(greedy decode)", "base": float(total[0]), "link": link,
            "weights": {"forward": final.tolist()}, "ablation": {"forward": (total[0] - total[1:]).tolist()}}


def decoded(r: dict) -> list[str]:
    """A decode's output steps: its tokens, and </s> where it ended."""
    return r["output"] + ([END] if r["finished"] else [])


def gradient_alignment(bundle, text: str, beam: int = 3, method: str = "ig") -> dict:
    """Every output step's importance of every source token by `method` (seqviz.explain; one batched call): the
    alignment the decoder used, for any mode; beside the attention's (attention mode) with their Kendall τ per
    step. -> {"source", "output" (the decode, </s> included when it ended), "alignment" (T, S), "attention" (T, S)
    or None, "tau" (T,) or None, "method"}."""
    from seqviz import explain
    r = predict(bundle, text, beam=beam, exposure=False)
    sub = explainable(bundle, text, None, beam, r)
    imp = explain.importances(sub, (method,))[method]                           # (T, S)
    att = sub.extras.get("attention")
    return {"source": sub.units[0], "output": decoded(r),
            "alignment": imp.tolist(), "attention": None if att is None else att.tolist(),
            "tau": None if att is None else [explain.kendall_tau(a, b) for a, b in zip(imp, att)],
            "method": method}


# ---------------------------------------------------------------------------------------------
# Replay (seqviz.replay): the greedy decode of one probe source, epoch by epoch
# ---------------------------------------------------------------------------------------------
def probe(params: dict, data: Pairs | None) -> dict:
    """The replay's input: the task's example (cut to what the model reads), or your first held-out pair (its
    target as the expected output)."""
    return task_of(params).probe(params, data)


def snapshot(bundle, text: str, expected: str = "") -> dict:
    """One epoch of a replay: the greedy decode, its per-step top 5, the alignment (attention mode), right or not."""
    r = predict(bundle, text, beam=1, top_k=5, expected=expected, exposure=False)
    return {k: r[k] for k in ("mode", "source", "output", "text", "gold", "correct", "finished", "steps",
                              "attention", "unknown")}


def story(rep: dict) -> dict:
    """What changed over a replay: per epoch, the mean probability of the chosen tokens and (the gold output
    known) the share of positions already right; in words, each new decode and the first epoch it was right."""
    snaps = rep["snapshots"]
    lines = {"mean probability of the chosen tokens": [
        float(np.mean([max(step.values()) for step in s["steps"]])) if s["steps"] else 0.0 for s in snaps]}
    gold = snaps[-1]["gold"]
    if gold:
        lines["positions right"] = [float(np.mean([i < len(s["output"]) and s["output"][i] == g
                                                   for i, g in enumerate(gold)])) for s in snaps]
    events = [f"Epoch {b['epoch']}: decodes {b['text']!r}" + (" (right)" if b["correct"] else "")
              for a, b in zip(snaps, snaps[1:]) if a["output"] != b["output"]]
    right = [s["epoch"] for s in snaps if s["correct"]]
    if gold:
        events.append(f"First right at epoch {right[0]}." if right else "Not right at any epoch.")
    since = replay.first_stable([s["output"] for s in snaps])
    if since is not None:
        events.append(f"From epoch {snaps[since]['epoch']} on the decode stays {snaps[-1]['text']!r}.")
    return {"lines": lines, "events": events}


def diff(a, ra: dict, b, rb: dict) -> dict:
    """Two models on one input (seqviz.compare; the page compares the modes side by side itself): the same
    greedy/beam output or not, each one right or not, each best beam's log-probability."""
    return {"same_output": ra["output"] == rb["output"], "correct": [ra["correct"], rb["correct"]],
            "modes": [ra["mode"], rb["mode"]], "logprob": [ra["beams"][0]["logprob"], rb["beams"][0]["logprob"]]}


def serving(bundle):
    """The export's signature (seqviz.export): one source text -> the greedy decode (the same search graph as
    `predict` with beam 1) and, in attention mode, its alignment. The text is read as `parse_source` reads it
    (lower-cased; tokens split on spaces, or one per character; your pairs' as they were split, case kept), cut to
    max_len; an unknown token reads <unk>."""
    from seqviz import export
    p, sv, tv, task = bundle.params, bundle.vocabs["source"], bundle.vocabs["target"], task_of(bundle.params)
    inf = inference(bundle.model, p)
    ids_of = export.table(sv)
    start, end, t_len = tv.index[START], tv.index[END], task.max_target_len(p["max_len"]) + 1

    @tf.function(input_signature=[tf.TensorSpec([], tf.string, name="text")])
    def serve(text):
        tokens = task.read_graph(tf.strings.strip(text))[:p["max_len"]]
        state = inf.encoder(ids_of.lookup(tokens)[None], training=False)
        out = decoding.search_graph(inf.search_step, len(tv), state, start, end, 1, t_len,
                                    tf.zeros([0], tf.int32), 1)
        ids = out["token"][:, 0]                                   # width 1: slot 0 is the greedy decode
        written = export.words(tv, tf.boolean_mask(ids, tf.not_equal(ids, end)))
        result = {"source": tokens, "unknown": tf.equal(ids_of.lookup(tokens), sv.unk_id),
                  "tokens": written, "output": tf.strings.reduce_join(written, separator=task.joiner),
                  "finished": tf.reduce_any(tf.equal(ids, end))}
        if p["mode"] == "attention":
            result["alignment"] = out["extra"][:, 0]               # (steps, S): each written token's row
        return result

    outputs = {"source": "(S,) string: the source tokens it read",
               "unknown": "(S,) bool: source tokens not in the vocabulary (read as <unk>)",
               "tokens": "(T,) string: the greedy decode (beam 1), without </s>; the page and `predict` search a "
                         "beam of 3 by default, so their best decode can differ: `predict --set beam=1` gives this "
                         "one",
               "output": "string: the decode written out", "finished": "bool: the decode ended with </s>"}
    if p["mode"] == "attention":
        outputs["alignment"] = "(T+1, S) float: attention over the source at each step (the last row: </s>)"
    typed = task.example(bundle.metrics)
    return export.one_or_many(
        export.Serving(serve, {"text": f"a string: the source, as typed on the page (e.g. {typed!r}); "
                                       f"its first {p['max_len']} tokens are read"},
                       outputs, {"text": repr(typed)}, [ids_of]),
        {"text": [typed, typed.split()[0] if " " in typed else typed]})


# ---------------------------------------------------------------------------------------------
# The store's models grouped by task (the page's task picker, its models per mode, its accuracy table)
# ---------------------------------------------------------------------------------------------
TASK_TITLES = {"digits": "digits → words", "sort": "sort digits", "piglatin": "Pig Latin"}   # the generated tasks


@dataclass
class TaskGroups:
    """Every seq2seq store entry's config.json (shipped defaults first; damaged entries left out), grouped by
    task: each generated task is one group, and so is each file of pairs ("file:<sha1>": every model trained on
    one file, whatever its mode)."""
    configs: dict[str, dict]

    def group_of(self, name: str) -> str:
        """A model's picker entry: its generated task, or "file:<sha1>" of the file it was trained on."""
        config = self.configs[name]
        task = config["params"].get("task")
        return task if task != FILE else f"file:{(config.get('data') or {}).get('sha1', '')[:10]}"

    @property
    def tasks(self) -> list[str]:
        """The picker's entries: the generated tasks, then the files of pairs, in the store's order."""
        return list(TASK_TITLES) + list(dict.fromkeys(self.group_of(n) for n, c in self.configs.items()
                                                      if c["params"].get("task") == FILE))

    def label(self, task: str) -> str:
        if task in TASK_TITLES:
            return TASK_TITLES[task]
        return "your pairs: " + next(((c.get("data") or {}).get("filename", "?") for n, c in self.configs.items()
                                      if self.group_of(n) == task), "?")

    def models(self, task: str, mode: str | None = None) -> list[str]:
        """The task's models (of one `mode`), shipped defaults first, then the newest trained."""
        return [n for n, c in self.configs.items()
                if self.group_of(n) == task and mode in (None, c["params"].get("mode"))]

    def examples(self, task: str) -> list[list[str]]:
        """Held-out [source, target] pairs of a file task's first model (none for generated tasks)."""
        if task in TASK_TITLES:
            return []
        for name in self.models(task):
            try:
                return (store.read_json("seq2seq", name) or {}).get("examples") or []
            except SeqvizError:
                continue
        return []

    def accuracy(self, task: str) -> list[dict]:
        """A row per model of the task: its held-out exact match and token accuracy (a generated task's at a
        short and at the longest training length too), how many pairs were held out, its training seconds."""
        rows = []
        for name in self.models(task):
            try:
                m = store.read_json("seq2seq", name)
            except SeqvizError:
                continue
            if not m:
                continue
            p = self.configs[name]["params"]
            row = {"model": name, "mode": p["mode"], "depth": p.get("depth"), "exact (all)": m.get("val_exact"),
                   "token acc (all)": m.get("val_token_accuracy")}
            if task in TASK_TITLES:
                row.update({f"exact @ {m.get('len_short')}": m.get("exact_short"),
                            f"token acc @ {m.get('len_short')}": m.get("token_accuracy_short"),
                            f"exact @ {m.get('len_long')}": m.get("exact_long"),
                            f"token acc @ {m.get('len_long')}": m.get("token_accuracy_long")})
            rows.append({**row, "held out": m.get("n_val"), "train s": m.get("train_seconds")})
        return rows


def group_by_task() -> TaskGroups:
    """The store's seq2seq models, grouped by the task they were trained on (read from config.json alone)."""
    configs = {}
    for name in store.list_models("seq2seq"):
        try:
            config = store.read_json("seq2seq", name, "config") or {}
        except SeqvizError:
            continue
        if isinstance(config.get("params"), dict):
            configs[name] = config
    return TaskGroups(configs)
