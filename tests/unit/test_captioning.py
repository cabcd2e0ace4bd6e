"""Captioning: the scenes and their two captions, the aligned pipeline and its mismatch error, the user's
shapes, the default model's held-out exact match, decoding, .npy validation and the CLI.

The tests here need no model; those that train or load one are in tests/model/test_captioning.py."""
import io

import numpy as np
import pytest

from seqviz import captioning as cap
from seqviz import training
from seqviz.errors import SeqvizError
from seqviz.params import resolve


D = 4096  # the default model's feature_dim


def npy(array, **kw) -> bytes:
    buf = io.BytesIO()
    np.save(buf, array, **kw)
    return buf.getvalue()


# ---------------------------------------------------------------------------------------------
# Scenes, captions, features
# ---------------------------------------------------------------------------------------------
@pytest.mark.parametrize("scene, en, fr", [
    (((1, "green", "star", "top"),), "there is a green star at the top", "une étoile verte en haut"),
    (((3, "purple", "star", "centre"),), "there are three purple stars in the centre",
     "trois étoiles violettes au centre"),
    (((1, "purple", "square", "bottom"),), "there is a purple square at the bottom", "un carré violet en bas"),
    (((2, "blue", "square", "left"), (1, "yellow", "circle", "right")),
     "there are two blue squares on the left and a yellow circle on the right",
     "deux carrés bleus à gauche et un cercle jaune à droite"),
    (((1, "red", "triangle", "right"), (4, "red", "star", "bottom")),
     "there is a red triangle on the right and four red stars at the bottom",
     "un triangle rouge à droite et quatre étoiles rouges en bas"),
])
def test_two_captions_of_a_scene_differ_in_language_and_agree_in_number_and_gender(scene, en, fr):
    assert " ".join(cap.english(scene)) == en
    assert " ".join(cap.french(scene)) == fr


@pytest.mark.parametrize("max_objects", [1, 2])
def test_input_lengths_fit_exactly_the_longest_generated_captions(max_objects):
    scenes = cap.make_scenes(3000, max_objects, seed=1)
    assert {len(s) for s in scenes} == set(range(1, max_objects + 1))
    assert all([g[3] for g in s] == sorted({g[3] for g in s}, key=cap.POSITIONS.index) for s in scenes)
    longest = (max(len(cap.english(s)) for s in scenes), max(len(cap.french(s)) for s in scenes))
    params = resolve(cap.PARAMS, {"max_objects": max_objects})
    assert cap.input_lengths(params) == (longest[0] + 1, longest[1] + 1)   # + <s>
    assert cap.input_lengths({**params, "max_len1": 34, "max_len2": 21}) == (34, 21)


def test_features_are_a_fixed_function_of_the_scene_plus_seeded_noise():
    a, b = ((2, "red", "circle", "left"),), ((2, "red", "circle", "right"),)
    x = cap.scene_features([a, b, a], 256)
    assert x.shape == (3, 256) and x.dtype == np.float32 and (x >= 0).all()
    np.testing.assert_array_equal(x[0], x[2])                              # same scene, same vector
    np.testing.assert_array_equal(x[0], cap.scene_features([a], 256)[0])   # in any call
    assert np.abs(x[0] - x[1]).mean() > 0.2                                # the position changes it
    noisy = cap.scene_features([a, a], 256, noise=0.5, seed=3)
    np.testing.assert_array_equal(noisy, cap.scene_features([a, a], 256, noise=0.5, seed=3))
    assert not np.array_equal(noisy[0], noisy[1]) and not np.array_equal(noisy[0], x[0])
    # relu(sum of the group's three attribute projections at its position)
    proj = cap.projection(256)
    rows = [cap.COUNTS.index(2), 4 + cap.COLOURS.index("red"), 9 + cap.SHAPES.index("circle")]
    np.testing.assert_allclose(x[0], np.maximum(proj[0, rows].sum(0), 0), rtol=1e-6)


def test_held_out_scenes_are_object_combinations_never_trained_on():
    scenes = cap.make_scenes(1200, 1, seed=0)
    train, held = cap.split(scenes, seed=0)
    assert sorted(train + held) == list(range(1200)) and 100 < len(held) < 300
    assert not {scenes[i] for i in train} & {scenes[i] for i in held}
    params = resolve(cap.PARAMS, {})
    assert cap.seen_in_training(params, scenes[train[0]]) and not cap.seen_in_training(params, scenes[held[0]])


# ---------------------------------------------------------------------------------------------
# The pipeline: aligned branches, and the user's mistake refused with both sizes
# ---------------------------------------------------------------------------------------------
def test_step_rows_give_both_captions_one_row_per_step_padding_the_shorter_with_zero_weight():
    s, e = 2, 3                                           # <s>, </s>
    rows = cap.step_rows([[s, 10, 11, 12]], [[s, 20]], e, e, 5, 3)
    # max(3, 1) + 1 = 4 rows for the scene; caption 2 ends at step 1 and then stays fed in full, weight 0
    assert rows["scene"].tolist() == [0, 0, 0, 0]
    assert rows["partial_1"].tolist() == [[s, 0, 0, 0, 0], [s, 10, 0, 0, 0], [s, 10, 11, 0, 0], [s, 10, 11, 12, 0]]
    assert rows["next_1"].tolist() == [10, 11, 12, e] and rows["weight_1"].tolist() == [1, 1, 1, 1]
    assert rows["partial_2"].tolist() == [[s, 0, 0], [s, 20, 0], [s, 20, 0], [s, 20, 0]]
    assert rows["next_2"].tolist() == [20, e, 0, 0] and rows["weight_2"].tolist() == [1, 1, 0, 0]


def _pairs(n_scenes=50, batch_size=32, dim=16):
    data = cap.make_data(n_scenes, 2, dim, 0.1, seed=4)
    vocabs = cap.vocabularies(*data.captions)
    lengths = cap.input_lengths({"max_objects": 2, "max_len1": 0, "max_len2": 0})
    ids = [cap.caption_ids(vocabs[f"caption{k}"], data.captions[k - 1], lengths[k - 1], k) for k in (1, 2)]
    rows = cap.step_rows(*ids, vocabs["caption1"].index[cap.END], vocabs["caption2"].index[cap.END], *lengths)
    return data, vocabs, rows, cap.Pairs(data.features, rows, batch_size, shuffle_seed=0)


def test_pipeline_batches_are_aligned_across_branches_and_cover_every_pair_once():
    data, vocabs, rows, pairs = _pairs()
    n_rows = sum(max(len(a), len(b)) + 1 for a, b in zip(*data.captions))
    assert len(rows["scene"]) == n_rows and len(pairs) == -(-n_rows // 32)
    seen, targets = [], {1: 0, 2: 0}
    for i in range(len(pairs)):
        (f1, p1, f2, p2), (n1, n2), (w1, w2) = pairs[i]
        assert len({len(a) for a in (f1, p1, f2, p2, n1, n2, w1, w2)}) == 1     # one batch size for all
        assert f1.shape[1] == 16 and p1.shape[1] == 16 and p2.shape[1] == 12
        np.testing.assert_array_equal(f1, f2)                                    # same scene in both branches
        idx = pairs.order[i * 32:(i + 1) * 32]
        np.testing.assert_array_equal(f1, data.features[rows["scene"][idx]])
        seen += idx.tolist()
        targets[1] += int(w1.sum())
        targets[2] += int(w2.sum())
    assert sorted(seen) == list(range(n_rows))
    # every word of every caption and its </s> is a weighted target exactly once
    assert targets == {k: sum(len(c) + 1 for c in data.captions[k - 1]) for k in (1, 2)}


def test_unequal_branch_batches_are_refused_naming_both_sizes():
    rng = np.random.default_rng(0)
    f47, f4 = rng.random((47, 16)), rng.random((4, 16))
    inputs = [f47, np.ones((47, 16), int), f4, np.ones((4, 12), int)]
    with pytest.raises(SeqvizError) as e:
        cap.check_batch(inputs, [np.ones(47, int), np.ones(4, int)])
    msg = str(e.value)
    assert "branch 1 has 47 samples and branch 2 has 4" in msg
    assert "same number of rows for both" in msg and "(scene, step)" in msg         # what to change
    with pytest.raises(SeqvizError, match=r"Branch 2's arrays differ in batch size \(features_2 has 4, "
                                          r"partial_2 has 4, next_2 has 47\)"):
        cap.check_batch(inputs, [np.ones(47, int), np.ones(47, int)])
    cap.check_batch([f47, f47[:, :3], f47, f47[:, :2]], [f47[:, 0], f47[:, 0]])  # aligned: no error


def test_a_training_upload_without_its_features_is_refused_with_a_sentence(tmp_store):
    with pytest.raises(SeqvizError, match="needs two files"):
        training.plan("captioning", {}, b"anything", "mine.npy")


def test_bleu1_is_clipped_unigram_precision_times_brevity_penalty():
    ref = "there are two red circles on the left".split()
    assert cap.bleu1(ref, ref) == 1.0
    assert cap.bleu1(["the"] * 8, ref) == pytest.approx(1 / 8)             # "the" counted once
    assert cap.bleu1(ref[:4], ref) == pytest.approx(np.exp(1 - 8 / 4))      # all right, but too short
    assert cap.bleu1([], ref) == 0.0


# ---------------------------------------------------------------------------------------------
# Inputs: text (samples, descriptions) and .npy files
# ---------------------------------------------------------------------------------------------
@pytest.mark.parametrize("text, scene", [
    ("2 red circles left", ((2, "red", "circle", "left"),)),
    ("There is a blue star at the top", ((1, "blue", "star", "top"),)),
    ("purple square in the middle", ((1, "purple", "square", "centre"),)),
    ("a green star at the top and two red circles on the left",
     ((2, "red", "circle", "left"), (1, "green", "star", "top"))),
    ("sample 3", cap.SAMPLES[2]),
    ("6", cap.SAMPLES[5]),
])
def test_scene_text_is_a_sample_or_a_description(text, scene):
    assert cap.scene_from_text(text)[1] == scene


@pytest.mark.parametrize("text, words", [
    ("", "empty"),
    ("2 orange circles left", "Cannot read 'orange'"),
    ("2 red circles", "has no position"),
    ("red left", "has no shape"),
    ("a red star left and a blue star left", "share a position"),
    ("red star left, blue star right, green star top", "3 groups"),
    ("sample 9", "samples 1 to 6"),
    ("x" * 400, "at most 300"),
])
def test_bad_scene_text_is_refused_with_a_sentence(text, words):
    with pytest.raises(SeqvizError, match=words):
        cap.scene_from_text(text)


GOOD = cap.scene_features(cap.SAMPLES[:3], D)


BAD_FILES = {
    "wrong dimension": (npy(np.zeros(100, np.float32)), "its feature vectors have 100 values, but this model reads "
                                                        "4096-d features"),
    "wrong dimension 2-D": (npy(np.zeros((2, 512))), "shape (2, 512)"),
    "strings": (npy(np.array(["a", "b"])), "holds <U1 values (text)"),
    "NaN": (npy(np.where(np.arange(D) == 7, np.nan, GOOD[0])), "NaN or infinite value(s) (first at position 7)"),
    "inf": (npy(np.where(np.arange(D) == 9, np.inf, GOOD)), "3 NaN or infinite value(s) (first at row 0, column 9)"),
    "object array": (npy(np.array([1.0, None], dtype=object), allow_pickle=True), "holds Python objects"),
    "3-D": (npy(np.zeros((2, 3, D), np.float32)), "has shape (2, 3, 4096) (3 dimensions)"),
    "0-D": (npy(np.float32(1.0)), "has shape () (0 dimensions)"),
    "not .npy": (b"0.1,0.2,0.3\n" * 100, "is not a .npy file"),
    "a pickle": (__import__("pickle").dumps(GOOD), "is not a .npy file"),
    "truncated": (npy(GOOD)[:5000], "could not be read as .npy"),
    "empty": (b"", "is empty"),
    "over the cap": (b"\x93NUMPY" + b"\0" * 5 * 2**20, "the limit is 5 MB"),     # with SEQVIZ_MAX_FILE_MB=5
    "too many rows": (npy(np.zeros((65, D), np.float32)), "has 65 rows; upload 1 to 64"),
    "no rows": (npy(np.zeros((0, D), np.float32)), "has 0 rows"),
    "complex": (npy(np.zeros(D, np.complex64)), "complex numbers"),
}


@pytest.mark.parametrize("name", list(BAD_FILES))
def test_bad_npy_files_are_refused_with_a_sentence(name, monkeypatch):
    monkeypatch.setenv("SEQVIZ_MAX_FILE_MB", "5")
    raw, words = BAD_FILES[name]
    with pytest.raises(SeqvizError) as e:
        cap.read_features(raw, "f.npy", D)
    assert words in str(e.value) and str(e.value).startswith("f.npy ")


def test_good_npy_files_are_read_as_float32_in_their_shape():
    assert cap.read_features(npy(GOOD[0]), "f.npy", D).shape == (D,)
    x = cap.read_features(npy(GOOD.astype(np.float64)), "f.npy", D)
    assert x.shape == (3, D) and x.dtype == np.float32
    np.testing.assert_array_equal(x, GOOD)
    assert cap.read_features(npy(np.ones((1, D), np.int64)), "f.npy", D).dtype == np.float32


def test_heads_agree_when_both_captions_describe_one_scene():
    scene = ((2, "red", "circle", "left"), (1, "blue", "star", "top"))
    en, fr = " ".join(cap.english(scene)), " ".join(cap.french(scene))
    assert cap.heads_agree(en, fr)
    assert not cap.heads_agree(en, " ".join(cap.french(((2, "red", "circle", "left"),))))   # a group missing
    assert not cap.heads_agree("there is a <pad> circle", fr)                              # unreadable English


def test_the_heads_agreement_is_checked_only_for_models_of_the_generated_scenes():
    from seqviz import captioning, store
    generated = store.Bundle("captioning", "m", {}, None, {}, {}, {"source": "generated"})
    yours = store.Bundle("captioning", "m", {}, None, {}, {}, {"source": "upload", "filename": "c.csv"})
    english = " ".join(captioning.english(captioning.SAMPLES[0]))
    french = " ".join(captioning.french(captioning.SAMPLES[0]))
    other = " ".join(captioning.french(captioning.SAMPLES[1]))
    assert captioning.agreement(generated, [english, english], [french, other]) == [True, False]
    assert captioning.agreement(yours, ["a dog runs", "x"], ["un chien court", "y"]) is None   # nothing to read
