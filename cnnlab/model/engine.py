"""The fast engine: the same computation as the reference executor, rearranged for speed.

Each rewrite is exact (the test ``tests/model/test_engine.py`` runs both and
compares outputs, losses and gradients) and is one named step here:

1. :func:`crop_steps` -- where the only reader of a Conv's output reads only part
   of it (a valid pooling 11 -> 5 reads 10 cells), the Conv computes only that part.
2. :func:`fuse_conv_max_pool` -- a Conv whose output feeds exactly one MaxPooling
   pools the raw convolution and adds the bias and activation afterwards, on the
   smaller map (``maxpool(act(conv + b)) == act(maxpool(conv) + b)`` for a
   non-decreasing activation; see ``Conv.bias_activation``).
3. :func:`batch_parts` -- a large batch is split across threads
   (``cnnlab.model.parallel``), unless a layer needs the whole batch (an activity
   regularizer). BatchNormalization is split too: its parts add their sums
   (``cnnlab.part_sums``), so every part normalizes with the whole batch's statistics.
4. :class:`FlatParameters` -- every trained weight lives in one flat buffer, so the
   optimizer updates all of them in a few large passes.

A Conv whose output also goes elsewhere (fan-out, or a model output) is left as it
is: the rewrites would change what the other readers see.

``cnnlab.backend.set_fast_path(False)`` (or ``CNNLAB_FAST_PATH=0``) switches all four off.
"""

from __future__ import annotations

import numpy as np

from ..backend import fast_path, floatx
from . import parallel
from .executor import Program, Step


def plan(program: Program) -> tuple[Program, dict, set]:
    """The fast program for ``program``, with the crops (step index -> extent) and the
    fused steps (indices of the Convs that pool first), both in ``program``'s numbering."""
    crops = crop_steps(program)
    fused = fuse_conv_max_pool(program)
    steps, skip = [], set()
    for k, step in enumerate(program.steps):
        if k in skip:
            continue
        if k in fused:
            j = fused[k]
            steps.append(
                Step(
                    ConvThenMaxPool(step.layer, program.steps[j].layer),
                    step.inputs,
                    program.steps[j].outputs,
                    crop_to=crops.get(k),
                    owner=step.layer,
                    layers=(step.layer, program.steps[j].layer),
                    training=step.training,
                )
            )
            skip.add(j)
        else:
            steps.append(
                Step(
                    step.layer,
                    step.inputs,
                    step.outputs,
                    step.list_input,
                    step.list_output,
                    crop_to=crops.get(k),
                    owner=step.owner,
                    training=step.training,
                )
            )
    return (
        Program(steps, program.input_slots, program.output_slots, program.n_slots),
        crops,
        set(fused),
    )


def _single_reader(program, k):
    """The index of the only step reading step ``k``'s output, or None (fan-out, a model output)."""
    step = program.steps[k]
    if step.list_output or step.list_input or len(step.outputs) != 1:
        return None
    slot = step.outputs[0]
    if program.consumers.get(slot, 0) != 1 or slot in program.output_slots:
        return None
    readers = [j for j, s in enumerate(program.steps) if slot in s.inputs]
    if len(readers) != 1 or program.steps[readers[0]].list_input:
        return None
    return readers[0]


def crop_steps(program: Program) -> dict:
    """Step 1: ``{k: extent}`` for the steps that may compute only the part their reader uses."""
    crops = {}
    for k, step in enumerate(program.steps):
        layer = step.layer
        if (
            not getattr(layer, "can_crop", False)
            or getattr(layer, "activity_regularizer", None) is not None
        ):
            continue  # (an activity penalty is on the layer's whole output)
        j = _single_reader(program, k)
        if j is None:
            continue
        following = program.steps[j].layer
        extent = getattr(following, "used_input_extent", lambda shape: None)(
            layer.output_shape
        )
        if extent is not None and tuple(extent) != tuple(layer.output_shape[1:-1]):
            crops[k] = tuple(extent)
    return crops


def fuse_conv_max_pool(program: Program) -> dict:
    """Step 2: ``{conv step: pool step}`` for each Conv read only by a linear MaxPooling."""
    fused = {}
    for k, step in enumerate(program.steps):
        defers = getattr(step.layer, "defers_to_pooling", None)
        if (
            not defers
            or not defers()
            or getattr(step.layer, "activity_regularizer", None) is not None
        ):
            continue
        j = _single_reader(program, k)
        if j is None:
            continue
        pool = program.steps[j].layer
        if (
            getattr(pool, "mode", None) == "max"
            and getattr(pool, "activation_name", None) == "linear"
            and hasattr(pool, "pool_size")
        ):
            fused[k] = j
    return fused


class ConvThenMaxPool:
    """A Conv and the MaxPooling that alone reads it, run as one step: the convolution
    without bias, the pooling, then bias and activation on the pooled map."""

    def __init__(self, conv, pool):
        self.conv, self.pool = conv, pool

    def forward(self, x, training=False, crop_to=None):
        z, conv_cache = self.conv.forward_linear(x, crop_to)
        pooled, pool_cache = self.pool.forward(z, training)
        y, act_cache = self.conv.bias_activation(pooled)
        return y, (conv_cache, pool_cache, act_cache)

    def backward(self, dy, cache, skip_activation=False, need_dx=True):
        conv_cache, pool_cache, act_cache = cache
        dp, dbias = self.conv.bias_activation_backward(dy, act_cache)
        dz, _ = self.pool.backward(dp, pool_cache)
        dx, dkernel = self.conv.backward_linear(dz, conv_cache, need_dx=need_dx)
        return dx, [dkernel] + ([dbias] if dbias is not None else [])


def batch_parts(
    n: int, layers, training: bool, fast: bool | None = None
) -> list[slice]:
    """Step 3: the parts a batch of ``n`` is cut into (one without the fast path, or when a
    layer computes statistics over the whole training batch)."""
    if not (fast_path() if fast is None else fast):
        return [slice(0, n)]
    return parallel.split(
        n,
        whole=training
        and any(getattr(layer, "needs_whole_batch", False) for layer in layers),
    )


class FlatParameters:
    """Step 4: the trained weights, laid out one after another in one buffer.

    ``params`` is ``[(layer, [weights])]``; each weight is replaced in its layer by a
    view into the buffer (the layer keeps computing with it, unaware). If a weight
    cannot be found in its layer's ``_weights`` (a layer that keeps its weights
    elsewhere), or the fast path is off, the weights stay where they are and the
    optimizer updates them one by one.
    """

    def __init__(self, params):
        self.layers = [layer for layer, _ in params]
        self.arrays = [w for _, ws in params for w in ws]
        self.flat = None
        self.entries = []
        if not fast_path():
            return
        for layer, ws in params:
            # A custom layer's trained weights include its sub-layers': each lives in its owner's store.
            stores = (
                [owner._weights for owner in layer._walk()]
                if hasattr(layer, "_walk")
                else [getattr(layer, "_weights", {})]
            )
            for w in ws:
                found = next(
                    (
                        (store, k)
                        for store in stores
                        for k, v in store.items()
                        if v is w
                    ),
                    None,
                )
                if found is None:
                    return
                self.entries.append(found)
        self.flat = np.empty(sum(w.size for w in self.arrays), dtype=floatx)
        self.flat_grads = np.empty_like(self.flat)
        self.grad_views, offset = [], 0
        for i, ((store, key), w) in enumerate(zip(self.entries, self.arrays)):
            view = self.flat[offset : offset + w.size].reshape(w.shape)
            view[...] = w
            store[key] = view
            self.arrays[i] = view
            self.grad_views.append(
                self.flat_grads[offset : offset + w.size].reshape(w.shape)
            )
            offset += w.size

    def current(self) -> bool:
        """True while the layers still compute with this buffer's views (another model's
        compile may have moved them into its own buffer)."""
        return self.flat is None or all(
            store[key] is view for (store, key), view in zip(self.entries, self.arrays)
        )

    def apply(self, optimizer, grads_per_part, threads):
        """Sum each weight's gradient over the parts and update every weight."""
        if self.flat is None:
            summed = [g[0] if len(g) == 1 else sum(g[1:], g[0]) for g in grads_per_part]
            optimizer.apply(self.arrays, summed)
            return
        for view, part_grads in zip(self.grad_views, grads_per_part):
            if len(part_grads) == 1:
                view[...] = part_grads[0]
            else:
                np.add(part_grads[0], part_grads[1], out=view)
                for more in part_grads[2:]:
                    view += more
        optimizer.apply_flat(self.flat, self.flat_grads, threads=threads)
