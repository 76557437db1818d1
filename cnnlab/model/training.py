"""Whole data sets: the loops behind ``Sequential.fit``, ``evaluate`` and
``predict``, and the checks on what users pass in.

``fit`` walks epochs of shuffled mini-batches; each batch is one training
step (``Model._train_step``), so an epoch is ``ceil(N / batch_size)``
updates. The epoch loss is the running mean of the batch losses, weighted by
batch size, each taken before that batch's update, as Keras reports it.
"""
from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np

from .. import random as cnn_random
from ..backend import floatx
from ..errors import CnnlabError
from ..layers.base import as_float_input
from ..ops.losses import sparse_labels
from . import losses as losses_mod
from .callbacks import CallbackList, History, ProgbarLogger
from .progress import Progbar


@dataclass
class FitState:
    """Where ``fit`` is, handed to callbacks as ``model.fit_state``: the epoch and step
    (0-based, the step just finished), the epoch's sample ``order``, the running sums of
    the epoch so far (``loss_sum`` over ``seen`` samples, and per output with several
    outputs), and ``resume_point``, which a callback (``BackupAndRestore``) may set in
    ``on_train_begin`` to continue an interrupted run."""

    epoch: int = 0
    step: int = -1
    order: object = None
    loss_sum: object = 0.0
    seen: int = 0
    output_loss_sums: list = field(default_factory=list)
    resume_point: object = None


def fit(model, x, y, batch_size, epochs, verbose, callbacks, validation_split, validation_data, shuffle,
        initial_epoch, validation_batch_size, validation_freq):
    """The training loop behind ``Model.fit``: epochs of shuffled mini-batches,
    callbacks, validation at the end of each epoch."""
    batch_size = 32 if batch_size is None else int(batch_size)
    if batch_size < 1:
        raise CnnlabError(f"fit(): batch_size must be a positive integer. Received: batch_size={batch_size}")
    xs, ys = as_arrays(x, y, "fit", model)
    if validation_data is None and validation_split:
        if not 0 < validation_split < 1:
            raise CnnlabError(f"fit(): validation_split must be in (0, 1). Received: {validation_split}")
        split = int(len(xs[0]) * (1 - validation_split))   # Keras takes the last samples, before shuffling
        validation_data = ([v[split:] for v in xs], [None if v is None else v[split:] for v in ys])
        xs, ys = [v[:split] for v in xs], [None if v is None else v[:split] for v in ys]
    n = len(xs[0])
    if n == 0:
        raise CnnlabError("fit(): the training data is empty (0 samples). Received: x shape="
                          f"{tuple(np.shape(xs[0]))}")
    model._check_shape(_shapes(xs), "fit")
    check_labels(model, ys)
    verbose = 1 if verbose == "auto" else int(verbose)
    steps = math.ceil(n / batch_size)
    history = History()
    cb_list = [history] + list(callbacks or [])
    if verbose:
        cb_list.append(ProgbarLogger(verbose))
    cbs = CallbackList(cb_list, model, {"epochs": epochs, "steps": steps, "verbose": verbose})
    metrics = model._build_metrics(ys)
    heads = model._output_heads()
    model.stop_training = False
    model.history = history
    rng = cnn_random.generator()
    state = model.fit_state = FitState()
    cbs.on_train_begin()
    resume, state.resume_point = state.resume_point, None
    if resume is not None:
        initial_epoch = resume.epoch
    logs = {}                        # (no epoch left to run: on_train_end still gets logs)
    for epoch in range(initial_epoch, epochs):
        cbs.on_epoch_begin(epoch)
        loss_sum, seen, first_step = 0.0, 0, 0
        output_sums = [0.0 if h.loss is not None else None for h in heads]
        for m in metrics:
            m.reset_state()
        logs = {}
        if resume is not None and resume.order is not None:   # mid-epoch: same order, sums so far
            order, first_step, loss_sum, seen, logs = resume.continue_epoch(n, steps, metrics)
            output_sums = list(getattr(resume, "output_loss_sums", None) or output_sums)
        else:
            order = rng.permutation(n) if shuffle else np.arange(n)
        resume = None
        for step in range(first_step, steps):
            cbs.on_train_batch_begin(step)
            idx = order[step * batch_size:(step + 1) * batch_size]
            xb = [as_float_input(v[idx], "fit") for v in xs]
            for v in xb:
                if v.dtype.kind == "f" and not np.isfinite(v).all():
                    raise CnnlabError(f"fit(): the input batch {step} of epoch {epoch + 1} contains NaN or inf "
                                      f"(samples {idx[~np.isfinite(v.reshape(len(v), -1)).all(axis=1)][:5].tolist()}). "
                                      f"Clean the data before training; the weights were not updated.")
            yb = [None if v is None else v[idx] for v in ys]
            loss, out = model._train_step(xb, yb)
            loss_sum += loss * len(idx)
            seen += len(idx)
            output_sums = _add_output_losses(output_sums, model._last_output_losses, len(idx))
            _update_metrics(heads, yb, out)
            logs = model._step_logs(loss_sum, output_sums, seen, metrics)
            state.epoch, state.step, state.order, state.loss_sum, state.seen = epoch, step, order, loss_sum, seen
            state.output_loss_sums = list(output_sums)
            cbs.on_train_batch_end(step, logs)
            if model.stop_training:
                break
        if validation_data is not None and not model.stop_training and (epoch + 1) % validation_freq == 0:
            val = model.evaluate(*validation_data, batch_size=validation_batch_size or batch_size, verbose=0,
                                return_dict=True)
            logs.update({f"val_{k}": v for k, v in val.items()})
        cbs.on_epoch_end(epoch, logs)
        if model.stop_training:
            break
    cbs.on_train_end(logs)
    return history


def _shapes(arrays):
    return [v.shape for v in arrays] if len(arrays) > 1 else arrays[0].shape


def _add_output_losses(sums, losses, count):
    return [None if s is None or l is None else s + l * count for s, l in zip(sums, losses or [None] * len(sums))]


def _update_metrics(heads, ys, out):
    outs = out if isinstance(out, list) else [out]
    for head, yi, oi in zip(heads, ys, outs):
        for m in head.metrics:
            m.update_state(yi, oi)


def ordered_values(model, values):
    """``evaluate``'s list: the loss alone without metrics, else Keras 3's order (the loss,
    each output's loss, then the metrics; several outputs' metrics sorted by name)."""
    if len(values) == 1:
        return values["loss"]
    heads = model._output_heads()
    if len(heads) == 1:
        return list(values.values())
    first = ["loss"] + [f"{h.name}_loss" for h in heads if f"{h.name}_loss" in values]
    return [values[k] for k in first] + [values[k] for k in sorted(values) if k not in first]


def check_labels(model, ys, where="fit"):
    """Catch labels that do not fit the loss before any training (or scoring) happens; the
    whole label array is checked, so an error names its shape, not one batch's part of it."""
    for head, y, shape in zip(model._output_heads(), ys, model._output_shapes()):
        if head.loss is None or y is None:
            continue
        if not finite_labels(y):
            raise CnnlabError(f"{where}(): the labels y contain NaN or inf (samples "
                              f"{np.flatnonzero(~np.isfinite(y.reshape(len(y), -1)).all(axis=1))[:5].tolist()}). "
                              f"Clean the labels first.")
        probe_out = np.zeros((min(len(y), 4), *shape[1:]), dtype=floatx)
        if isinstance(head.loss, losses_mod.BinaryCrossentropy):
            probe_out += 0.5
        elif isinstance(head.loss, (losses_mod.CategoricalCrossentropy, losses_mod.SparseCategoricalCrossentropy)):
            probe_out += 1.0 / max(shape[-1], 1)
        if isinstance(head.loss, losses_mod.SparseCategoricalCrossentropy):
            sparse_labels(y, shape[-1])       # the whole label array: range and type
        head.loss.value_and_grad(y[:len(probe_out)], probe_out)


def evaluate(model, x, y, batch_size, verbose, return_dict):
    """The loop behind ``Model.evaluate``."""
    batch_size = 32 if batch_size is None else int(batch_size)
    xs, ys = as_arrays(x, y, "evaluate", model)
    n = len(xs[0])
    if n == 0:
        raise CnnlabError("evaluate(): the data is empty (0 samples).")
    model._check_shape(_shapes(xs), "evaluate")
    check_labels(model, ys, "evaluate")
    metrics = model._build_metrics(ys)
    heads = model._output_heads()
    for m in metrics:
        m.reset_state()
    total, seen = 0.0, 0
    output_sums = [0.0 if h.loss is not None else None for h in heads]
    verbose = 1 if verbose == "auto" else int(verbose)
    steps = math.ceil(n / batch_size)
    bar = Progbar(steps, verbose)
    for step in range(steps):
        sl = slice(step * batch_size, (step + 1) * batch_size)
        xb = [as_float_input(v[sl], "evaluate") for v in xs]
        yb = [None if v is None else v[sl] for v in ys]
        out, loss = model._infer(xb, yb)
        count = len(xb[0])
        total += loss * count
        seen += count
        output_sums = _add_output_losses(output_sums, model._last_output_losses, count)
        _update_metrics(heads, yb, out)
        bar.update(step + 1, model._step_logs(total, output_sums, seen, metrics), finalize=step == steps - 1)
    values = model._step_logs(total, output_sums, seen, metrics)
    if return_dict:
        return values
    return ordered_values(model, values)


def predict(model, x, batch_size, verbose):
    """The loop behind ``Model.predict``: one array, or a list for several outputs."""
    batch_size = 32 if batch_size is None else int(batch_size)
    xs = [to_array(v, "x", "predict") for v in model._input_list(x)] if model._program is not None else [
        to_array(x, "x", "predict")]
    for v in xs:
        if v.ndim == 0 or len(v) == 0:
            raise CnnlabError(f"predict(): expects a non-empty batch. Received: x shape={tuple(v.shape)}")
    model._check_shape(_shapes(xs), "predict")
    n = len(xs[0])
    verbose = 1 if verbose == "auto" else int(verbose)
    steps = math.ceil(n / batch_size)
    bar = Progbar(steps, verbose)
    outs = []
    for step in range(steps):
        xb = [as_float_input(v[step * batch_size:(step + 1) * batch_size], "predict") for v in xs]
        out = model._infer(xb)[0]
        outs.append(out if isinstance(out, list) else [out])
        bar.update(step + 1, finalize=step == steps - 1)
    joined = [np.concatenate([o[i] for o in outs], axis=0) for i in range(len(outs[0]))]
    return joined[0] if len(joined) == 1 else joined


def as_arrays(x, y, where, model):
    """``(x, y)`` as lists of arrays, one per model input and one per output (None for an
    output without labels), every one with the same number of samples."""
    if x is None or y is None:
        raise CnnlabError(f"{where}(): needs both x and y. Received: x={type(x).__name__}, y={type(y).__name__}")
    xs = [to_array(v, "x", where) for v in model._input_list(x)] if model._program is not None else [
        to_array(x[0] if isinstance(x, list) and len(x) == 1 else x, "x", where)]
    ys = [None if v is None else to_array(v, "y", where) for v in model._target_list(y)]
    for v in ys:
        if v is not None and v.dtype.kind not in "biuf":
            raise CnnlabError(f"{where}(): the labels y must be numbers (class indices, one-hot rows or targets). "
                              f"Received: y dtype={v.dtype}")
    for v in xs[1:]:
        check_lengths(xs[0], v, where)
    for v in ys:
        if v is not None:
            check_lengths(xs[0], v, where)
    return xs, ys


def check_lengths(x, y, where):
    if x.ndim == 0 or y.ndim == 0 or len(x) != len(y):
        raise CnnlabError(f"{where}(): x and y must have the same number of samples. "
                          f"Received: x shape={tuple(x.shape)}, y shape={tuple(y.shape)}")


def to_array(value, name, where):
    """``np.asarray``, with a clear error for what NumPy cannot make one array of (ragged lists)."""
    try:
        return np.asarray(value)
    except (ValueError, TypeError) as e:
        raise CnnlabError(f"{where}(): {name} cannot be read as one array ({e}). Give a NumPy array "
                          f"(every sample the same shape). Received: {name} of type {type(value).__name__}") from None


def finite_labels(y):
    return y.dtype.kind != "f" or bool(np.isfinite(y).all())
