"""Callbacks with Keras's names and hooks: History, the progress bar,
EarlyStopping, ModelCheckpoint, TerminateOnNaN, BackupAndRestore, LambdaCallback."""

from __future__ import annotations

import math
import os
import warnings

import numpy as np

from ..errors import CnnlabError
from . import files
from . import metrics as metrics_mod
from .progress import Progbar


def _backup_store():
    """``cnnlab.saving.backup`` (through ``model/files.py``: saving imports the model)."""
    return files.saving().backup


class Callback:
    """Keras 3's callback: every hook receives ``logs`` (a dict, possibly empty). ``on_train_batch_begin``
    and ``on_train_batch_end`` forward to ``on_batch_begin``/``on_batch_end``, so overriding either works."""

    def __init__(self):
        self.model = None
        self.params = {}

    def set_model(self, model):
        self.model = model

    def set_params(self, params):
        self.params = params

    def on_batch_begin(self, batch, logs=None): ...
    def on_batch_end(self, batch, logs=None): ...
    def on_epoch_begin(self, epoch, logs=None): ...
    def on_epoch_end(self, epoch, logs=None): ...

    def on_train_batch_begin(self, batch, logs=None):
        self.on_batch_begin(batch, logs=logs)

    def on_train_batch_end(self, batch, logs=None):
        self.on_batch_end(batch, logs=logs)

    def on_test_batch_begin(self, batch, logs=None): ...
    def on_test_batch_end(self, batch, logs=None): ...
    def on_predict_batch_begin(self, batch, logs=None): ...
    def on_predict_batch_end(self, batch, logs=None): ...
    def on_train_begin(self, logs=None): ...
    def on_train_end(self, logs=None): ...
    def on_test_begin(self, logs=None): ...
    def on_test_end(self, logs=None): ...
    def on_predict_begin(self, logs=None): ...
    def on_predict_end(self, logs=None): ...


def pythonify_logs(logs):
    """Keras's ``python_utils.pythonify_logs``: a new dict, keys sorted, NumPy scalars as Python floats.
    Every callback of one hook call sees the same dict (so a key added by ReduceLROnPlateau reaches History)."""
    result = {}
    for key, value in sorted((logs or {}).items()):
        if isinstance(value, (np.generic, np.ndarray)) and np.ndim(value) == 0:
            value = float(value)
        result[key] = value
    return result


class CallbackList:
    """Calls every callback's hook in order, as Keras's ``CallbackList`` does: ``logs`` always passed (a sorted
    copy, ``{}`` when there are none), batch hooks with ``logs=`` by keyword."""

    def __init__(self, callbacks, model, params):
        self.callbacks = list(callbacks)
        for cb in self.callbacks:
            cb.set_model(model)
            cb.set_params(params)

    def _each(self, hook, *args, keyword=False, logs=None):
        logs = pythonify_logs(logs)
        for cb in self.callbacks:
            if keyword:
                getattr(cb, hook)(*args, logs=logs)
            else:
                getattr(cb, hook)(*args, logs)

    def on_train_begin(self, logs=None):
        self._each("on_train_begin", logs=logs)

    def on_train_end(self, logs=None):
        self._each("on_train_end", logs=logs)

    def on_epoch_begin(self, epoch, logs=None):
        self._each("on_epoch_begin", epoch, logs=logs)

    def on_epoch_end(self, epoch, logs=None):
        self._each("on_epoch_end", epoch, logs=logs)

    def on_train_batch_begin(self, batch, logs=None):
        self._each("on_train_batch_begin", batch, keyword=True, logs=logs)

    def on_train_batch_end(self, batch, logs=None):
        self._each("on_train_batch_end", batch, keyword=True, logs=logs)

    def on_test_begin(self, logs=None):
        self._each("on_test_begin", logs=logs)

    def on_test_end(self, logs=None):
        self._each("on_test_end", logs=logs)

    def on_test_batch_begin(self, batch, logs=None):
        self._each("on_test_batch_begin", batch, keyword=True, logs=logs)

    def on_test_batch_end(self, batch, logs=None):
        self._each("on_test_batch_end", batch, keyword=True, logs=logs)

    def on_predict_begin(self, logs=None):
        self._each("on_predict_begin", logs=logs)

    def on_predict_end(self, logs=None):
        self._each("on_predict_end", logs=logs)

    def on_predict_batch_begin(self, batch, logs=None):
        self._each("on_predict_batch_begin", batch, keyword=True, logs=logs)

    def on_predict_batch_end(self, batch, logs=None):
        self._each("on_predict_batch_end", batch, keyword=True, logs=logs)


class History(Callback):
    """``history.history['loss']``: one value per epoch for every log key. ``fit`` puts it after the user's
    callbacks, as Keras does, so that keys they add (``learning_rate``) are recorded."""

    def __init__(self):
        super().__init__()
        self.history = {}
        self.epoch = []

    def on_train_begin(self, logs=None):
        self.epoch = []

    def on_epoch_end(self, epoch, logs=None):
        self.epoch.append(epoch)
        for k, v in (logs or {}).items():
            self.history.setdefault(k, []).append(v)


class ProgbarLogger(Callback):
    """``Epoch 1/5`` and the per-epoch progress bar."""

    def __init__(self, verbose=1):
        super().__init__()
        self.verbose = verbose

    def on_epoch_begin(self, epoch, logs=None):
        if self.verbose:
            print(f"Epoch {epoch + 1}/{self.params['epochs']}", flush=True)
        self.bar = Progbar(self.params["steps"], self.verbose)

    def on_train_batch_end(self, batch, logs=None):
        self.seen = batch + 1
        self.bar.update(batch + 1, logs)

    def on_epoch_end(self, epoch, logs=None):
        # steps is None for a generator of unknown length: the bar ends at the batches seen
        self.bar.update(
            self.params["steps"] or getattr(self, "seen", 0), logs, finalize=True
        )


#: Which way a compiled metric improves (Keras 3's ``Metric._direction``).
_METRIC_DIRECTIONS = {
    "up": "max",
    "down": "min",
}  # a metric's ``_direction`` -> the mode


class _Monitor(Callback):
    """Shared by callbacks that watch a logged quantity (Keras 3's ``MonitorCallback``).

    ``mode="auto"`` decides the direction as Keras 3 does, at first use: ``loss`` and
    ``val_loss`` are minimised; a compiled metric of that name (``val_`` prefix removed)
    goes its own way (accuracies up, errors down); any other name is refused, asking for
    ``mode``. An unknown ``mode`` warns and falls back to ``"auto"``, as in Keras.
    """

    def __init__(self, monitor, mode, min_delta=0.0):
        super().__init__()
        self.monitor = monitor
        if mode not in ("auto", "min", "max"):
            warnings.warn(
                f"{type(self).__name__} mode '{mode}' is unknown, fallback to auto mode.",
                stacklevel=3,
            )
            mode = "auto"
        self.mode = mode
        self.min_delta = abs(min_delta)
        self._direction = None if mode == "auto" else mode

    def direction(self):
        """``"min"`` or ``"max"``."""
        if self._direction is None:
            name = self.monitor[4:] if self.monitor.startswith("val_") else self.monitor
            if name == "loss":
                self._direction = "min"
            for m in getattr(self.model, "metrics", None) or []:
                if (
                    getattr(m, "name", None) == name
                    and getattr(m, "_direction", None) in _METRIC_DIRECTIONS
                ):
                    self._direction = _METRIC_DIRECTIONS[m._direction]
            if self._direction is None:
                raise ValueError(
                    f"{type(self).__name__} callback received monitor={self.monitor}, but cnnlab "
                    f"(like Keras) isn't able to automatically determine whether that metric should "
                    f"be maximized or minimized. Pass `mode='max'` in order to monitor based on the "
                    f"highest metric value, or pass `mode='min'` in order to use the lowest value."
                )
        return self._direction

    def improved(self, current, best):
        if best is None:
            return True
        if self.direction() == "min":
            return current < best - self.min_delta
        return current > best + self.min_delta

    def current(self, logs):
        value = (logs or {}).get(self.monitor)
        if value is None:
            warnings.warn(
                f"{type(self).__name__}: metric '{self.monitor}' is not available. "
                f"Available metrics are: {', '.join(sorted(logs or {}))}",
                stacklevel=3,
            )
        return value


class EarlyStopping(_Monitor):
    def __init__(
        self,
        monitor="val_loss",
        min_delta=0,
        patience=0,
        verbose=0,
        mode="auto",
        baseline=None,
        restore_best_weights=False,
        start_from_epoch=0,
    ):
        super().__init__(monitor, mode, min_delta)
        self.patience, self.verbose, self.baseline = patience, verbose, baseline
        self.restore_best_weights, self.start_from_epoch = (
            restore_best_weights,
            start_from_epoch,
        )

    def on_train_begin(self, logs=None):
        self.wait, self.stopped_epoch, self.best_weights, self.best_epoch = (
            0,
            0,
            None,
            0,
        )
        self.best = None  # Keras 3: the first monitored value is an improvement

    def on_epoch_end(self, epoch, logs=None):
        self.direction()  # as Keras: an undecidable mode="auto" fails at the first epoch's end
        current = self.current(logs)
        if current is None or epoch < self.start_from_epoch:
            return
        if self.restore_best_weights and self.best_weights is None:
            self.best_weights = self.model.get_weights()
        self.wait += 1
        if self.improved(current, self.best):
            self.best, self.best_epoch = current, epoch
            if self.restore_best_weights:
                self.best_weights = self.model.get_weights()
            # Patience restarts only once the baseline is beaten, as in Keras.
            if self.baseline is None or self.improved(current, self.baseline):
                self.wait = 0
            return
        if self.wait >= self.patience and epoch > 0:
            self.stopped_epoch = epoch
            self.model.stop_training = True

    def on_train_end(self, logs=None):
        if self.stopped_epoch and self.verbose:
            print(f"Epoch {self.stopped_epoch + 1}: early stopping")
        if self.restore_best_weights and self.best_weights is not None:
            if self.verbose:
                print(
                    f"Restoring model weights from the end of the best epoch: {self.best_epoch + 1}."
                )
            self.model.set_weights(self.best_weights)


class ModelCheckpoint(_Monitor):
    """Save the model (or its weights) after each epoch or every ``save_freq`` batches, as Keras 3 does.

    ``filepath`` may hold ``{epoch}`` (1-based), ``{batch}`` (with an integer ``save_freq``)
    and log keys: ``"ckpt-{epoch:02d}-{val_loss:.2f}.keras"``. It must end in ``.keras``
    for the whole model, or, with ``save_weights_only=True``, in ``.weights.h5`` (Keras's
    weights format; cnnlab also writes ``.safetensors``). With ``save_best_only`` the file
    is written only when ``monitor`` improves on the best so far (starting from
    ``initial_value_threshold``); when ``monitor`` is missing from the logs Keras warns and
    saves anyway, and so does cnnlab. Every write is atomic.
    """

    def __init__(
        self,
        filepath,
        monitor="val_loss",
        verbose=0,
        save_best_only=False,
        save_weights_only=False,
        mode="auto",
        save_freq="epoch",
        initial_value_threshold=None,
    ):
        super().__init__(monitor, mode)
        self.filepath, self.verbose = os.fspath(filepath), verbose
        self.save_best_only, self.save_weights_only = save_best_only, save_weights_only
        self.best = initial_value_threshold
        if save_freq != "epoch" and (
            not isinstance(save_freq, int)
            or isinstance(save_freq, bool)
            or save_freq < 1
        ):
            raise ValueError(
                f"Unrecognized save_freq: {save_freq!r}. Expected save_freq are 'epoch' or "
                f"positive integer values"
            )
        self.save_freq = save_freq
        if save_weights_only:
            if not self.filepath.endswith((".weights.h5", ".safetensors")):
                raise ValueError(
                    "When using `save_weights_only=True` in `ModelCheckpoint`, the filepath provided "
                    "must end in `.weights.h5` (Keras weights format) or `.safetensors`. "
                    f"Received: filepath={self.filepath}"
                )
        elif not self.filepath.endswith(".keras"):
            raise ValueError(
                "The filepath provided must end in `.keras` (Keras model format); for weights alone "
                "pass save_weights_only=True and a `.weights.h5` or `.safetensors` filepath. "
                f"Received: filepath={self.filepath}"
            )
        self._batches_seen_since_last_saving = 0
        self._last_batch_seen = None
        self._current_epoch = 0

    def on_epoch_begin(self, epoch, logs=None):
        self._current_epoch = epoch

    def on_train_batch_end(self, batch, logs=None):
        if self.save_freq == "epoch":
            return
        if (
            self._last_batch_seen is None or batch <= self._last_batch_seen
        ):  # a new epoch
            added = batch + 1
        else:
            added = batch - self._last_batch_seen
        self._batches_seen_since_last_saving += added
        self._last_batch_seen = batch
        if self._batches_seen_since_last_saving >= self.save_freq:
            self._batches_seen_since_last_saving = 0
            self._save(self._current_epoch, batch, logs)

    def on_epoch_end(self, epoch, logs=None):
        if self.save_best_only:
            self.direction()
        if self.save_freq == "epoch":
            self._save(epoch, None, logs)

    def _file_path(self, epoch, batch, logs):
        try:
            if batch is None or "batch" in logs:
                return self.filepath.format(epoch=epoch + 1, **logs)
            return self.filepath.format(epoch=epoch + 1, batch=batch + 1, **logs)
        except KeyError as e:
            raise KeyError(
                f'Failed to format this callback filepath: "{self.filepath}". Reason: {e}'
            ) from None

    def _should_save(self, epoch, logs, path):
        if not self.save_best_only:
            if self.verbose > 0:
                print(f"\nEpoch {epoch + 1}: saving model to {path}")
            return True
        current = logs.get(self.monitor)
        if current is None:
            warnings.warn(
                f"Can save best model only with {self.monitor} available.", stacklevel=3
            )
            return True
        best = "None" if self.best is None else f"{self.best:.5f}"
        if self.improved(current, self.best):
            if self.verbose > 0:
                print(
                    f"\nEpoch {epoch + 1}: {self.monitor} improved from {best} to {current:.5f}, "
                    f"saving model to {path}"
                )
            self.best = current
            return True
        if self.verbose > 0:
            print(f"\nEpoch {epoch + 1}: {self.monitor} did not improve from {best}")
        return False

    def _save(self, epoch, batch, logs):
        logs = dict(logs or {})
        path = self._file_path(epoch, batch, logs)
        if not self._should_save(epoch, logs, path):
            return
        if os.path.isdir(path):
            raise OSError(
                f"Please specify a non-directory filepath for ModelCheckpoint. Filepath used is an "
                f"existing directory: {path}"
            )
        directory = os.path.dirname(path)
        if directory:
            os.makedirs(directory, exist_ok=True)
        if self.save_weights_only:
            self.model.save_weights(path, overwrite=True)
        else:
            self.model.save(path, overwrite=True)
        if self.verbose > 0:
            print(f"\nEpoch {epoch + 1}: finished saving model to {path}")


class TerminateOnNaN(Callback):
    """Stop when the loss becomes NaN or infinite, keeping the last good weights.

    Keras 3 only stops (``model.stop_training = True``, or ``raise_error=True``: a
    ``RuntimeError`` that skips every ``on_train_end``). cnnlab also puts back the state
    from before the batch that went bad: the weights and the optimizer's state
    (``iterations`` and slots), so training can continue from there. If those weights
    were themselves already non-finite (a finite loss whose gradient overflowed one
    batch earlier), the state from one batch earlier is put back.

    Cost: before each batch the weights and optimizer slots are copied into two
    preallocated buffers used in turn (no allocation, one memory pass: about 0.2 ms for
    the seed-004 model with Adam, 2.7 MB, some 3 % of a batch-32 step). Nothing is checked
    or copied back until a loss goes bad. (Skipping the optimizer's update on a non-finite
    gradient instead would cost a pass over the gradient all the same, and would miss a loss
    that overflows while its gradient stays finite.)
    """

    def __init__(self, raise_error=False):
        super().__init__()
        self.raise_error = raise_error
        self._snapshots = [None, None]
        self._turn = 0

    def on_train_begin(self, logs=None):
        self._snapshots, self._turn, self._latest = [None, None], 0, None

    def _live_arrays(self):
        arrays = list(self.model.weights)
        optimizer = self.model.optimizer
        if optimizer is not None and optimizer.built:
            arrays += [s for slot in optimizer._slots for s in slot]
        return arrays

    def on_train_batch_begin(self, batch, logs=None):
        arrays = self._live_arrays()
        snap = self._snapshots[self._turn]
        if snap is None or [b.shape for b in snap["buffers"]] != [
            a.shape for a in arrays
        ]:
            snap = {"buffers": [np.empty_like(a) for a in arrays]}
            self._snapshots[self._turn] = snap
        for buffer, a in zip(snap["buffers"], arrays):
            np.copyto(buffer, a)
        optimizer = self.model.optimizer
        snap["optimizer_built"] = optimizer is not None and optimizer.built
        snap["iterations"] = None if optimizer is None else optimizer._iterations
        snap["batch"] = batch
        self._latest = snap
        self._turn ^= 1

    def _restore(self):
        """Put back the newest snapshot whose weights are all finite (or the newest, if none is)."""
        older = (
            self._snapshots[self._turn]
            if self._snapshots[self._turn] is not self._latest
            else None
        )
        n_weights = len(self.model.weights)
        chosen = self._latest
        if (
            not all(np.isfinite(b).all() for b in chosen["buffers"][:n_weights])
            and older is not None
            and all(np.isfinite(b).all() for b in older["buffers"][:n_weights])
        ):
            chosen = older
        for w, buffer in zip(self.model.weights, chosen["buffers"][:n_weights]):
            np.copyto(w, buffer)
        optimizer = self.model.optimizer
        if optimizer is None:
            return
        if chosen["optimizer_built"]:
            slots = [s for slot in optimizer._slots for s in slot]
            for s, buffer in zip(slots, chosen["buffers"][n_weights:]):
                np.copyto(s, buffer)
        elif optimizer.built:
            optimizer.build(self.model.trainable_weights)  # back to its initial state
        optimizer._iterations = chosen["iterations"]

    def on_train_batch_end(self, batch, logs=None):
        loss = (logs or {}).get("loss")
        if loss is None or math.isfinite(loss):
            return
        if getattr(self, "_latest", None) is not None:
            self._restore()
            self._latest = None
        if self.raise_error:
            raise RuntimeError(
                f"NaN or Inf loss encountered at batch {batch}. Loss value: {loss}. "
                f"Terminating training immediately."
            )
        print(f"Batch {batch}: Invalid loss, terminating training")
        self.model.stop_training = True


class BackupAndRestore(Callback):
    """Back up the whole training state so that an interrupted ``fit`` continues exactly (Keras 3's callback).

    At the end of each epoch (``save_freq="epoch"``), or every ``save_freq`` batches, the
    callback writes ``<backup_dir>/backup.safetensors`` atomically: the weights, the
    optimizer's state, the position (epoch, and batch within the epoch), the running loss
    and metric sums, the shuffled order of the current epoch, and the state of every
    random generator (see ``cnnlab.saving.backup``). When ``fit`` starts and a backup
    exists, all of it is restored and training continues from that point: with the same
    data, ``batch_size`` and thread count, the final weights are bit for bit those of a run
    that was never interrupted. Keras restarts an interrupted epoch from its beginning;
    cnnlab continues from the saved batch.

    At the successful end of ``fit`` the backup is deleted (``delete_checkpoint=True``);
    an exception or a kill leaves it. ``double_checkpoint=True`` keeps the previous backup
    too, used if the newest cannot be read. A state whose loss or weights are NaN or
    infinite is never backed up: the previous backup stays. The directory should hold
    nothing else; cnnlab deletes only its own files (and the directory, if that leaves it
    empty), where Keras deletes the whole directory.
    """

    def __init__(
        self,
        backup_dir,
        save_freq="epoch",
        double_checkpoint=False,
        delete_checkpoint=True,
    ):
        super().__init__()
        if not backup_dir:
            raise ValueError("Empty `backup_dir` argument passed")
        if save_freq != "epoch" and (
            not isinstance(save_freq, int)
            or isinstance(save_freq, bool)
            or save_freq < 1
        ):
            raise ValueError(
                f"Invalid value for argument `save_freq`. Received: save_freq={save_freq!r}. "
                f"Expected either 'epoch' or a positive integer value."
            )
        self.backup_dir = os.fspath(backup_dir)
        self.save_freq = save_freq
        self.double_checkpoint = double_checkpoint
        self.delete_checkpoint = delete_checkpoint
        self._path = os.path.join(self.backup_dir, _backup_store().FILENAME)
        self._previous = os.path.join(self.backup_dir, _backup_store().PREVIOUS)
        self._batches_seen_since_last_saving = 0
        #: The point training resumed from in the last fit (None: it started fresh).
        self.restored_from = None

    # ---- restoring --------------------------------------------------------
    def on_train_begin(self, logs=None):
        self.restored_from = None
        self._batches_seen_since_last_saving = 0
        if not self.model.built:
            raise ValueError(
                "To use the BackupAndRestore callback, your model must be built before you call "
                f"`fit()`. Model {self.model} is unbuilt. You can build it beforehand by calling it "
                f"on a batch of data."
            )
        candidates = [p for p in (self._path, self._previous) if os.path.exists(p)]
        if not candidates:
            return
        error = None
        for path in candidates:
            try:
                apply, point, extra = _backup_store().read(path, self.model)
            except CnnlabError as e:
                error = error or e
                continue
            apply()
            self._batches_seen_since_last_saving = int(
                extra.get("batches_since_save", 0) or 0
            )
            from . import parallel

            if extra.get("threads") not in (None, parallel.get_num_threads()):
                warnings.warn(
                    f"BackupAndRestore: the backup was taken with {extra['threads']} threads, this run has "
                    f"{parallel.get_num_threads()}; a batch split across another number of threads sums "
                    f"its gradient in another order, so the result will not be bit for bit that of an "
                    f"uninterrupted run. cnnlab.model.parallel.set_num_threads({extra['threads']}) restores "
                    f"the split.",
                    stacklevel=2,
                )
            self.model.fit_state.resume_point = point  # fit continues from here
            self.restored_from = point
            return
        raise error

    # ---- saving -------------------------------------------------------------
    def on_train_batch_end(self, batch, logs=None):
        if self.save_freq == "epoch":
            return
        self._batches_seen_since_last_saving += 1
        if self._batches_seen_since_last_saving < self.save_freq:
            return
        self._batches_seen_since_last_saving = 0
        state = self.model.fit_state
        epoch, step, order, loss_sum, seen = (
            state.epoch,
            state.step,
            state.order,
            state.loss_sum,
            state.seen,
        )
        steps = self.params.get("steps")
        for m in self.model.metrics:
            if not isinstance(m, metrics_mod.Mean) or not float(m.count).is_integer():
                raise CnnlabError(
                    f"BackupAndRestore(save_freq={self.save_freq}): the metric '{m.name}' "
                    f"({type(m).__name__}) is not a running mean over samples, and cnnlab cannot yet "
                    f"back up its state in the middle of an epoch. Use save_freq='epoch'. "
                    f"Received: metrics={[m.name for m in self.model.metrics]}"
                )
        metrics = [(m.name, m.total, int(m.count)) for m in self.model.metrics]
        self._save(
            _backup_store().ResumePoint(
                epoch=epoch,
                step=step + 1,
                order=order,
                steps=steps,
                loss_sum=loss_sum,
                seen=seen,
                metrics=metrics,
                output_loss_sums=list(state.output_loss_sums),
            ),
            logs,
        )

    def on_epoch_end(self, epoch, logs=None):
        if self.save_freq == "epoch":
            self._save(_backup_store().ResumePoint(epoch=epoch + 1), logs)

    def _save(self, point, logs):
        loss = (logs or {}).get("loss")
        if (
            loss is not None and not math.isfinite(loss)
        ) or not _backup_store().finite_state(self.model):
            # Never replace a good backup with a poisoned state.
            warnings.warn(
                f"BackupAndRestore: the loss or the weights are NaN or infinite; not backing this "
                f"state up (the previous backup in {self.backup_dir}, if any, is kept).",
                stacklevel=2,
            )
            return
        os.makedirs(self.backup_dir, exist_ok=True)
        if self.double_checkpoint and os.path.exists(self._path):
            os.replace(self._path, self._previous)
        from . import parallel

        _backup_store().write(
            self._path,
            self.model,
            point,
            extra={
                "batches_since_save": self._batches_seen_since_last_saving,
                "threads": parallel.get_num_threads(),
            },
        )

    def on_train_end(self, logs=None):
        if not self.delete_checkpoint:
            return
        names = {os.path.basename(self._path), os.path.basename(self._previous)}
        try:
            # ...and the temporary files of saves that a kill interrupted (atomic.atomic_write's names).
            names |= {
                n
                for n in os.listdir(self.backup_dir)
                if n.endswith(".tmp")
                and any(
                    n.startswith(f".{own}.")
                    for own in (_backup_store().FILENAME, _backup_store().PREVIOUS)
                )
            }
        except OSError:
            pass
        for name in names:
            try:
                os.remove(os.path.join(self.backup_dir, name))
            except FileNotFoundError:
                pass
        try:
            os.rmdir(self.backup_dir)
        except OSError:
            pass  # not empty (someone else's files) or already gone


class LambdaCallback(Callback):
    def __init__(
        self,
        on_epoch_begin=None,
        on_epoch_end=None,
        on_train_begin=None,
        on_train_end=None,
        on_train_batch_begin=None,
        on_train_batch_end=None,
        **kwargs,
    ):
        super().__init__()
        hooks = dict(
            on_epoch_begin=on_epoch_begin,
            on_epoch_end=on_epoch_end,
            on_train_begin=on_train_begin,
            on_train_end=on_train_end,
            on_train_batch_begin=on_train_batch_begin,
            on_train_batch_end=on_train_batch_end,
            **kwargs,
        )
        for name, fn in hooks.items():
            if fn is not None:
                setattr(self, name, fn)
