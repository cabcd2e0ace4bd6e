"""seqviz.states: every LSTM layer's h, c and gates recomputed from the layer's own weights, equal to the Keras
layers' outputs (h at every step, the final c), for the attention classifier's BiLSTM (both shipped models)."""
import numpy as np
import pytest
import tensorflow as tf

from seqviz import attention, states, store
from seqviz.errors import SeqvizError


@pytest.mark.parametrize("name", ["default", "default-seed"])
def test_the_bilstms_states_equal_the_keras_layers(name):
    b = store.load("attention", name)
    for text in (attention.EXAMPLE, "no rain today but the team won the match"):
        (item,) = attention.lstm_inputs(b, text)
        got = states.layer_states(item)
        keras_h = item.layer(item.x[None].astype(np.float32)).numpy()[0]               # (T, 2H): forward | back
        units = keras_h.shape[1] // 2
        np.testing.assert_allclose(got["directions"]["forward"]["h"], keras_h[:, :units], atol=1e-5)
        np.testing.assert_allclose(got["directions"]["backward"]["h"], keras_h[:, units:], atol=1e-5)
        for direction, sub in (("forward", item.layer.forward_layer), ("backward", item.layer.backward_layer)):
            _, _, c = tf.keras.layers.RNN(sub.cell, return_sequences=True, return_state=True,
                                          go_backwards=sub.go_backwards)(item.x[None].astype(np.float32))
            end = -1 if direction == "forward" else 0                  # the backward direction ends at step 0
            np.testing.assert_allclose(got["directions"][direction]["c"][end], c.numpy()[0], atol=1e-5)
        for gate in states.GATES:
            g = got["directions"]["forward"][gate]
            assert g.shape == keras_h[:, :units].shape and np.isfinite(g).all()
        assert 0 <= got["directions"]["forward"]["forget"].min() and got["directions"]["forward"]["forget"].max() <= 1


def test_masked_steps_carry_the_state_and_have_no_gates():
    b = store.load("attention", "default")
    (item,) = attention.lstm_inputs(b, attention.EXAMPLE)
    mask = item.mask.copy()
    mask[2] = False
    got = states.run(item.layer.forward_layer.cell, item.x, mask)
    assert np.isnan(got["h"][2]).all() and np.isnan(got["input"][2]).all()
    skipped = states.run(item.layer.forward_layer.cell, np.delete(item.x, 2, axis=0), np.ones(len(mask) - 1, bool))
    np.testing.assert_allclose(got["h"][3:], skipped["h"][2:], atol=1e-9)       # as if step 2 were not there


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


def _equal_to_keras(item, atol=1e-5):
    """A unidirectional layer's recomputed h (every step) and final c against the Keras layer's own."""
    got = states.layer_states(item)["directions"]["forward"]
    init = None if item.initial is None else [tf.constant(v[None], tf.float32) for v in item.initial]
    out = tf.keras.layers.RNN(item.layer.cell, return_sequences=True, return_state=True)(
        item.x[None].astype(np.float32), initial_state=init)
    np.testing.assert_allclose(got["h"], out[0].numpy()[0], atol=atol)
    np.testing.assert_allclose(got["c"][-1], out[2].numpy()[0], atol=atol)


def test_the_language_models_lstm_equals_keras():
    from seqviz import lm
    b = store.load("lm", "default")
    (item,) = lm.lstm_inputs(b, lm.EXAMPLE)
    assert item.name == "lstm" and item.steps == lm.prompt_ids(b.vocabs["words"], lm.EXAMPLE)[0]
    _equal_to_keras(item)


@pytest.mark.parametrize("mode", ["basic", "peek", "attention"])
def test_seq2seq_encoder_and_decoder_layers_equal_keras(mode):
    from seqviz import seq2seq
    b = store.load("seq2seq", f"default-{mode}")
    items = seq2seq.lstm_inputs(b, "3 1 4 1 5")
    assert [i.name for i in items][:1] == ["encoder_lstm_0"] and items[-1].name.startswith("decoder_lstm_")
    assert items[0].steps == ["3", "1", "4", "1", "5"] and items[-1].steps[0] == "→ three"
    assert (items[-1].initial is None) == (mode == "basic")       # basic's decoder starts from zeros
    for item in items:
        _equal_to_keras(item)


def _bidirectional_equal_to_keras(item, atol=1e-5):
    got = states.layer_states(item)["directions"]
    keras_h = item.layer(item.x[None].astype(np.float32), mask=item.mask[None]).numpy()[0]
    units = keras_h.shape[1] // 2
    real = item.mask
    np.testing.assert_allclose(got["forward"]["h"][real], keras_h[real, :units], atol=atol)
    np.testing.assert_allclose(got["backward"]["h"][real], keras_h[real, units:], atol=atol)


def test_dialogue_acts_word_and_dialogue_bilstms_equal_keras():
    from seqviz import dialogue_acts
    b = store.load("dialogue-acts", "default")
    items = dialogue_acts.lstm_inputs(b, dialogue_acts.EXAMPLE)
    n = len(dialogue_acts.parse(dialogue_acts.EXAMPLE)[1])
    assert [i.name for i in items] == [f"word_bilstm (utterance {k + 1})" for k in range(n)] + ["context"]
    assert items[-1].x.shape[0] == n and len(items[0].steps) == len(items[0].x)
    for item in items[:3] + items[-1:]:
        _bidirectional_equal_to_keras(item)


def test_captioning_branch_lstms_equal_keras():
    from seqviz import captioning
    b = store.load("captioning", "default")
    items = captioning.lstm_inputs(b, "sample 1")
    assert [i.name for i in items] == ["lstm_1", "lstm_2"]
    assert items[0].steps[:3] == ["<s>", "there", "are"] and items[1].steps[:2] == ["<s>", "deux"]
    for item in items:
        got = states.layer_states(item)["directions"]["forward"]
        last = int(np.flatnonzero(item.mask)[-1])
        keras_h = item.layer(item.x[None].astype(np.float32), mask=item.mask[None]).numpy()[0]   # the last h
        np.testing.assert_allclose(got["h"][last], keras_h, atol=1e-5)
        assert np.isnan(got["h"][last + 1:]).all()                 # padding: no state of its own
