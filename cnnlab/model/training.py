"""Whole data sets: the loops behind ``Sequential.fit``, ``evaluate`` and
``predict``, and the checks on what users pass in.

``fit`` walks epochs of shuffled mini-batches; each batch is one training
step (``Sequential._train_step``), so an epoch is ``ceil(N / batch_size)``
updates. The epoch loss is the running mean of the batch losses, weighted by
batch size, each taken before that batch's update, as Keras reports it.
"""
from __future__ import annotations

import math

import numpy as np

from .. import random as cnn_random
from ..backend import floatx
from ..errors import CnnlabError
from ..layers.base import as_float_input
from ..ops.losses import sparse_labels
from . import losses as losses_mod
from .callbacks import CallbackList, History, ProgbarLogger
from .progress import Progbar


def fit(model, x, y, batch_size, epochs, verbose, callbacks, validation_split, validation_data, shuffle,
        initial_epoch, validation_batch_size, validation_freq):
    """The training loop behind ``Sequential.fit``: epochs of shuffled mini-batches,
    callbacks, validation at the end of each epoch."""
    batch_size = 32 if batch_size is None else int(batch_size)
    if batch_size < 1:
        raise CnnlabError(f"fit(): batch_size must be a positive integer. Received: batch_size={batch_size}")
    x, y = as_arrays(x, y, "fit")
    if validation_data is None and validation_split:
        if not 0 < validation_split < 1:
            raise CnnlabError(f"fit(): validation_split must be in (0, 1). Received: {validation_split}")
        split = int(len(x) * (1 - validation_split))   # Keras takes the last samples, before shuffling
        x, y, validation_data = x[:split], y[:split], (x[split:], y[split:])
    if len(x) == 0:
        raise CnnlabError("fit(): the training data is empty (0 samples). Received: x shape="
                          f"{tuple(np.shape(x))}")
    model._check_shape(x.shape, "fit")
    check_labels(model, y)
    verbose = 1 if verbose == "auto" else int(verbose)
    steps = math.ceil(len(x) / batch_size)
    history = History()
    cb_list = [history] + list(callbacks or [])
    if verbose:
        cb_list.append(ProgbarLogger(verbose))
    cbs = CallbackList(cb_list, model, {"epochs": epochs, "steps": steps, "verbose": verbose})
    metrics = model._build_metrics(y)
    model.stop_training = False
    model.history = history
    rng = cnn_random.generator()
    model._resume_point = None        # BackupAndRestore.on_train_begin may set it (cnnlab.saving.backup)
    cbs.on_train_begin()
    resume, model._resume_point = model._resume_point, None
    if resume is not None:
        initial_epoch = resume.epoch
    logs = {}                        # (no epoch left to run: on_train_end still gets logs)
    for epoch in range(initial_epoch, epochs):
        cbs.on_epoch_begin(epoch)
        loss_sum, seen, first_step = 0.0, 0, 0
        for m in metrics:
            m.reset_state()
        logs = {}
        if resume is not None and resume.order is not None:   # mid-epoch: same order, sums so far
            order, first_step, loss_sum, seen, logs = resume.continue_epoch(len(x), steps, metrics)
        else:
            order = rng.permutation(len(x)) if shuffle else np.arange(len(x))
        resume = None
        for step in range(first_step, steps):
            cbs.on_train_batch_begin(step)
            idx = order[step * batch_size:(step + 1) * batch_size]
            xb = as_float_input(x[idx], "fit")
            if xb.dtype.kind == "f" and not np.isfinite(xb).all():
                raise CnnlabError(f"fit(): the input batch {step} of epoch {epoch + 1} contains NaN or inf "
                                  f"(samples {idx[~np.isfinite(xb.reshape(len(xb), -1)).all(axis=1)][:5].tolist()}). "
                                  f"Clean the data before training; the weights were not updated.")
            yb = y[idx]
            loss, out = model._train_step(xb, yb)
            loss_sum += loss * len(idx)
            seen += len(idx)
            for m in metrics:
                m.update_state(yb, out)
            logs = {"loss": loss_sum / seen, **{m.name: m.result() for m in metrics}}
            model._fit_position = (epoch, step, order, loss_sum, seen)   # for BackupAndRestore
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


def check_labels(model, y):
    """Catch labels that do not fit the loss before any training happens."""
    if not finite_labels(y):
        raise CnnlabError(f"fit(): the labels y contain NaN or inf (samples "
                          f"{np.flatnonzero(~np.isfinite(y.reshape(len(y), -1)).all(axis=1))[:5].tolist()}). "
                          f"Clean the labels before training.")
    probe_out = np.zeros((min(len(y), 4), *model.output_shape[1:]), dtype=floatx)
    if isinstance(model.loss, losses_mod.BinaryCrossentropy):
        probe_out += 0.5
    elif isinstance(model.loss, (losses_mod.CategoricalCrossentropy, losses_mod.SparseCategoricalCrossentropy)):
        probe_out += 1.0 / max(model.output_shape[-1], 1)
    if isinstance(model.loss, losses_mod.SparseCategoricalCrossentropy):
        sparse_labels(y, model.output_shape[-1])       # the whole label array: range and type
    model.loss.value_and_grad(y[:len(probe_out)], probe_out)


def evaluate(model, x, y, batch_size, verbose, return_dict):
    """The loop behind ``Sequential.evaluate``."""
    batch_size = 32 if batch_size is None else int(batch_size)
    x, y = as_arrays(x, y, "evaluate")
    if len(x) == 0:
        raise CnnlabError("evaluate(): the data is empty (0 samples).")
    model._check_shape(x.shape, "evaluate")
    metrics = model._build_metrics(y)
    for m in metrics:
        m.reset_state()
    total, seen = 0.0, 0
    verbose = 1 if verbose == "auto" else int(verbose)
    steps = math.ceil(len(x) / batch_size)
    bar = Progbar(steps, verbose)
    for step in range(steps):
        sl = slice(step * batch_size, (step + 1) * batch_size)
        xb, yb = as_float_input(x[sl], "evaluate"), y[sl]
        out, loss = model._infer(xb, yb)
        total += loss * len(xb)
        seen += len(xb)
        for m in metrics:
            m.update_state(yb, out)
        bar.update(step + 1, {"loss": total / seen, **{m.name: m.result() for m in metrics}},
                   finalize=step == steps - 1)
    values = {"loss": total / seen, **{m.name: m.result() for m in metrics}}
    if return_dict:
        return values
    return values["loss"] if len(values) == 1 else list(values.values())


def predict(model, x, batch_size, verbose):
    """The loop behind ``Sequential.predict``."""
    batch_size = 32 if batch_size is None else int(batch_size)
    x = to_array(x, "x", "predict")
    if x.ndim == 0 or len(x) == 0:
        raise CnnlabError(f"predict(): expects a non-empty batch. Received: x shape={tuple(x.shape)}")
    model._check_shape(x.shape, "predict")
    verbose = 1 if verbose == "auto" else int(verbose)
    steps = math.ceil(len(x) / batch_size)
    bar = Progbar(steps, verbose)
    outs = []
    for step in range(steps):
        xb = as_float_input(x[step * batch_size:(step + 1) * batch_size], "predict")
        outs.append(model._infer(xb)[0])
        bar.update(step + 1, finalize=step == steps - 1)
    return np.concatenate(outs, axis=0)


def as_arrays(x, y, where):
    if x is None or y is None:
        raise CnnlabError(f"{where}(): needs both x and y. Received: x={type(x).__name__}, y={type(y).__name__}")
    x, y = to_array(x, "x", where), to_array(y, "y", where)
    if y.dtype.kind not in "biuf":
        raise CnnlabError(f"{where}(): the labels y must be numbers (class indices, one-hot rows or targets). "
                          f"Received: y dtype={y.dtype}")
    check_lengths(x, y, where)
    return x, y


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
