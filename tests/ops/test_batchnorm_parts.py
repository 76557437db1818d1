"""Batch normalization on a batch split into parts on threads (``cnnlab.part_sums``): each part
normalizes with the whole batch's statistics and back-propagates through them, so the parts'
outputs and input gradients are the whole batch's, and their weight gradients add up to the
whole batch's (float64 here, so the only difference is the order of the additions)."""

from __future__ import annotations

import threading

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from cnnlab import part_sums
from cnnlab.ops import batch_norm_backward, batch_norm_forward


def run_in_parts(fn, n_parts):
    """``[fn(part) for part in range(n_parts)]``, each part on its own thread in one group."""
    group = part_sums.PartGroup(n_parts)
    results, errors = [None] * n_parts, []

    def work(i):
        try:
            with part_sums.running_part(group, i):
                results[i] = fn(i)
        except Exception as e:  # (collected, re-raised below)
            errors.append(e)

    threads = [threading.Thread(target=work, args=(i,)) for i in range(n_parts)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=60)
    if errors:
        raise errors[0]
    return results


@settings(max_examples=40, deadline=None)
@given(
    rank=st.integers(2, 4),
    n=st.integers(2, 9),
    n_parts=st.integers(2, 3),
    spatial=st.integers(1, 4),
    c=st.integers(1, 4),
    scale=st.booleans(),
    center=st.booleans(),
    seed=st.integers(0, 2**32 - 1),
)
def test_parts_give_the_whole_batch_result(
    rank, n, n_parts, spatial, c, scale, center, seed
):
    n = max(n, n_parts)
    rng = np.random.default_rng(seed)
    x = rng.standard_normal((n, *[spatial] * (rank - 2), c)) * 3 + 1
    dy = rng.standard_normal(x.shape)
    gamma = rng.standard_normal(c) if scale else None
    beta = rng.standard_normal(c) if center else None
    mm, mv = rng.standard_normal(c), rng.random(c) + 0.5
    y, cache = batch_norm_forward(x, gamma, beta, mm, mv, -1, 1e-3, training=True)
    dx, dgamma, dbeta = batch_norm_backward(dy, cache)
    cuts = np.sort(rng.choice(np.arange(1, n), n_parts - 1, replace=False))
    parts = np.split(np.arange(n), cuts)

    def part(i):
        sl = parts[i]
        py, pc = batch_norm_forward(
            x[sl],
            gamma,
            beta,
            mm,
            mv,
            -1,
            1e-3,
            training=True,
            total=part_sums.current().total,
        )
        return py, pc, batch_norm_backward(dy[sl], pc)

    results = run_in_parts(part, n_parts)
    np.testing.assert_allclose(
        np.concatenate([r[0] for r in results]), y, rtol=1e-10, atol=1e-12
    )
    np.testing.assert_allclose(
        np.concatenate([r[2][0] for r in results]), dx, rtol=1e-9, atol=1e-11
    )
    np.testing.assert_allclose(
        sum(r[2][1] for r in results), dgamma, rtol=1e-10, atol=1e-12
    )
    np.testing.assert_allclose(
        sum(r[2][2] for r in results), dbeta, rtol=1e-10, atol=1e-12
    )
    for r in (
        results
    ):  # every part holds the whole batch's statistics (for the moving averages)
        np.testing.assert_allclose(
            r[1].batch_mean, cache.batch_mean, rtol=1e-12, atol=1e-13
        )
        np.testing.assert_allclose(
            r[1].batch_var, cache.batch_var, rtol=1e-10, atol=1e-13
        )


def test_a_failing_part_releases_the_others():
    def part(i):
        if i == 1:
            raise ArithmeticError("part 1 failed")
        part_sums.current().total([np.zeros(3)])  # would wait for part 1 forever

    with pytest.raises((ArithmeticError, threading.BrokenBarrierError)):
        run_in_parts(part, 2)
    assert part_sums.current() is None  # outside the parts: a whole batch
