"""Whole data sets: the loops behind ``Sequential.fit``, ``evaluate`` and
``predict``, and the checks on what users pass in.

``fit`` walks epochs of shuffled mini-batches; each batch is one training
step (``Model._train_step``), so an epoch is ``ceil(N / batch_size)``
updates (or ``steps_per_epoch``, or one pass of a data set or generator: see
:mod:`.data_adapter`). The epoch loss is the running mean of the batch losses,
weighted by batch size, each taken before that batch's update, as Keras reports
it; with sample or class weights each batch loss is ``sum(w * loss) / batch size``,
``metrics`` ignore the weights and ``weighted_metrics`` are ``sum(w * v) / sum(w)``,
as in Keras 3.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from ..backend import floatx
from ..errors import CnnlabError
from ..layers.base import as_float_input
from ..ops.losses import sparse_labels
from . import data_adapter
from . import losses as losses_mod
from .callbacks import CallbackList, History, ProgbarLogger, pythonify_logs
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


def fit(
    model,
    x,
    y,
    batch_size,
    epochs,
    verbose,
    callbacks,
    validation_split,
    validation_data,
    shuffle,
    initial_epoch,
    validation_batch_size,
    validation_freq,
    steps_per_epoch=None,
    class_weight=None,
    sample_weight=None,
    validation_steps=None,
):
    """The training loop behind ``Model.fit``: epochs of (shuffled) mini-batches from arrays,
    a Dataset, a generator or a PyDataset (:mod:`.data_adapter`), callbacks, validation at
    the end of each epoch."""
    check_batch_size(batch_size, "fit")
    stream = data_adapter.is_stream(x)
    if not stream:
        xs, ys = as_arrays(x, y, "fit", model)
        sample_weight = as_sample_weight(sample_weight, len(xs[0]), "fit")
        if validation_data is None and validation_split:
            (xs, ys, sample_weight), validation_data = (
                data_adapter.train_validation_split(
                    xs, ys, sample_weight, validation_split
                )
            )
        n = len(xs[0])
        if n == 0:
            raise CnnlabError(
                "fit(): the training data is empty (0 samples). Received: x shape="
                f"{tuple(np.shape(xs[0]))}"
            )
        model._check_shape(_shapes(xs), "fit")
        check_labels(model, ys)
        if class_weight is not None and len(ys) > 1:
            raise CnnlabError(
                "fit(): `class_weight` is only supported for Models with a single output. "
                f"Received: {len(ys)} outputs"
            )
        adapter = data_adapter.ArrayAdapter(
            xs,
            ys,
            sample_weight,
            batch_size,
            steps_per_epoch,
            shuffle,
            data_adapter.check_class_weight(class_weight, "fit"),
        )
        metrics = model._build_metrics(ys)
    else:
        if validation_split:
            data_adapter.train_validation_split(
                x, None, None, validation_split
            )  # raises: arrays only
        _refuse_mid_epoch_backups(callbacks)
        adapter = data_adapter.get_adapter(
            x,
            y,
            sample_weight,
            batch_size,
            steps_per_epoch,
            shuffle,
            class_weight,
            "fit",
        )
        first_x, first_y, first_w = _peek(adapter, "fit")
        if first_y is None:
            raise CnnlabError(
                "fit(): the data yields inputs without targets; fit needs (x, y) batches. "
                f"Received: batches of {type(first_x).__name__}"
            )
        xb, yb, _ = _batch_lists(model, first_x, first_y, first_w, "fit")
        model._check_shape(_shapes(xb), "fit")
        check_labels(model, yb)
        metrics = model._build_metrics(yb)
    epoch_iterator = data_adapter.EpochIterator(adapter, steps_per_epoch)
    validation = _validation_source(
        model, validation_data, validation_batch_size or batch_size, validation_steps
    )
    verbose = 1 if verbose == "auto" else int(verbose)
    check_fit_options(shuffle, validation_freq, initial_epoch)
    history = History()
    # Keras's order: the user's callbacks, then History, then the progress bar.
    cb_list = list(callbacks or []) + [history]
    if verbose:
        cb_list.append(ProgbarLogger(verbose))
    cbs = CallbackList(
        cb_list,
        model,
        {"epochs": epochs, "steps": epoch_iterator.num_batches, "verbose": verbose},
    )
    heads = model._output_heads()
    model.stop_training = False
    model.history = history
    state = model.fit_state = FitState()
    cbs.on_train_begin()
    resume, state.resume_point = state.resume_point, None
    if resume is not None:
        initial_epoch = resume.epoch
    logs = {}  # (no epoch left to run: on_train_end still gets logs)
    for epoch in range(initial_epoch, epochs):
        cbs.on_epoch_begin(epoch)
        loss_sum, seen = 0.0, 0
        output_sums = [0.0 if h.loss is not None else None for h in heads]
        for m in metrics:
            m.reset_state()
        logs = _empty_logs(
            model, metrics
        )  # what Keras logs for an epoch that gets no batch
        if (
            resume is not None and resume.order is not None
        ):  # mid-epoch: same order, sums so far
            adapter.resume_order, adapter.first_step, loss_sum, seen, resumed = (
                resume.continue_epoch(len(xs[0]), epoch_iterator.num_batches, metrics)
            )
            logs = resumed or logs
            output_sums = list(getattr(resume, "output_loss_sums", None) or output_sums)
        resume = None
        for step, (xb, yb, swb) in epoch_iterator.epoch(
            getattr(adapter, "first_step", 0)
        ):
            cbs.on_train_batch_begin(step)
            xb, yb, swb = (
                _batch_lists(model, xb, yb, swb, "fit") if stream else (xb, yb, swb)
            )
            xb = [as_float_input(v, "fit") for v in xb]
            for v in xb:
                if v.dtype.kind == "f" and not np.isfinite(v).all():
                    raise CnnlabError(
                        f"fit(): the input batch {step} of epoch {epoch + 1} contains NaN or inf "
                        f"(samples {np.flatnonzero(~np.isfinite(v.reshape(len(v), -1)).all(axis=1))[:5].tolist()} "
                        f"of the batch). Clean the data before training; the weights were not updated."
                    )
            if stream:
                if not all(finite_labels(v) for v in yb if v is not None):
                    raise CnnlabError(
                        f"fit(): the labels of batch {step} of epoch {epoch + 1} contain NaN or inf. "
                        f"Clean the labels before training; the weights were not updated."
                    )
                model._check_shape(_shapes(xb), "fit")
            count = len(xb[0])
            loss, out = model._train_step(xb, yb, swb)
            loss_sum += loss * count
            seen += count
            output_sums = _add_output_losses(
                output_sums, model._last_output_losses, count
            )
            _update_metrics(heads, yb, out, swb)
            logs = model._step_logs(loss_sum, output_sums, seen, metrics)
            state.epoch, state.step, state.loss_sum, state.seen = (
                epoch,
                step,
                loss_sum,
                seen,
            )
            state.order = None if stream else adapter.order
            state.output_loss_sums = list(output_sums)
            cbs.on_train_batch_end(step, logs)
            if model.stop_training:
                break
        if (
            validation is not None
            and not model.stop_training
            and should_validate(epoch, validation_freq)
        ):
            # The fit's callbacks see the validation as Keras shows it them (on_test_begin ... on_test_end).
            val = _evaluate_loop(model, validation, 0, callbacks=cbs)
            logs.update({f"val_{k}": v for k, v in val.items()})
        cbs.on_epoch_end(epoch, logs)
        if model.stop_training:
            break
    if epochs > 0 and model.optimizer.built:
        # Keras: with use_ema the weights take their moving averages when fit ends.
        model.optimizer.finalize_variable_values(model.trainable_weights)
    cbs.on_train_end(logs)
    return history


def check_fit_options(shuffle, validation_freq, initial_epoch):
    if not (isinstance(shuffle, (bool, np.bool_)) or shuffle == "batch"):
        raise CnnlabError(
            f"fit(): `shuffle` must be True, False or 'batch'. Received: shuffle={shuffle!r}"
        )
    should_validate(0, validation_freq)
    if (
        not isinstance(initial_epoch, (int, np.integer))
        or isinstance(initial_epoch, bool)
        or initial_epoch < 0
    ):
        raise CnnlabError(
            f"fit(): `initial_epoch` must be a non-negative integer (the epoch to start from, "
            f"0-based). Received: initial_epoch={initial_epoch!r}"
        )


def should_validate(epoch, validation_freq):
    """Keras's ``_should_eval``: every ``validation_freq`` epochs, or at the (1-based) epochs listed."""
    if isinstance(validation_freq, (int, np.integer)) and not isinstance(
        validation_freq, bool
    ):
        if validation_freq < 1:
            raise CnnlabError(
                f"fit(): `validation_freq` must be a positive integer or a list of epochs. "
                f"Received: validation_freq={validation_freq}"
            )
        return (epoch + 1) % validation_freq == 0
    if isinstance(validation_freq, (list, tuple)):
        return epoch + 1 in validation_freq
    raise ValueError(
        f"Expected `validation_freq` to be a list or int. Received: validation_freq={validation_freq!r} "
        f"of the type {type(validation_freq)}."
    )


def as_callback_list(callbacks, model, params):
    if isinstance(callbacks, CallbackList):
        return callbacks
    return CallbackList(list(callbacks or []), model, params)


def _empty_logs(model, metrics):
    heads = model._output_heads()
    return model._step_logs(
        0.0, [0.0 if h.loss is not None else None for h in heads], 1, metrics
    )


def _refuse_mid_epoch_backups(callbacks):
    for cb in callbacks or []:
        if (
            type(cb).__name__ == "BackupAndRestore"
            and getattr(cb, "save_freq", "epoch") != "epoch"
        ):
            raise CnnlabError(
                "fit(): BackupAndRestore(save_freq=N) backs up in the middle of an epoch, which "
                "cnnlab can resume only for array data (it records the order of the samples). With a "
                "Dataset, generator or PyDataset use save_freq='epoch'. "
                f"Received: save_freq={cb.save_freq!r}"
            )


def _peek(adapter, where):
    """The first batch of a stream, to build the model and choose the metrics before training."""
    if isinstance(adapter, data_adapter.GeneratorAdapter):
        batch = adapter.first
    elif isinstance(adapter, data_adapter.PyDatasetAdapter):
        batch = adapter.dataset[0]
    else:
        iterator = iter(adapter.dataset)
        try:
            batch = next(iterator)
        except StopIteration:
            raise CnnlabError(
                f"{where}(): the data set is empty (it yields no batch)."
            ) from None
        finally:
            close = getattr(iterator, "close", None)
            if close is not None:
                close()
    return data_adapter.unpack_x_y_sample_weight(batch, where)


def _batch_lists(model, x, y, sample_weight, where):
    """A batch from a stream as lists (one array per input, one per output), checked."""
    xs = (
        [to_array(v, "x", where) for v in model._input_list(x)]
        if model._program is not None
        else [to_array(x[0] if isinstance(x, list) and len(x) == 1 else x, "x", where)]
    )
    ys = (
        None
        if y is None
        else [
            None if v is None else to_array(v, "y", where)
            for v in model._target_list(y)
        ]
    )
    for v in xs[1:] + [v for v in ys or [] if v is not None]:
        check_lengths(xs[0], v, where)
    return xs, ys, as_sample_weight(sample_weight, len(xs[0]), where)


def _validation_source(model, validation_data, batch_size, steps):
    """``validation_data`` as an EpochIterator, made once per fit (a generator carries on
    from one validation to the next, as in Keras); ``None`` without validation data."""
    if validation_data is None:
        return None
    if data_adapter.is_stream(validation_data):
        adapter = data_adapter.get_adapter(
            validation_data, None, None, batch_size, steps, False, None, "fit"
        )
        return data_adapter.EpochIterator(adapter, steps)
    if isinstance(
        validation_data, data_adapter.SplitArrays
    ):  # from validation_split: checked lists
        xs, ys, vsw = validation_data
        adapter = data_adapter.ArrayAdapter(xs, ys, vsw, batch_size, steps, False, None)
        return data_adapter.EpochIterator(adapter, steps)
    if (
        isinstance(validation_data, dict)
        or not isinstance(validation_data, (tuple, list))
        or len(validation_data) not in (2, 3)
    ):
        raise CnnlabError(
            "fit(): validation_data must be (x_val, y_val), (x_val, y_val, sample_weight) or a data "
            f"set yielding (x, y) batches. Received: {type(validation_data).__name__}"
        )
    vx, vy, vsw = data_adapter.unpack_x_y_sample_weight(tuple(validation_data), "fit")
    if data_adapter.is_stream(vx):
        raise CnnlabError(
            "fit(): a data set given as validation_data must be passed alone, not in a tuple. "
            "Received: validation_data=(data set, ...)"
        )
    xs, ys = as_arrays(vx, vy, "fit", model)
    if len(xs[0]) == 0:
        raise CnnlabError("fit(): validation_data is empty (0 samples).")
    adapter = data_adapter.ArrayAdapter(
        xs, ys, as_sample_weight(vsw, len(xs[0]), "fit"), batch_size, steps, False, None
    )
    return data_adapter.EpochIterator(adapter, steps)


def _evaluate_loop(model, epoch_iterator, verbose, where="evaluate", callbacks=None):
    """Loss and metrics over one pass of ``epoch_iterator`` (the logs dict); ``callbacks`` get the test hooks
    (fit's ``CallbackList`` during validation, or the user's list)."""
    stream = not isinstance(epoch_iterator.adapter, data_adapter.ArrayAdapter)
    heads = model._output_heads()
    metrics = None
    total, seen = 0.0, 0
    output_sums = [0.0 if h.loss is not None else None for h in heads]
    bar = Progbar(epoch_iterator.num_batches, verbose)
    cbs = as_callback_list(
        callbacks,
        model,
        {"epochs": 1, "steps": epoch_iterator.num_batches, "verbose": verbose},
    )
    cbs.on_test_begin()
    step = -1
    for step, (xb, yb, swb) in epoch_iterator.epoch():
        cbs.on_test_batch_begin(step)
        if stream:
            xb, yb, swb = _batch_lists(model, xb, yb, swb, where)
            if yb is None:
                raise CnnlabError(
                    f"{where}(): the data yields inputs without targets; evaluating needs (x, y) "
                    f"batches."
                )
            model._check_shape(_shapes(xb), where)
        xb = [as_float_input(v, where) for v in xb]
        if metrics is None:
            metrics = model._build_metrics(yb)
            for m in metrics:
                m.reset_state()
        out, loss = model._infer(xb, yb, swb)
        count = len(xb[0])
        total += loss * count
        seen += count
        output_sums = _add_output_losses(output_sums, model._last_output_losses, count)
        _update_metrics(heads, yb, out, swb)
        logs = model._step_logs(total, output_sums, seen, metrics)
        cbs.on_test_batch_end(step, logs)
        bar.update(step + 1, pythonify_logs(logs))
    if metrics is None:
        metrics = model.metrics
        for m in metrics:
            m.reset_state()
    values = (
        model._step_logs(total, output_sums, seen, metrics)
        if seen
        else _empty_logs(model, metrics)
    )
    bar.update(max(step + 1, 0), pythonify_logs(values), finalize=True)
    cbs.on_test_end(values)
    return values


def _shapes(arrays):
    return [v.shape for v in arrays] if len(arrays) > 1 else arrays[0].shape


def _add_output_losses(sums, losses, count):
    return [
        None if s is None or loss is None else s + loss * count
        for s, loss in zip(sums, losses or [None] * len(sums))
    ]


def _update_metrics(heads, ys, out, sample_weight=None):
    """Keras 3: ``metrics`` ignore sample and class weights, ``weighted_metrics`` use them."""
    outs = out if isinstance(out, list) else [out]
    for head, yi, oi in zip(heads, ys, outs):
        for m in head.metrics:
            m.update_state(yi, oi, sample_weight if m.weighted else None)


def ordered_values(model, values):
    """``evaluate``'s list: the loss alone without metrics, else Keras 3's order (the loss,
    each output's loss, then the metrics; several outputs' metrics sorted by name)."""
    if len(values) == 1:
        return values["loss"]
    heads = model._output_heads()
    if len(heads) == 1:
        return list(values.values())
    first = ["loss"] + [f"{h.name}_loss" for h in heads if f"{h.name}_loss" in values]
    return [values[k] for k in first] + [
        values[k] for k in sorted(values) if k not in first
    ]


def check_labels(model, ys, where="fit"):
    """Catch labels that do not fit the loss before any training (or scoring) happens; the
    whole label array is checked, so an error names its shape, not one batch's part of it."""
    for head, y, shape in zip(model._output_heads(), ys, model._output_shapes()):
        if head.loss is None or y is None:
            continue
        if not finite_labels(y):
            raise CnnlabError(
                f"{where}(): the labels y contain NaN or inf (samples "
                f"{np.flatnonzero(~np.isfinite(y.reshape(len(y), -1)).all(axis=1))[:5].tolist()}). "
                f"Clean the labels first."
            )
        probe_out = np.zeros((min(len(y), 4), *shape[1:]), dtype=floatx)
        if isinstance(
            head.loss,
            (losses_mod.BinaryCrossentropy, losses_mod.BinaryFocalCrossentropy),
        ):
            probe_out += 0.5
        elif isinstance(
            head.loss,
            (
                losses_mod.CategoricalCrossentropy,
                losses_mod.SparseCategoricalCrossentropy,
                losses_mod.CategoricalFocalCrossentropy,
            ),
        ):
            probe_out += 1.0 / max(shape[-1], 1)
        if isinstance(head.loss, losses_mod.SparseCategoricalCrossentropy):
            sparse_labels(y, shape[-1])  # the whole label array: range and type
        head.loss.value_and_grad(y[: len(probe_out)], probe_out)


def evaluate(
    model,
    x,
    y,
    batch_size,
    verbose,
    return_dict,
    sample_weight=None,
    steps=None,
    callbacks=None,
):
    """The loop behind ``Model.evaluate``: arrays, a Dataset, a generator or a PyDataset."""
    check_batch_size(batch_size, "evaluate")
    if data_adapter.is_stream(x):
        adapter = data_adapter.get_adapter(
            x, y, sample_weight, batch_size, steps, False, None, "evaluate"
        )
    else:
        xs, ys = as_arrays(x, y, "evaluate", model)
        if len(xs[0]) == 0:
            raise CnnlabError("evaluate(): the data is empty (0 samples).")
        model._check_shape(_shapes(xs), "evaluate")
        check_labels(model, ys, "evaluate")
        adapter = data_adapter.ArrayAdapter(
            xs,
            ys,
            as_sample_weight(sample_weight, len(xs[0]), "evaluate"),
            batch_size,
            steps,
            False,
            None,
        )
    values = _evaluate_loop(
        model,
        data_adapter.EpochIterator(adapter, steps),
        1 if verbose == "auto" else int(verbose),
        callbacks=callbacks,
    )
    if return_dict:
        return values
    return ordered_values(model, values)


def predict(model, x, batch_size, verbose, steps=None, callbacks=None):
    """The loop behind ``Model.predict``: one array, or a list for several outputs. A data
    set's targets, if it yields any, are ignored."""
    check_batch_size(batch_size, "predict")
    stream = data_adapter.is_stream(x)
    if stream:
        adapter = data_adapter.get_adapter(
            x, None, None, batch_size, steps, False, None, "predict"
        )
    else:
        xs = (
            [to_array(v, "x", "predict") for v in model._input_list(x)]
            if model._program is not None
            else [to_array(x, "x", "predict")]
        )
        for v in xs:
            if v.ndim == 0 or len(v) == 0:
                raise CnnlabError(
                    f"predict(): expects a non-empty batch. Received: x shape={tuple(v.shape)}"
                )
        model._check_shape(_shapes(xs), "predict")
        adapter = data_adapter.ArrayAdapter(
            xs, None, None, batch_size, steps, False, None
        )
    epoch_iterator = data_adapter.EpochIterator(adapter, steps)
    verbose = 1 if verbose == "auto" else int(verbose)
    bar = Progbar(epoch_iterator.num_batches, verbose)
    cbs = as_callback_list(
        callbacks,
        model,
        {"epochs": 1, "steps": epoch_iterator.num_batches, "verbose": verbose},
    )
    cbs.on_predict_begin()
    outs, step = [], -1
    for step, (xb, _, _) in epoch_iterator.epoch():
        cbs.on_predict_batch_begin(step)
        if stream:
            xb = _batch_lists(model, xb, None, None, "predict")[0]
            model._check_shape(_shapes(xb), "predict")
        out = model._infer([as_float_input(v, "predict") for v in xb])[0]
        outs.append(out if isinstance(out, list) else [out])
        cbs.on_predict_batch_end(step, {"outputs": out})
        bar.update(step + 1)
    cbs.on_predict_end()
    if not outs:
        raise CnnlabError(
            "predict(): the data yields no batch. Received: an empty data set"
        )
    bar.update(step + 1, finalize=True)
    joined = [np.concatenate([o[i] for o in outs], axis=0) for i in range(len(outs[0]))]
    return joined[0] if len(joined) == 1 else joined


def check_batch_size(batch_size, where):
    if batch_size is not None and (isinstance(batch_size, bool) or int(batch_size) < 1):
        raise CnnlabError(
            f"{where}(): batch_size must be a positive integer. Received: batch_size={batch_size}"
        )


def as_sample_weight(sample_weight, n, where):
    """Per-sample weights as float32 ``(n,)`` (or ``None``), checked."""
    if sample_weight is None:
        return None
    w = to_array(sample_weight, "sample_weight", where)
    if w.dtype.kind not in "biuf":
        raise CnnlabError(
            f"{where}(): sample_weight must be numbers. Received: sample_weight dtype={w.dtype}"
        )
    if w.ndim == 2 and w.shape[1] == 1:
        w = w[:, 0]
    if w.ndim != 1 or len(w) != n:
        raise CnnlabError(
            f"{where}(): sample_weight must have one weight per sample, shape ({n},). "
            f"Received: sample_weight shape={tuple(w.shape)}"
        )
    if not np.isfinite(w).all():
        raise CnnlabError(
            f"{where}(): sample_weight contains NaN or inf. Received: sample_weight={w[:5].tolist()}..."
        )
    return w.astype(floatx, copy=False)


def as_arrays(x, y, where, model):
    """``(x, y)`` as lists of arrays, one per model input and one per output (None for an
    output without labels), every one with the same number of samples."""
    if x is None or y is None:
        raise CnnlabError(
            f"{where}(): needs both x and y. Received: x={type(x).__name__}, y={type(y).__name__}"
        )
    xs = (
        [to_array(v, "x", where) for v in model._input_list(x)]
        if model._program is not None
        else [to_array(x[0] if isinstance(x, list) and len(x) == 1 else x, "x", where)]
    )
    ys = [None if v is None else to_array(v, "y", where) for v in model._target_list(y)]
    for v in ys:
        if v is not None and v.dtype.kind not in "biuf":
            raise CnnlabError(
                f"{where}(): the labels y must be numbers (class indices, one-hot rows or targets). "
                f"Received: y dtype={v.dtype}"
            )
    for v in xs[1:]:
        check_lengths(xs[0], v, where)
    for v in ys:
        if v is not None:
            check_lengths(xs[0], v, where)
    return xs, ys


def check_lengths(x, y, where):
    if x.ndim == 0 or y.ndim == 0 or len(x) != len(y):
        raise CnnlabError(
            f"{where}(): x and y must have the same number of samples. "
            f"Received: x shape={tuple(x.shape)}, y shape={tuple(y.shape)}"
        )


def to_array(value, name, where):
    """``np.asarray``, with a clear error for what NumPy cannot make one array of (ragged lists)."""
    try:
        return np.asarray(value)
    except (ValueError, TypeError) as e:
        raise CnnlabError(
            f"{where}(): {name} cannot be read as one array ({e}). Give a NumPy array "
            f"(every sample the same shape). Received: {name} of type {type(value).__name__}"
        ) from None


def finite_labels(y):
    return y.dtype.kind != "f" or bool(np.isfinite(y).all())
