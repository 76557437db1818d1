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

5. :func:`fuse_inference_convs` (predict and evaluate only, never a training or a
   ``model.forward`` pass, whose backward needs every layer's cache) -- a Conv and
   what alone reads it, an inference-mode BatchNormalization (folded into the
   kernel and bias: ``gamma * (conv(x, k) + b - mean) / sqrt(var + eps) + beta`` is
   ``conv(x, k * s) + (b - mean) * s + beta`` with ``s = gamma / sqrt(var + eps)``),
   an activation layer and a MaxPooling, run as one :class:`InferenceConv`: a few
   samples at a time, pooling first, bias and activation in place, keeping no cache.
6. The input gradient of a stride-1 Conv with few channels as one GEMM
   (``ops.conv.input_grad_one_gemm``; the Conv layer asks for it when the fast path is on).

A Conv whose output also goes elsewhere (fan-out, or a model output) is left as it
is: the rewrites would change what the other readers see.

``cnnlab.backend.set_fast_path(False)`` (or ``CNNLAB_FAST_PATH=0``) switches all of them off.
"""

from __future__ import annotations

import numpy as np

from ..backend import fast_path, floatx
from ..errors import CnnlabError
from . import parallel
from .executor import Program, Step


def plan(program: Program, inference: bool = False) -> tuple[Program, dict, set]:
    """The fast program for ``program``, with the crops (step index -> extent) and the
    fused steps (indices of the Convs that pool first), both in ``program``'s numbering.
    ``inference``: the program of predict and evaluate (step 5 too)."""
    crops = crop_steps(program)
    fused = fuse_conv_max_pool(program)
    chains = fuse_inference_convs(program) if inference else {}
    steps, skip = [], set()
    for k, step in enumerate(program.steps):
        if k in skip:
            continue
        if k in chains:
            absorbed = [program.steps[j] for j in chains[k]]
            steps.append(
                Step(
                    InferenceConv(
                        step.layer, [a.layer for a in absorbed], crops.get(k)
                    ),
                    step.inputs,
                    (absorbed[-1] if absorbed else step).outputs,
                    owner=step.layer,
                    layers=(step.layer, *(a.layer for a in absorbed)),
                    training=False,
                )
            )
            skip.update(chains[k])
        elif k in fused:
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


def _inference_batch_norm(step, conv) -> bool:
    """A BatchNormalization that infers with its moving statistics (not a training call of a
    trainable one) along the channels, with nothing else of its own to do."""
    from ..layers.normalization import BatchNormalization

    bn = step.layer
    return (
        type(bn) is BatchNormalization
        and not bn.uses_batch_statistics(bool(step.training))
        and bn.axis % (conv.rank + 2) == conv.rank + 1
        and bn.activity_regularizer is None
    )


def _activation_layer(layer) -> bool:
    """A layer that only applies its activation (ReLU, Activation, LeakyReLU, ...)."""
    from ..layers.base import Layer

    return (
        isinstance(layer, Layer)
        and not layer._custom_call
        and type(layer)._forward is Layer._forward
        and type(layer).compute_output_shape is Layer.compute_output_shape
        and layer.activation_name != "linear"
        and layer.activity_regularizer is None
    )


def fuse_inference_convs(program: Program) -> dict:
    """Step 5: ``{conv step: [the steps it absorbs, in order]}`` for inference: each plain Conv,
    with the inference BatchNormalization, activation layer and linear MaxPooling that read
    it one after another (each the only reader of the one before)."""
    from ..layers.conv import Conv
    from ..ops import activations as act_ops

    chains, taken = {}, set()
    for k, step in enumerate(program.steps):
        conv = step.layer
        if (
            not isinstance(conv, Conv)
            or conv._custom_call
            or type(conv)._forward is not Conv._forward
            or conv.activity_regularizer is not None
            or step.list_input
            or k in taken
        ):
            continue
        chain, act = [], conv
        j = _single_reader(program, k)
        if (
            conv.activation_name == "linear"
            and j is not None
            and _inference_batch_norm(program.steps[j], conv)
        ):
            chain.append(j)
            j = _single_reader(program, j)
        if (
            act.activation_name == "linear"
            and j is not None
            and _activation_layer(program.steps[j].layer)
        ):
            chain.append(j)
            act = program.steps[j].layer
            j = _single_reader(program, j)
        if (
            j is not None
            and act_ops.is_non_decreasing(act.activation_name, act._act_kwargs)
            and getattr(program.steps[j].layer, "mode", None) == "max"
            and getattr(program.steps[j].layer, "activation_name", None) == "linear"
            and hasattr(program.steps[j].layer, "pool_size")
            and getattr(program.steps[j].layer, "rank", None) == conv.rank
        ):
            chain.append(j)
        chains[k] = chain
        taken.update(chain)
    return chains


class InferenceConv:
    """A Conv with the BatchNormalization (folded), activation and MaxPooling after it, for
    inference (:func:`fuse_inference_convs`). Runs on a few samples at a time, so that the
    im2col matrix and the raw map stay in the CPU's cache; keeps no cache (no backward)."""

    def __init__(self, conv, absorbed, crop_to=None):
        from ..layers.normalization import BatchNormalization

        self.conv, self.crop_to = conv, crop_to
        self.bn = next((a for a in absorbed if isinstance(a, BatchNormalization)), None)
        self.pool = next((a for a in absorbed if hasattr(a, "pool_size")), None)
        acts = [a for a in absorbed if a is not self.bn and a is not self.pool]
        self.act = acts[0] if acts else conv
        self._crops: dict = {}  # input shape (no batch axis) -> the crop the pooling allows

    def folded(self):
        """The kernel and bias that compute conv then BN in one convolution (BN's arithmetic
        in float32, as the layer does it)."""
        w = self.conv._weights
        kernel, bias = w["kernel"], w.get("bias")
        if self.bn is None:
            return kernel, bias
        b = self.bn._weights
        dtype = kernel.dtype
        scale = 1 / np.sqrt(
            b["moving_variance"].astype(dtype) + dtype.type(self.bn.epsilon)
        )
        if "gamma" in b:
            scale = scale * b["gamma"]
        shift = (
            -b["moving_mean"].astype(dtype) if bias is None else bias - b["moving_mean"]
        )
        shift = shift * scale
        if "beta" in b:
            shift = shift + b["beta"]
        return kernel * scale, shift

    def forward(self, x, training=False, crop_to=None):
        from ..ops import conv as conv_ops
        from ..ops import pool as pool_ops

        conv, act = self.conv, self.act
        kernel, bias = self.folded()
        n, crop_to = len(x), self.crop_to
        if self.pool is not None:
            # Compute only the cells the pooling reads (step 1's crop, past the BN and activation);
            # remembered per input shape (a single-image predict pays for it once).
            key = tuple(x.shape[1:])
            if key not in self._crops:
                out = conv.compute_output_shape((1, *key))
                extent = self.pool.used_input_extent(out)
                self._crops[key] = (
                    None
                    if extent is None or tuple(extent) == tuple(out[1:-1])
                    else tuple(extent)
                )
            crop_to = self._crops[key]
        chunk = conv_ops.samples_per_chunk(x, conv.kernel_size)
        out = None
        for start in range(0, n, chunk):
            z, _ = conv_ops.conv_forward(
                x[start : start + chunk],
                kernel,
                None,
                conv.strides,
                conv.op_padding(),
                conv.dilation_rate,
                crop_to,
                conv.groups,
            )
            if self.pool is not None:
                p = self.pool
                z = pool_ops.max_pool_values(z, p.pool_size, p.strides, p.padding)
            if bias is not None:
                z += bias
            if act.activation_name == "relu":
                np.maximum(z, 0, out=z)
            elif act.activation_name != "linear":
                z = act._act_forward(z, **act._act_kwargs)
            if chunk >= n:
                return z, None
            if out is None:
                out = np.empty((n, *z.shape[1:]), dtype=z.dtype)
            out[start : start + len(z)] = z
        return out, None

    def backward(self, dy, cache, skip_activation=False, need_dx=True):
        raise CnnlabError(
            f"Layer '{self.conv.name}': the inference program (predict, evaluate) keeps no cache "
            "for a backward pass; use model.forward(x) then model.backward(...)."
        )


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
