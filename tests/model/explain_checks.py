"""The sanity checks every architecture's explanations pass (seqviz.explain), shared by their tests."""
import numpy as np
import pytest

from seqviz import explain


def completeness(subject, rel: float = 0.02) -> None:
    """Integrated gradients at the default steps add up to s(x) − s(zero embeddings), within `rel`."""
    c = explain.explain(subject, methods=("ig",))["ig_completeness"]
    assert abs(c["sum"] - c["expected"]) <= rel * abs(c["expected"]) + 1e-4, c


def finite_differences(subject, h: float = 1e-2, seed: int = 0) -> None:
    """The gradient along a random direction (over the units only) equals central differences of the score."""
    d = np.random.default_rng(seed).normal(size=subject.embedded.shape).astype(np.float32)
    d[:, len(subject.units[0]):] = 0
    up, down = explain.value(subject, subject.embedded + h * d), explain.value(subject, subject.embedded - h * d)
    fd = (up[0] - down[0]) / (2 * h)
    assert float((explain.gradients(subject)[:1] * d[:1]).sum()) == pytest.approx(float(fd), rel=0.05, abs=2e-4)


def randomised(trained, random, methods=("grad", "ig", "occlusion"), below: float = 0.5) -> None:
    """Adebayo et al.'s model-randomisation check: the same architecture with fresh random weights, explaining
    the same inputs for the same targets (`trained`, `random`: Subjects, pairwise alike), ranks the units
    differently: per method, the median Kendall τ between the two is below `below` (a method that only
    reflected the input would give the same ranking, τ near 1)."""
    for k in methods:
        taus = []
        for a, b in zip(trained, random):
            ia, ib = explain.importances(a, (k,))[k], explain.importances(b, (k,))[k]
            taus += [explain.kendall_tau(ia[i, :len(u)], ib[i, :len(u)]) for i, u in enumerate(a.units)]
        assert np.median(taus) < below, (k, taus)


def random_twin(bundle, module, seed: int = 1):
    """The bundle's architecture with fresh random weights (its `build`, seeded), as a bundle."""
    import tensorflow as tf

    from seqviz import store
    tf.keras.utils.set_random_seed(seed)
    return store.Bundle(bundle.arch, "random", bundle.params, module.build(bundle.params, bundle.vocabs),
                        bundle.vocabs, {}, bundle.data)
