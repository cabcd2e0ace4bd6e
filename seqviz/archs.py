"""The registry of architectures. Light on purpose (no TensorFlow): the home page, the store and
the CLI read it; `module()` imports the architecture's module only when a model is needed, and checks it
against the architecture contract (`seqviz.contract`: every hook the shared services call).

Each entry also names the models the project ships (`defaults`: store name -> knob overrides of the module's
PARAMS), regenerated with `python -m seqviz bench train-defaults`.
"""
from __future__ import annotations

import functools
import importlib
from dataclasses import dataclass, field

from seqviz.errors import SeqvizError


@dataclass(frozen=True)
class Arch:
    id: str
    title: str
    what: str
    source: str
    module_name: str
    page: str  # path of its Streamlit page, relative to the project root
    headline: dict  # metrics.json key -> label, shown on the home page's card
    default: str = "default"  # the store entry the home card describes (seq2seq ships one per mode)
    defaults: dict = field(default_factory=lambda: {"default": {}})   # the shipped models: name -> knob overrides
    score: tuple = ("val_accuracy", "held-out accuracy")   # the metrics.json figure a run is judged by, in words

    @property
    def shipped(self) -> tuple[str, ...]:
        """The names of the committed models, in the order pickers list them."""
        return tuple(self.defaults)

    def module(self):
        return _checked(self.module_name)


# seq2seq ships every task in every mode: digits -> words as default-<mode>, the other tasks' attention models as
# default-<task>, their other modes as default-<task>-<mode>
_MODES = ("basic", "feedback", "peek", "attention")
SEQ2SEQ_DEFAULTS = {**{f"default-{mode}": {"mode": mode} for mode in _MODES},
                    "default-sort": {"task": "sort"}, "default-piglatin": {"task": "piglatin"},
                    **{f"default-{task}-{mode}": {"task": task, "mode": mode}
                       for task in ("sort", "piglatin") for mode in _MODES if mode != "attention"}}

ARCHS: dict[str, Arch] = {a.id: a for a in [
    Arch("attention", "Attention classifier",
         "A BiLSTM text classifier whose attention layer returns its weights in the same forward "
         "pass, so one predict() gives the label and what the model looked at.",
         "A Keras user who first recomputed attention with an intermediate model (33 min for 10k "
         "examples) and then got it in one pass (20 min).",
         "seqviz.attention", "views/attention.py",
         {"val_accuracy": "held-out accuracy", "val_cue_attention": "attention mass on cue words",
          "train_seconds": "training time (s)"},
         defaults={"default": {}, "default-seed": {"score": "seed"}}),     # the same run, both attention scores
    Arch("dialogue-acts", "Dialogue acts (BiLSTM-CRF)",
         "A hierarchical BiLSTM-CRF tags every utterance of a dialogue; see the CRF's Viterbi path through "
         "the tag lattice, its transitions and marginals, and where it overrules a per-utterance guess.",
         "Kumar et al. 2017 (HBLSTM-CRF, arXiv 1709.04250); a Keras attempt that died with \"No gradients "
         "provided\" and ran out of memory padding to 3391 utterances x 431 words.",
         "seqviz.dialogue_acts", "views/dialogue_acts.py",
         {"val_accuracy": "held-out tag accuracy (CRF)", "val_greedy_accuracy": "per-utterance argmax",
          "train_seconds": "training time (s)"}, score=("val_accuracy", "held-out tag accuracy")),
    Arch("seq2seq", "Seq2seq: four decoders",
         "One encoder-decoder in four decoder modes (basic, feedback, peek, attention) side by side: decodes, "
         "beams with log-probabilities, per-step alternatives and attention alignments.",
         "The \"four ways to decode\" comparison of Keras seq2seq models (digits to words) and "
         "farizrahman4u/seq2seq (SimpleSeq2Seq, Seq2Seq(peek, depth, teacher_force), AttentionSeq2Seq).",
         "seqviz.seq2seq", "views/seq2seq.py",
         {"val_exact": "held-out exact match (attention)", "exact_long": "exact match, longest inputs",
          "train_seconds": "training time (s)"}, default="default-attention", defaults=SEQ2SEQ_DEFAULTS,
         score=("val_exact", "held-out exact match")),
    Arch("captioning", "Captioning: two heads",
         "A multi-task captioner: two encoder-decoder branches over 4096-d image features, their LSTM states "
         "concatenated into two softmax heads (an English sentence and a French label). Upload features or "
         "pick a scene: both captions, each head's per-step top words, and what zeroing one branch does.",
         "A Keras user whose two-branch captioner died with \"All dimensions except 1 must match ... [4 500] "
         "vs [47 500]\" because their generator yielded 47 samples for one branch and 4 for the other.",
         "seqviz.captioning", "views/captioning.py",
         {"val_exact_1": "exact match, caption 1", "val_exact_2": "exact match, caption 2",
          "val_bleu1_1": "BLEU-1, caption 1", "val_bleu1_2": "BLEU-1, caption 2",
          "train_seconds": "training time (s)"}, score=("val_exact_1", "held-out exact match of caption 1")),
    Arch("lm", "Language model: sampled vs full softmax",
         "An LSTM language model trained with tf.nn.sampled_softmax_loss and evaluated with the full softmax "
         "over the same output weights; race it live against the full softmax (loss against the clock, "
         "seconds per step, validation perplexity) and generate text with temperature and top-k.",
         "A Keras user who could not see how sampled_softmax_loss's weights and biases fit a Keras model; the "
         "accepted answer reached into _keras_history and needed a second model for inference.",
         "seqviz.lm", "views/lm.py",
         {"val_perplexity": "held-out perplexity (full softmax)", "unigram_perplexity": "unigram baseline",
          "train_seconds": "training time (s)"}, score=("val_perplexity", "held-out perplexity")),
]}


def get(arch_id: str) -> Arch:
    try:
        return ARCHS[arch_id]
    except KeyError:
        raise SeqvizError(f"Unknown architecture {arch_id!r}; choose one of: {', '.join(ARCHS)}.") from None


@functools.lru_cache(maxsize=None)
def _checked(module_name: str):
    from seqviz import contract
    return contract.check(importlib.import_module(module_name))
