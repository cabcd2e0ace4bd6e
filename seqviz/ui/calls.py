"""Each page's model calls, declared once. The page makes them through these functions, and the page's
`warm_<arch>()` makes them with the values of the page's first view (declared here too: the page's widgets
start from them), so the warm-up fills the very cache entries (`session.call`: model, function, arguments in
the same form) that a page opened later reads; tests/app/test_warmup.py checks it page by page.

Nothing here draws; the architecture modules stay free of Streamlit."""
from __future__ import annotations

from concurrent.futures import Future

from seqviz import store
from seqviz.ui.session import background, call, load_model, predict, predict_async


# ---------------------------------------------------------------------------------------------
# attention, dialogue-acts: one prediction of the text in the box (its first view: the module's EXAMPLE)
# ---------------------------------------------------------------------------------------------
def warm_attention() -> None:
    from seqviz import attention
    predict(load_model("attention", store.DEFAULT), attention.EXAMPLE)


def warm_dialogue_acts() -> None:
    from seqviz import dialogue_acts
    predict(load_model("dialogue-acts", store.DEFAULT), dialogue_acts.EXAMPLE)


# ---------------------------------------------------------------------------------------------
# seq2seq: every mode's decode side by side, and the open tab's pinned re-decode
# ---------------------------------------------------------------------------------------------
SEQ2SEQ_TASK = "digits"    # the first view: the digits task, every mode, beam 3, the tab's pin at step 1
SEQ2SEQ_BEAM = 3
SEQ2SEQ_PIN_AT = 1


def seq2seq_decode(bundle: store.Bundle, text: str, beam: int, expected: str | None = None) -> Future:
    """One decoder's beams in a worker thread (the page runs its modes side by side); `expected` (the output
    the user expects) only for a model of your pairs: a generated task knows its own."""
    return predict_async(bundle, text, beam=beam, **({} if expected is None else {"expected": expected}))


def seq2seq_pin_tokens(bundle: store.Bundle) -> list[str]:
    """The target tokens a pin can force (every token the decoder writes, and its end token)."""
    from seqviz import seq2seq
    return [t for t in bundle.vocabs["target"].tokens if t not in (seq2seq.PAD, seq2seq.UNK, seq2seq.START)]


def seq2seq_pin_default(r: dict, at: int, tokens: list[str]) -> str:
    """The pin pre-set at step `at` (1-based): the decoder's second choice there (the first pinnable token
    where that is not one)."""
    runner_up = list(r["steps"][min(at, len(r["steps"])) - 1])[1]
    return runner_up if runner_up in tokens else tokens[0]


def seq2seq_pinned(bundle: store.Bundle, text: str, beam: int, r: dict, at: int, token: str,
                   expected: str | None = None) -> Future:
    """The decode `r` re-run with `token` forced at step `at` (after r's own first at-1 tokens), in a worker
    thread; without the exposure-bias view (it depends on neither the beam nor the pin)."""
    return predict_async(bundle, text, beam=beam, prefix=r["output"][:at - 1] + [token], exposure=False,
                         **({} if expected is None else {"expected": expected}))


def warm_seq2seq() -> None:
    from seqviz import seq2seq
    groups, text = seq2seq.group_by_task(), seq2seq.EXAMPLES[SEQ2SEQ_TASK]
    decodes = []
    for mode in seq2seq.MODES:      # each mode's first model of the task (the picker's default), all four at once
        names = groups.models(SEQ2SEQ_TASK, mode)
        if names:
            bundle = load_model("seq2seq", names[0])
            decodes.append((bundle, seq2seq_decode(bundle, text, SEQ2SEQ_BEAM)))
    for bundle, decode in decodes:     # and each tab's pre-set pin (the page builds the open one)
        r = decode.result()
        token = seq2seq_pin_default(r, SEQ2SEQ_PIN_AT, seq2seq_pin_tokens(bundle))
        seq2seq_pinned(bundle, text, SEQ2SEQ_BEAM, r, SEQ2SEQ_PIN_AT, token).result()


# ---------------------------------------------------------------------------------------------
# captioning: one feature vector's decode, the ablated decode, and both models' scores of the captions
# ---------------------------------------------------------------------------------------------
CAPTIONING_SCENE = 1       # the first view: sample scene 1, beam 3, branch 1 zeroed
CAPTIONING_BEAM = 3
CAPTIONING_ABLATE = "1"
CAPTIONING_TOP_K = 5


def captioning_decode(bundle: store.Bundle, x, beam: int, ablate: str = "none") -> dict:
    """Both heads' captions of one scene's features x (D,), with each head's per-step top words."""
    return call(bundle, "decode", x, beam=beam, top_k=CAPTIONING_TOP_K, ablate=ablate)


def captioning_views(bundle: store.Bundle, x, beam: int, ablate: str) -> tuple[dict, Future, list[Future]]:
    """The page's views of one scene x (D,): the decode, and in worker threads (while the page draws the
    decode) the decode with branch `ablate` zeroed and the probability of each word of the decode's captions
    under that ablated model and under the full one: (decode, ablated decode, [ablated, full] scores)."""
    ablated = background(captioning_decode, bundle, x, beam, ablate)
    r = captioning_decode(bundle, x, beam)
    scores = [background(call, bundle, "score", x, r["captions"], ablate=a) for a in (ablate, "none")]
    return r, ablated, scores


def warm_captioning() -> None:
    from seqviz import captioning
    bundle = load_model("captioning", store.DEFAULT)
    x, _ = captioning.text_features(bundle, f"sample {CAPTIONING_SCENE}")
    _, ablated, scores = captioning_views(bundle, x, CAPTIONING_BEAM, CAPTIONING_ABLATE)
    for f in [ablated, *scores]:
        f.result()


# ---------------------------------------------------------------------------------------------
# lm: generation from the prompt (its first view: the module's EXAMPLE and PREDICT_PARAMS' defaults)
# ---------------------------------------------------------------------------------------------
def lm_first_options() -> dict:
    from seqviz import lm
    return {p.name: p.default for p in lm.PREDICT_PARAMS}


def warm_lm() -> None:
    from seqviz import lm
    predict(load_model("lm", store.DEFAULT), lm.EXAMPLE, **lm_first_options())


WARM = {"attention": warm_attention, "dialogue-acts": warm_dialogue_acts, "seq2seq": warm_seq2seq,
        "captioning": warm_captioning, "lm": warm_lm}     # per page: its first view's calls (seqviz.ui.warmup)
