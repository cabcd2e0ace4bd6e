"""seqviz.states: every LSTM layer's h, c and gates recomputed from the layer's own weights, equal to the Keras
layers' outputs (h at every step, the final c), for the attention classifier's BiLSTM (both shipped models)."""
import numpy as np
import pytest
import tensorflow as tf

from seqviz import attention, states, store
from seqviz.errors import SeqvizError


def _equal_to_keras(item, atol=1e-5):
    """A layer's recomputed states over its whole batch (padded rows, masked steps) against the Keras layer's own:
    h at every real step of every row (a Bidirectional's output: forward | backward) and each direction's final c
    (the RNN of the layer's own cell, from the layer's initial state where it has one)."""
    got = states.layer_states(item)["directions"]
    x, mask = item.x.astype(np.float32), tf.constant(item.mask)
    init = None if item.initial is None else [tf.constant(v, tf.float32) for v in item.initial]
    out = item.layer(x, mask=mask, initial_state=init) if init is not None else item.layer(x, mask=mask)
    seq = (out[0] if isinstance(out, (list, tuple)) else out).numpy()
    if seq.ndim == 2:                                          # a layer that returns its last h only (captioning)
        last = item.mask.shape[1] - 1 - np.argmax(item.mask[:, ::-1], axis=1)
        np.testing.assert_allclose(got["forward"]["h"][np.arange(len(seq)), last], seq, atol=atol)
    else:
        units = got["forward"]["h"].shape[-1]
        for k, direction in enumerate(got):
            np.testing.assert_allclose(got[direction]["h"][item.mask], seq[..., k * units:(k + 1) * units][item.mask],
                                       atol=atol)
    for direction, cell, back in states._cells(item.layer):
        _, _, c = tf.keras.layers.RNN(cell, return_sequences=True, return_state=True, go_backwards=back)(
            x, mask=mask, initial_state=init)
        ends = np.argmax(item.mask, axis=1) if back else item.mask.shape[1] - 1 - np.argmax(item.mask[:, ::-1], axis=1)
        np.testing.assert_allclose(got[direction]["c"][np.arange(len(x)), ends], c.numpy(), atol=atol)
        assert np.isnan(got[direction]["h"][~item.mask]).all()              # padding: no state of its own
    return got


@pytest.mark.parametrize("name", ["default", "default-seed"])
def test_the_bilstms_states_equal_the_keras_layers(name):
    b = store.load("attention", name)
    (item,) = attention.lstm_inputs(b, [attention.EXAMPLE, "no rain today but the team won the match", "great"])
    assert item.x.shape[0] == 3 and item.mask.sum(axis=1).tolist() == [len(s) for s in item.steps]
    got = _equal_to_keras(item)
    for gate in states.GATES:
        g = got["forward"][gate][item.mask]
        assert g.shape == (item.mask.sum(), item.layer.forward_layer.cell.units) and np.isfinite(g).all()
    assert 0 <= np.nanmin(got["forward"]["forget"]) and np.nanmax(got["forward"]["forget"]) <= 1


def test_masked_steps_carry_the_state_and_have_no_gates():
    b = store.load("attention", "default")
    ((_, item),) = states.inputs(b, attention.EXAMPLE)
    x, mask = item.x[0], item.mask[0].copy()
    mask[2] = False
    got = states.run(item.layer.forward_layer.cell, x, mask)
    assert np.isnan(got["h"][2]).all() and np.isnan(got["input"][2]).all()
    skipped = states.run(item.layer.forward_layer.cell, np.delete(x, 2, axis=0), np.ones(len(mask) - 1, bool))
    np.testing.assert_allclose(got["h"][3:], skipped["h"][2:], atol=1e-9)       # as if step 2 were not there


def test_a_batch_is_each_input_alone():
    b = store.load("attention", "default")
    texts = ["the pizza was great", attention.EXAMPLE]
    (item,) = attention.lstm_inputs(b, texts)
    batch = states.layer_states(item)["directions"]["backward"]["h"]
    for i, text in enumerate(texts):
        alone = states.of(b, text)["layers"][0]["directions"]["backward"]["h"]
        np.testing.assert_allclose(batch[i, :len(alone)], np.array(alone, float), atol=1e-6)


def test_of_names_its_layers_and_refuses_an_unknown_one():
    b = store.load("attention", "default")
    r = states.of(b, "the pizza was great")
    (layer,) = r["layers"]
    assert layer["name"] == "bilstm" and layer["steps"] == ["the", "pizza", "was", "great"]
    assert set(layer["directions"]["backward"]) == {"h", "c", *states.GATES}
    assert len(layer["directions"]["forward"]["h"]) == 4
    with pytest.raises(SeqvizError, match="no LSTM layer 'lstm'; it has bilstm"):
        states.of(b, "the pizza", layer="lstm")


def test_the_cli_prints_a_layers_states_and_refuses_in_one_line(capsys):
    import json

    from seqviz import cli
    assert cli.main(["states", "attention", "--text", "the pizza was great", "--layer", "bilstm"]) == 0
    r = json.loads(capsys.readouterr().out)
    assert r["layers"][0]["steps"] == ["the", "pizza", "was", "great"]
    units = store.load("attention", "default").params["units"]
    assert len(r["layers"][0]["directions"]["forward"]["forget"][0]) == units
    assert cli.main(["states", "attention", "--text", "the pizza", "--layer", "nope"]) == 2
    assert "no LSTM layer 'nope'" in capsys.readouterr().err


def test_the_language_models_lstm_equals_keras():
    from seqviz import lm
    b = store.load("lm", "default")
    (item,) = lm.lstm_inputs(b, [lm.EXAMPLE, "the"])
    assert item.name == "lstm" and item.steps[0] == lm.prompt_ids(b.vocabs["words"], lm.EXAMPLE)[0]
    _equal_to_keras(item)


@pytest.mark.parametrize("mode", ["basic", "peek", "attention"])
def test_seq2seq_encoder_and_decoder_layers_equal_keras(mode):
    from seqviz import seq2seq
    b = store.load("seq2seq", f"default-{mode}")
    items = seq2seq.lstm_inputs(b, ["3 1 4 1 5", "2 7", "9 9 8 1 0 4 4"])
    assert [i.name for i in items][:1] == ["encoder_lstm_0"] and items[-1].name.startswith("decoder_lstm_")
    assert items[0].steps[0] == ["3", "1", "4", "1", "5"] and items[-1].steps[0][0] == "→ three"
    assert items[-1].steps[1][-1] == "→ </s>" and items[-1].mask.sum(axis=1)[1] == 3      # two, seven, </s>
    assert (items[-1].initial is None) == (mode == "basic")       # basic's decoder starts from zeros
    for item in items:
        _equal_to_keras(item)


def test_dialogue_acts_word_and_dialogue_bilstms_equal_keras():
    from seqviz import dialogue_acts
    b = store.load("dialogue-acts", "default")
    other = "A: hi\nB: is it cold today\nA: yes"
    words, context = dialogue_acts.lstm_inputs(b, [dialogue_acts.EXAMPLE, other])
    n = len(dialogue_acts.parse(dialogue_acts.EXAMPLE)[1])
    assert words.name == "word_bilstm" and len(words.steps) == n + 3 and words.of == [0] * n + [1] * 3
    assert words.parts[n:] == ["utterance 1", "utterance 2", "utterance 3"] and words.steps[n + 1][:2] == ["is", "it"]
    assert context.x.shape[:2] == (2, n) and context.mask[1].sum() == 3
    names = [name for name, _ in states.inputs(b, dialogue_acts.EXAMPLE)]
    assert names == [f"word_bilstm (utterance {k + 1})" for k in range(n)] + ["context"]
    for item in (words, context):
        _equal_to_keras(item)
    # what the dialogue BiLSTM reads (seqviz pools the word BiLSTM's states itself) is what the model feeds it
    upto = tf.keras.Model(b.model.input, b.model.get_layer("context").input)
    ids = [dialogue_acts.encode(b.vocabs["words"], dialogue_acts.parse(t)[1], b.params["max_words"])
           for t in (dialogue_acts.EXAMPLE, other)]
    np.testing.assert_allclose(context.x[1, :3], upto(dialogue_acts.pad([ids[1]])).numpy()[0], atol=1e-5)
    np.testing.assert_allclose(context.x[0], upto(dialogue_acts.pad([ids[0]])).numpy()[0], atol=1e-5)


def test_captioning_branch_lstms_equal_keras():
    from seqviz import captioning
    b = store.load("captioning", "default")
    items = captioning.lstm_inputs(b, ["sample 1", "sample 2"])
    assert [i.name for i in items] == ["lstm_1", "lstm_2"]
    assert items[0].steps[0][:3] == ["<s>", "there", "are"] and items[1].steps[0][:2] == ["<s>", "deux"]
    for item in items:
        _equal_to_keras(item)


def test_units_on_at_a_food_word_find_the_held_out_food_words():
    """LSTMVis' search on the shipped attention model: the backward units on at "pizza" in the example (and off
    elsewhere in it) turn on together in held-out sentences at the food topic's cue words, the words the
    generator planted for the label."""
    b = store.load("attention", "default")
    (layer,) = states.of(b, attention.EXAMPLE)["layers"]
    at = layer["steps"].index("pizza")
    a = np.array(layer["directions"]["backward"]["h"], float)
    on = states.span_units(a, at, at, 0.5)["on"]
    assert on
    m = states.heldout_matches(b, "bilstm", "backward", "h", on, 0.5, 1)
    words = [f["steps"][t] for f in m["found"] for t in range(f["lo"], f["hi"] + 1)]
    assert m["inputs"] > 300 and len(m["found"]) == states.MAX_MATCHES
    food = sum(w in attention.CUES["food"] for w in words) / len(words)
    base = np.mean([w in attention.CUES["food"] for s in states.heldout(b, "bilstm")["steps"] for w in s])
    assert food >= 0.8 > 10 * base, (food, base, words)
    first = m["found"][0]
    assert first["input"] in states.heldout(b, "bilstm")["inputs"] and first["hi"] - first["lo"] + 1 == 1


def test_the_cli_searches_a_span_and_refuses_a_bad_one(capsys):
    import json

    from seqviz import cli
    text = "yesterday my sister said no pizza but the concert was great"
    assert cli.main(["states", "attention", "--text", text, "--layer", "bilstm", "--span", "6",
                     "--direction", "backward"]) == 0
    r = json.loads(capsys.readouterr().out)
    assert r["span"] == [5, 5] and r["steps"][5] == "pizza" and r["on"]
    assert sum(f["steps"][f["lo"]] in attention.CUES["food"] for f in r["matches"]["found"]) >= 16
    for bad, says in ((["--span", "6:9"], "not within the input's 2 steps"), (["--span", "x"], "is not a step"),
                      (["--span", "1", "--direction", "up"], "no up direction")):
        assert cli.main(["states", "attention", "--text", "no pizza", "--layer", "bilstm", *bad]) == 2
        assert says in capsys.readouterr().err
    assert cli.main(["states", "attention", "--text", "no pizza", "--span", "1"]) == 2
    assert "--span needs --layer" in capsys.readouterr().err


def test_attention_unit_effects_match_the_keras_model_with_the_unit_silenced():
    b = store.load("attention", "default-seed")                       # the seed score: inputs padded to max_len
    text = "no rain today but the team won the match"
    e = states.effects(b, text, "bilstm")
    r = attention.predict(b, text)
    assert e["target"] == f"P({r['label']})" and e["base"] == pytest.approx(r["probs"][r["label"]], abs=1e-5)
    drops = np.array(e["ablation"]["forward"] + e["ablation"]["backward"])
    k = int(np.abs(drops).argmax())
    ids = attention.encode(b.vocabs["words"], [text], b.params["max_len"], pad_to=b.params["max_len"])
    m = b.model
    h = m.get_layer("bilstm")(m.get_layer("embedding")(ids)).numpy()           # Keras' own BiLSTM, not seqviz's
    h[:, :, k] = 0.0
    context, _ = m.get_layer("attention")(h, mask=tf.constant(ids != 0))
    silenced = m.get_layer("probs")(context).numpy()[0, b.vocabs["labels"].index[r["label"]]]
    assert drops[k] == pytest.approx(r["probs"][r["label"]] - silenced, abs=1e-5)
    assert len(e["weights"]["backward"]) == b.params["units"]
    dialogue = store.load("dialogue-acts", "default")
    assert states.effects(dialogue, "A: hi\nB: hello", "word_bilstm (utterance 1)") is None


def test_language_model_unit_effects_match_the_keras_model():
    from seqviz import lm
    b = store.load("lm", "default")
    e = states.effects(b, lm.EXAMPLE, "lstm")
    top_word, top_p = next(iter(lm.predict(b, lm.EXAMPLE)["next_word"].items()))
    assert e["target"] == f"P(next word {top_word!r})" and e["base"] == pytest.approx(top_p, abs=1e-5)
    drops = np.array(e["ablation"]["forward"])
    k = int(np.abs(drops).argmax())
    ids = np.array([lm.prompt_ids(b.vocabs["words"], lm.EXAMPLE)[1]], np.int32)
    out, _, _ = b.model.lstm(b.model.embedding(ids))
    last = out.numpy()[:, -1]
    last[:, k] = 0.0
    silenced = tf.nn.softmax(b.model.projection(last)).numpy()[0, b.vocabs["words"].index[top_word]]
    assert drops[k] == pytest.approx(top_p - silenced, abs=1e-5)


def test_dialogue_unit_effects_read_the_crf_emissions():
    from seqviz import crf, dialogue_acts
    b = store.load("dialogue-acts", "default")
    r = dialogue_acts.predict(b, dialogue_acts.EXAMPLE)
    e = states.effects(b, dialogue_acts.EXAMPLE, "context")
    em, tr = np.array(r["emissions"]), np.array(r["transitions"])
    assert e["base"] == pytest.approx(crf.log_likelihood(em, tr, r["path"]))
    h = states.outputs(b, dialogue_acts.EXAMPLE, "context")
    dense = b.model.get_layer("emissions")
    np.testing.assert_allclose(np.concatenate([h["forward"], h["backward"]], 1) @ dense.kernel.numpy()
                               + dense.bias.numpy(), em, atol=1e-4)         # the emissions are read off these h
    assert {len(v) for v in e["ablation"].values()} == {b.params["context_units"]}


@pytest.mark.parametrize("mode", ["basic", "attention"])
def test_seq2seq_unit_effects_score_the_greedy_decode(mode):
    from seqviz import seq2seq
    b = store.load("seq2seq", f"default-{mode}")
    p, tv = b.params, b.vocabs["target"]
    src = np.array([b.vocabs["source"].encode(["3", "1", "4", "1", "5"])], np.int32)
    logs = []
    ids = seq2seq.greedy_batch(seq2seq.inference(b.model, p), src, 11, tv.index["</s>"], tv.index["<s>"],
                               log_probs_out=logs)[0]
    n = list(ids).index(tv.index["</s>"]) + 1
    e = states.effects(b, "3 1 4 1 5", "encoder_lstm_0")
    assert e["base"] == pytest.approx(float(np.sum(np.concatenate(logs)[:n])), abs=1e-4)
    assert len(e["ablation"]["forward"]) == p["units"] and states.effects(b, "3 1", "decoder_lstm_0") is None
    if mode == "basic":          # the one vector the decoder reads: some unit of it matters (a nat or more)
        assert max(e["ablation"]["forward"]) > 1.0


def test_captioning_unit_effects_score_both_captions():
    from seqviz import captioning
    b = store.load("captioning", "default")
    x = captioning.text_features(b, "sample 1")[0]
    caps = captioning.greedy_captions(b.model, b.params, b.vocabs, x[None])
    probs = captioning.score_pairs(b, x[None], [(" ".join(caps[0][0]), " ".join(caps[1][0]))])[0]
    for layer in ("lstm_1", "lstm_2"):
        e = states.effects(b, "sample 1", layer)
        assert e["base"] == pytest.approx(float(np.log(probs[0]).sum() + np.log(probs[1]).sum()), abs=1e-4)
        assert len(e["weights"]["forward"]) == b.params["units"]


@pytest.mark.parametrize("pooling", ["max", "last"])
def test_dialogue_context_input_with_speakers_and_other_poolings_is_what_keras_feeds(pooling):
    """An untrained model with the speaker-change vector and `max` / `last` pooling: what seqviz builds for the
    dialogue BiLSTM (pooled word states beside the speaker vector) equals the Keras model's own input to it."""
    from seqviz import dialogue_acts
    from seqviz.params import resolve
    b = store.load("dialogue-acts", "default")
    params = resolve(dialogue_acts.PARAMS, {**b.params, "use_speaker": True, "pooling": pooling})
    tf.keras.utils.set_random_seed(3)
    model = dialogue_acts.build(params, b.vocabs)
    bundle = store.Bundle("dialogue-acts", "untrained", params, model, b.vocabs)
    text = "A: hi how are you\nB: fine thanks\nB: and you\nA: good"
    _, context = dialogue_acts.lstm_inputs(bundle, [text, "A: hello\nB: bye"])
    speakers, utterances = dialogue_acts.parse(text)
    ids = dialogue_acts.encode(b.vocabs["words"], utterances, params["max_words"], speakers)
    upto = tf.keras.Model(model.input, model.get_layer("context").input)
    np.testing.assert_allclose(context.x[0], upto(dialogue_acts.pad([ids])).numpy()[0], atol=1e-5)
    _equal_to_keras(context)
