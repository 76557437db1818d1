"""Merging several tensors into one: what a graph needs where branches meet.

Each forward takes a list of arrays ``xs`` (same shape, or shapes that
broadcast as Keras's merge layers allow: an axis of 1 against any size) and
returns ``(y, cache)``; each backward takes ``dy`` and the cache and returns
one gradient per input, each summed back to its input's shape.

* ``add``: ``y = x0 + x1 + ...``; every input gets ``dy``.
* ``subtract``: ``y = x0 - x1`` (exactly two inputs).
* ``multiply``: ``y = x0 * x1 * ...``; input i gets ``dy`` times the product of the others.
* ``average``: ``y = (x0 + ... ) / n``.
* ``maximum`` / ``minimum``: elementwise; at a tie the gradient goes to the
  first input that holds the extreme value (TensorFlow's rule for
  ``tf.maximum``, and the rule cnnlab's max pooling follows).
* ``concatenate``: along ``axis``; the gradient is cut back into the pieces.
* ``dot``: per sample, the inner product over one axis of each input
  (Keras's ``batch_dot``), optionally of l2-normalised inputs (cosine).
"""

from __future__ import annotations

from typing import Any, Callable, Sequence

from ..backend import Array, xp

#: Keras's l2-normalisation floor on the sum of squares.
L2_EPSILON = 1e-12

#: What maximum/minimum's backward needs: the inputs and the result.
ExtremeCache = tuple[list[Array], Array]


def unbroadcast(g: Array, shape: Sequence[int]) -> Array:
    """Sum ``g`` over the axes that broadcasting stretched, back to ``shape``."""
    if g.shape == tuple(shape):
        return g
    extra = g.ndim - len(shape)
    if extra:
        g = g.sum(axis=tuple(range(extra)))
    axes = tuple(i for i, (a, b) in enumerate(zip(g.shape, shape)) if b == 1 and a != 1)
    return g.sum(axis=axes, keepdims=True) if axes else g


def add_forward(xs: Sequence[Array]) -> tuple[Array, list[tuple[int, ...]]]:
    """``xs`` list of ``(N, ...)`` -> ``(sum, shapes)``."""
    y = xs[0] + xs[1] if len(xs) > 1 else xs[0].copy()
    for x in xs[2:]:
        y += x
    return y, [x.shape for x in xs]


def add_backward(dy: Array, shapes: list[tuple[int, ...]]) -> list[Array]:
    return [unbroadcast(dy, s) for s in shapes]


def subtract_forward(xs: Sequence[Array]) -> tuple[Array, list[tuple[int, ...]]]:
    """``[x0, x1]`` -> ``(x0 - x1, shapes)``."""
    return xs[0] - xs[1], [x.shape for x in xs]


def subtract_backward(dy: Array, shapes: list[tuple[int, ...]]) -> list[Array]:
    return [unbroadcast(dy, shapes[0]), unbroadcast(-dy, shapes[1])]


def average_forward(xs: Sequence[Array]) -> tuple[Array, list[tuple[int, ...]]]:
    y, shapes = add_forward(xs)
    y *= y.dtype.type(1.0 / len(xs))
    return y, shapes


def average_backward(dy: Array, shapes: list[tuple[int, ...]]) -> list[Array]:
    scaled = dy * dy.dtype.type(1.0 / len(shapes))
    return [unbroadcast(scaled, s) for s in shapes]


def multiply_forward(xs: Sequence[Array]) -> tuple[Array, list[Array]]:
    """``xs`` -> ``(product, xs)``."""
    y = xs[0] * xs[1] if len(xs) > 1 else xs[0].copy()
    for x in xs[2:]:
        y = y * x
    return y, list(xs)


def multiply_backward(dy: Array, xs: Sequence[Array]) -> list[Array]:
    """Input i gets ``dy * prod(x_j, j != i)`` (a product, not ``y / x_i``: zeros are allowed)."""
    grads = []
    for i, x in enumerate(xs):
        g = dy
        for j, other in enumerate(xs):
            if j != i:
                g = g * other
        grads.append(unbroadcast(g, x.shape))
    return grads


def _extreme_forward(
    xs: Sequence[Array], pick: Callable[[Array, Array], Array]
) -> tuple[Array, ExtremeCache]:
    y = xs[0]
    for x in xs[1:]:
        y = pick(y, x)
    return y, (list(xs), y)


def _extreme_backward(dy: Array, cache: ExtremeCache) -> list[Array]:
    xs, y = cache
    taken = xp.zeros(y.shape, dtype=bool)
    grads = []
    for x in xs:
        first = (
            xp.broadcast_to(x, y.shape) == y
        ) & ~taken  # the first input holding the extreme
        taken |= first
        grads.append(unbroadcast(xp.where(first, dy, dy.dtype.type(0)), x.shape))
    return grads


def maximum_forward(xs: Sequence[Array]) -> tuple[Array, ExtremeCache]:
    """Elementwise maximum -> ``(y, cache)``; ties: the first input wins."""
    return _extreme_forward(xs, xp.maximum)


def minimum_forward(xs: Sequence[Array]) -> tuple[Array, ExtremeCache]:
    """Elementwise minimum -> ``(y, cache)``; ties: the first input wins."""
    return _extreme_forward(xs, xp.minimum)


maximum_backward = minimum_backward = _extreme_backward


def concatenate_forward(
    xs: Sequence[Array], axis: int = -1
) -> tuple[Array, tuple[int, list[int]]]:
    """``xs`` (equal except along ``axis``) -> ``(y, (axis, sizes))``."""
    axis = axis % xs[0].ndim
    return xp.concatenate(xs, axis=axis), (axis, [x.shape[axis] for x in xs])


def concatenate_backward(dy: Array, cache: tuple[int, list[int]]) -> list[Array]:
    axis, sizes = cache
    bounds = xp.cumsum(sizes)[:-1]
    return [xp.ascontiguousarray(g) for g in xp.split(dy, bounds, axis=axis)]


def _l2_normalize(x: Array, axis: int) -> tuple[Array, Array]:
    norm = xp.sqrt(
        xp.maximum((x * x).sum(axis=axis, keepdims=True), x.dtype.type(L2_EPSILON))
    )
    return x / norm, norm


def _l2_normalize_backward(
    dn: Array, n: Array, norm: Array, axis: int, x: Array
) -> Array:
    ss = (x * x).sum(axis=axis, keepdims=True)
    inside = ss > L2_EPSILON  # below the floor the norm is a constant
    along = (dn * n).sum(axis=axis, keepdims=True)
    return xp.where(inside, (dn - n * along) / norm, dn / norm)


def dot_forward(
    xs: Sequence[Array], axes: Sequence[int], normalize: bool = False
) -> tuple[Array, tuple[Any, ...]]:
    """``[x (N, ...), y (N, ...)]``, ``axes = (ax, ay)`` (not the batch axis) -> ``(z, cache)``.

    ``z[n] = sum_k x[n, ..k..] * y[n, ..k..]`` over ``x``'s axis ``ax`` and ``y``'s
    axis ``ay``; the remaining axes of ``x`` then of ``y`` follow the batch axis.
    Two vectors per sample give ``(N, 1)``, as Keras's ``Dot`` does.
    """
    x, y = xs
    ax, ay = axes[0] % x.ndim, axes[1] % y.ndim
    nx = ny = None
    if normalize:
        (x, nx), (y, ny) = _l2_normalize(x, ax), _l2_normalize(y, ay)
    xm = xp.moveaxis(x, ax, -1)  # (N, *rx, k)
    ym = xp.moveaxis(y, ay, 1)  # (N, k, *ry)
    rx, ry = xm.shape[1:-1], ym.shape[2:]
    k = xm.shape[-1]
    z = xm.reshape(len(x), -1, k) @ ym.reshape(len(y), k, -1)  # (N, Px, Py)
    out_shape = (len(x), *rx, *ry) or (len(x),)
    z = z.reshape(out_shape if len(out_shape) > 1 else (len(x), 1))
    return z, (xs, x, y, nx, ny, ax, ay, rx, ry)


def dot_backward(dz: Array, cache: tuple[Any, ...]) -> list[Array]:
    (x0, y0), x, y, nx, ny, ax, ay, rx, ry = cache
    n = len(x)
    xm = xp.moveaxis(x, ax, -1)
    ym = xp.moveaxis(y, ay, 1)
    k = xm.shape[-1]
    g = dz.reshape(n, int(xp.prod(rx)) if rx else 1, int(xp.prod(ry)) if ry else 1)
    dxm = g @ ym.reshape(n, k, -1).transpose(0, 2, 1)  # (N, Px, k)
    dym = xm.reshape(n, -1, k).transpose(0, 2, 1) @ g  # (N, k, Py)
    dx = xp.moveaxis(dxm.reshape(xm.shape), -1, ax)
    dy = xp.moveaxis(dym.reshape(ym.shape), 1, ay)
    if nx is not None:
        dx = _l2_normalize_backward(dx, x, nx, ax, x0)
        dy = _l2_normalize_backward(dy, y, ny, ay, y0)
    return [xp.ascontiguousarray(dx), xp.ascontiguousarray(dy)]
