"""Every figure builder: its unvalidated figure is exactly what Plotly's validation would make of it (so
skipping validation on the pages loses nothing), and it shows what it is given."""
import json

import numpy as np
import plotly.graph_objects as go
import plotly.io as pio
import pytest

from seqviz import crf, figures

RNG = np.random.default_rng(0)
EM, TR = RNG.normal(size=(5, 3)), RNG.normal(size=(3, 3))
BEST = crf.viterbi(EM, TR)
MARG = RNG.dirichlet(np.ones(3), 5)

CASES = {
    "loss_curve": lambda: figures.loss_curve({"loss": [1.0, 0.5], "val_accuracy": [0.5, 0.9]}, [1.2, 1.0, 0.8, 0.5], 2),
    "heatmap": lambda: figures.heatmap(MARG, ["a", "b", "c"], list("vwxyz"), title="m", zmin=0, zmax=1,
                                       x_title="tag", y_title="step"),
    "heatmap_strip": lambda: figures.heatmap(np.array([[0.2, 0.8]]), ["x", "y"], ["attention"]),
    "bars": lambda: figures.bars(["a", "b", "c"], [0.2, 0.5, 0.3], title="b", highlight=1, muted=[0, 0, 1]),
    "bars_horizontal": lambda: figures.bars(["a", "b"], [0.4, 0.6], horizontal=True, value_range=None),
    "crf_lattice": lambda: figures.crf_lattice(EM, TR, MARG, BEST.cumulative, BEST.backpointers, ["p", "q", "r"],
                                               list("12345"), BEST.path, EM.argmax(1).tolist(), color="marginal"),
    "beam_tree": lambda: figures.beam_tree([(["a", "b", "</s>"], [-0.1, -0.2, -0.3]), (["a", "c"], [-0.1, -1.5])]),
    "signal": lambda: figures.signal(RNG.random(64), title="s"),
    "topk_steps": lambda: figures.topk_steps([["a", "b"], ["c", "d"]], [[0.7, 0.2], [0.9, 0.0001]], ["a", "c"]),
    "grouped_bars": lambda: figures.grouped_bars(["1. a", "2. b"], {"both": [0.9, 0.8], "cut": [0.5, 0.1]}),
    "scene": lambda: figures.scene([(2, "red", "circle", "left"), (1, "blue", "star", "top")]),
    "lines": lambda: figures.lines({"one": ([0, 1], [3.0, 2.0]), "empty": ([], [])}, "t", "x", "y", log_y=True),
    "word_rows": lambda: figures.word_rows({"head 1": (["a", "<b>"], [0.5, 0.9]), "head 2": (["c"], [0.2])}, "w"),
    "animated": lambda: figures.animated([figures.bars(["a", "b"], [0.1 * i, 0.5], title=f"t{i}") for i in range(3)],
                                         ["epoch 0", "epoch 1", "epoch 2"], ["untrained", "one <1>", "two"]),
    "step_lines": lambda: figures.step_lines(["a", "b", "a"], {"unit 1": [0.1, 0.5, -0.2]}, "t", "h", shade=(0, 1)),
    "confusion": lambda: figures.confusion(np.array([[5, 1, 0], [0, 3, 2], [0, 0, 0]]), ["a", "<b>", "c"]),
    "example_map": lambda: figures.example_map(RNG.normal(size=(6, 2)), ["a", "a", "b", "b", "b", "a"],
                                               [False, True, False, False, True, False], [f"s{i}" for i in range(6)],
                                               "m", index=[10, 11, 12, 13, 14, 15]),
}


@pytest.mark.parametrize("name", CASES)
def test_figure_json_is_what_validation_would_make_of_it(name):
    fig = CASES[name]()
    assert isinstance(fig, go.Figure)
    validated = go.Figure(fig.to_dict())          # raises on any unknown or ill-typed property
    assert json.loads(pio.to_json(fig)) == json.loads(pio.to_json(validated))


def test_figures_show_their_inputs():
    lat = CASES["crf_lattice"]()
    assert [t.name for t in lat.data] == ["Viterbi path", "per-utterance argmax", "marginal P"]
    assert list(lat.data[0].y) == list(BEST.path) and lat.layout.yaxis.autorange == "reversed"
    assert lat.data[-1].marker.cmin == 0 and lat.data[-1].marker.cmax == 1
    tree = CASES["beam_tree"]()
    assert tree.layout.title.text == "Beam search tree" and "a<br>-0.10" in list(tree.data[-1].text)
    lines = CASES["lines"]()
    assert [t.name for t in lines.data] == ["one"] and lines.layout.yaxis.type == "log"
    bars = CASES["bars_horizontal"]()
    assert bars.data[0].orientation == "h" and bars.layout.xaxis.range is None


def test_lattice_labels_are_escaped_once_not_twice():
    fig = figures.crf_lattice(EM, TR, MARG, BEST.cumulative, BEST.backpointers, ["<b>", "a&b", "r"],
                              ["x<y", "2", "3", "4", "5"], BEST.path).to_plotly_json()
    assert fig["layout"]["yaxis"]["ticktext"] == ["&lt;b&gt;", "a&amp;b", "r"]     # shown as "<b>", "a&b"
    assert fig["layout"]["xaxis"]["ticktext"][0] == "x&lt;y"
    assert "tag: &lt;b&gt;" in fig["data"][-1]["hovertext"][0]


def test_bars_over_max_bars_keep_the_largest_and_sum_the_rest():
    rng = np.random.default_rng(1)
    p = rng.dirichlet(np.ones(50_000))
    labels = [f"class{i}" for i in range(50_000)]
    fig = figures.bars(labels, p, horizontal=True, highlight=int(p.argmax()), max_bars=20).to_plotly_json()
    (trace,) = fig["data"]
    ticks = fig["layout"]["yaxis"]["ticktext"]
    assert len(trace["x"]) == len(ticks) == 20 and ticks[-1] == "others (49,981)"
    top = set(np.argsort(-p)[:19].tolist())
    assert {int(t[len("class"):]) for t in ticks[:-1]} == top
    assert sum(trace["x"]) == pytest.approx(1.0)
    assert trace["marker"]["color"].count("#d62728") == 1 and len(json.dumps(fig)) < 20_000


def test_the_scene_draws_each_object_in_its_colour_shape_and_place():
    fig = figures.scene([(3, "green", "star", "top"), (1, "red", "triangle", "left")]).to_plotly_json()
    stars, triangle = fig["data"]
    assert len(stars["x"]) == 3 and set(stars["y"]) == {0.84} and stars["marker"]["symbol"] == "star"
    assert stars["marker"]["color"] == "#2ca02c" and triangle["marker"]["symbol"] == "triangle-up"
    assert triangle["x"] == [0.22] and triangle["hovertext"] == ["1 red triangle, left"]


def test_animated_steps_through_each_figure_in_the_browser():
    figs = [figures.heatmap(np.full((1, n), 1 / n), [f"w{i}" for i in range(n)], ["attention"], title=f"t{n}")
            for n in (2, 3, 4)]
    fig = figures.animated(figs, ["epoch 0", "epoch 1", "epoch 2"], ["untrained", "after 1 <b>", "after 2"])
    assert [f.name for f in fig.frames] == ["epoch 0", "epoch 1", "epoch 2"]
    # each frame carries its own traces and tick labels; titles are escaped once
    assert [len(f.data[0].z[0]) for f in fig.frames] == [2, 3, 4]
    assert list(fig.frames[1].layout.xaxis.ticktext) == ["w0", "w1", "w2"]
    assert fig.frames[1].layout.title.text == "after 1 &lt;b&gt;"
    # shown first: the last moment, its slider step active; play starts from the first frame, one per 800 ms
    assert len(fig.data[0].z[0]) == 4 and fig.layout.title.text == "after 2"
    slider = fig.layout.sliders[0]
    assert slider.active == 2 and [list(s.args[0]) for s in slider.steps] == [["epoch 0"], ["epoch 1"], ["epoch 2"]]
    play = fig.layout.updatemenus[0].buttons[0]
    assert play.args[0] is None and play.args[1]["fromcurrent"] is False and play.args[1]["frame"]["duration"] == 800
    with pytest.raises(ValueError, match="one name per figure"):
        figures.animated(figs, ["epoch 0"])


def test_word_rows_show_each_decode_word_by_word():
    fig = figures.word_rows({"head 1": (["a", "b"], [0.5, 0.9]), "head 2": (["c"], [0.2])})
    z = fig.data[0].z
    assert list(z[0]) == [0.5, 0.9] and z[1][0] == 0.2 and np.isnan(z[1][1])
    assert fig.data[0].text[0][1] == "b<br>0.90" and list(fig.layout.yaxis.ticktext) == ["head 1", "head 2"]


def test_a_replays_controls_sit_below_long_rotated_tick_labels_and_units_get_their_own_axis():
    from seqviz import figures, replay
    long = [f"{i}. a long utterance label" for i in range(12)]
    short = ["1", "2", "3"]
    pad = {}
    for name, ticks in (("long", long), ("short", short)):
        frames = [figures.heatmap([[0.1] * len(ticks)] * 2, ticks, ["a", "b"], x_title="utterance") for _ in range(2)]
        fig = figures.animated(frames, ["epoch 0", "epoch 1"])
        pad[name] = fig.layout.sliders[0].pad.t
        assert fig.layout.updatemenus[0].pad.t > pad[name] - 20 and fig.layout.margin.b > pad[name]
    assert pad["long"] >= pad["short"] + 80               # ~4.5 px per character of a rotated label
    lines = {"tags equal to the final path": [0.5, 1.0], "utterances the CRF overrules": [0, 3]}
    assert replay.units(lines) == (["tags equal to the final path"], ["utterances the CRF overrules"])
    assert replay.units({"a": [0.1], "b": [0.9]}) == (["a", "b"], [])
    fig = figures.lines({k: ([0, 1], v) for k, v in lines.items()}, right=["utterances the CRF overrules"])
    assert [t.yaxis for t in fig.data] == [None, "y2"] and fig.layout.yaxis2.overlaying == "y"


def test_the_confusion_grid_and_the_map_carry_what_a_click_needs():
    fig = CASES["confusion"]()
    grid = fig.data[0]
    assert grid.marker.symbol == "square" and len(grid.x) == 9
    cells = {tuple(c): t for c, t in zip(grid.customdata, grid.text)}       # (gold, predicted) -> count printed
    assert cells[(0, 0)] == "5" and cells[(1, 2)] == "2" and cells[(2, 2)] == ""
    assert grid.marker.color[1] == pytest.approx(1 / 6)                     # a row's share: 1 of a's 6
    assert "&lt;b&gt;" in grid.hovertext[1] and list(fig.layout.yaxis.range) == [2.6, -0.6]   # gold top down
    m = CASES["example_map"]()
    assert [t.name for t in m.data] == ["a", "a (wrong)", "b", "b (wrong)"]
    assert list(m.data[1].customdata) == [11] and m.data[1].marker.symbol == "x"


def test_step_lines_keep_repeated_steps_apart_and_shade_the_span():
    fig = figures.step_lines(["the", "cat", "the"], {"unit 3": [0.1, float("nan"), 0.9]}, shade=(1, 2))
    assert list(fig.data[0].x) == [0, 1, 2] and list(fig.layout.xaxis.ticktext) == ["the", "cat", "the"]
    assert fig.data[0].y[1] is None and fig.layout.shapes[0].x0 == 0.5 and fig.layout.shapes[0].x1 == 2.5
