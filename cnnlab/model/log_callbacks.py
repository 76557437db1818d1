"""Callbacks that record training, as Keras 3 writes them: ``CSVLogger`` and ``TensorBoard``."""

from __future__ import annotations

import collections.abc
import csv
import importlib
import json
import os
import time

import numpy as np

from ..errors import CnnlabError
from . import files
from .callbacks import Callback


class CSVLogger(Callback):
    """One row per epoch: ``epoch`` (0-based) and every log key, sorted, as Keras writes it.

    The columns are fixed at the first epoch; if that epoch had no ``val_`` keys, Keras adds a
    ``val_`` column for every key anyway (filled with ``NA`` when missing), and so does cnnlab.
    ``append=True`` continues an existing file (writing the header only if the file is empty).
    Rows end in ``\\r\\n`` (the csv module's excel dialect, which Keras uses).
    """

    def __init__(self, filename, separator=",", append=False):
        super().__init__()
        self.sep, self.filename, self.append = separator, os.fspath(filename), append
        self.writer, self.keys, self.append_header, self.csv_file = (
            None,
            None,
            True,
            None,
        )

    def on_train_begin(self, logs=None):
        if self.append:
            if os.path.exists(self.filename):
                with open(self.filename) as f:
                    self.append_header = not bool(len(f.readline()))
            mode = "a"
        else:
            mode = "w"
        if self.csv_file and not self.csv_file.closed:
            self.csv_file.close()
        self.csv_file = open(self.filename, mode)
        self.writer, self.keys = None, None

    @staticmethod
    def _value(v):
        if isinstance(v, str):
            return v
        if isinstance(v, collections.abc.Iterable) and not (
            isinstance(v, np.ndarray) and v.ndim == 0
        ):
            return f'"[{", ".join(map(str, v))}]"'
        return v

    def on_epoch_end(self, epoch, logs=None):
        logs = logs or {}
        if self.keys is None:
            self.keys = sorted(logs)
            if self.keys and not any(k.startswith("val_") for k in self.keys):
                self.keys += [f"val_{k}" for k in self.keys]
        if not self.writer:
            sep = self.sep

            class Dialect(csv.excel):
                delimiter = sep

            self.writer = csv.DictWriter(
                self.csv_file, fieldnames=["epoch"] + self.keys, dialect=Dialect
            )
            if self.append_header:
                self.writer.writeheader()
        row = {"epoch": epoch, **{k: self._value(logs.get(k, "NA")) for k in self.keys}}
        self.writer.writerow(row)
        self.csv_file.flush()

    def on_train_end(self, logs=None):
        if self.csv_file and not self.csv_file.closed:
            self.csv_file.close()
        self.writer = None


class TensorBoard(Callback):
    """TensorBoard logs as Keras 3 writes them (``log_dir/train`` and ``log_dir/validation``):

    * at each epoch's end, ``epoch_<key>`` for every log key in ``train/`` (with ``epoch_learning_rate``,
      the optimizer's current rate), the ``val_`` keys without their prefix in ``validation/``;
    * after each validation, ``evaluation_<key>_vs_iterations`` in ``validation/`` at the update count;
    * with ``update_freq="batch"`` or an integer n, ``batch_<key>`` every n batches in ``train/``;
    * every ``histogram_freq`` epochs, a histogram of every weight (``<layer>/<weight>/histogram``) and,
      with ``write_images``, the weights as images (a conv kernel's first three filters, a dense kernel,
      a bias), clipped to [0, 1] as ``tf.summary.image`` does;
    * ``write_graph``: the model's JSON config for TensorBoard's graph dashboard.

    The files are written with the ``tensorboard`` package (``pip install cnnlab[tensorboard]``).
    ``profile_batch`` and ``embeddings_freq`` are refused (no profiler and no Embedding layer in cnnlab,
    and Keras's torch backend refuses profiling too).
    """

    def __init__(
        self,
        log_dir="logs",
        histogram_freq=0,
        write_graph=True,
        write_images=False,
        write_steps_per_second=False,
        update_freq="epoch",
        profile_batch=0,
        embeddings_freq=0,
        embeddings_metadata=None,
    ):
        super().__init__()
        from .tb_events import require_tensorboard

        require_tensorboard()  # fail at construction, not in the middle of fit
        if profile_batch:
            raise CnnlabError(
                f"TensorBoard: profiling is not available in cnnlab (nor with Keras's torch backend). "
                f"Received: profile_batch={profile_batch} (must be 0)"
            )
        if embeddings_freq or embeddings_metadata is not None:
            raise CnnlabError(
                f"TensorBoard: embeddings are for Embedding layers, which cnnlab does not have. "
                f"Received: embeddings_freq={embeddings_freq}"
            )
        if (
            update_freq != "epoch"
            and update_freq != "batch"
            and not (
                isinstance(update_freq, int)
                and not isinstance(update_freq, bool)
                and update_freq > 0
            )
        ):
            raise ValueError(
                f"TensorBoard: update_freq must be 'epoch', 'batch' or a positive integer. "
                f"Received: update_freq={update_freq!r}"
            )
        self.log_dir = os.fspath(log_dir)
        self.histogram_freq, self.write_graph, self.write_images = (
            histogram_freq,
            write_graph,
            write_images,
        )
        self.write_steps_per_second = write_steps_per_second
        self.update_freq = 1 if update_freq == "batch" else update_freq
        self._writers = {}
        self._global_train_batch = 0
        self._previous_epoch_iterations = 0

    def _writer(self, which):
        if which not in self._writers:
            from .tb_events import EventWriter

            self._writers[which] = EventWriter(
                os.path.join(
                    self.log_dir, "train" if which == "train" else "validation"
                )
            )
        return self._writers[which]

    def set_model(self, model):
        self.model = model
        self._writers = {}
        if self.write_graph and getattr(model, "built", False):
            files.saving()  # model/ reaches saving/ only through files.py
            keras_config = importlib.import_module("cnnlab.saving.keras_config")
            self._writer("train").model_config(
                "keras",
                json.dumps(
                    keras_config.serialize_model(model, include_compile=False),
                    default=str,
                ),
            )

    def on_train_begin(self, logs=None):
        self._global_train_batch = 0
        self._previous_epoch_iterations = 0

    def on_epoch_begin(self, epoch, logs=None):
        self._epoch_start = time.time()
        self._previous_epoch_iterations = self.model.optimizer.iterations

    def on_train_batch_begin(self, batch, logs=None):
        self._global_train_batch += 1
        self._batch_start = time.time()

    def on_train_batch_end(self, batch, logs=None):
        if self.update_freq == "epoch" or self._global_train_batch % self.update_freq:
            return
        writer, step = self._writer("train"), self._global_train_batch
        if self.write_steps_per_second:
            writer.scalar(
                "batch_steps_per_second",
                1.0 / max(time.time() - self._batch_start, 1e-9),
                step,
            )
        for name, value in (logs or {}).items():
            writer.scalar(f"batch_{name}", value, step)

    def on_test_end(self, logs=None):
        if self.model.optimizer is not None:
            writer = self._writer("validation")
            for name, value in (logs or {}).items():
                writer.scalar(
                    f"evaluation_{name}_vs_iterations",
                    value,
                    self.model.optimizer.iterations,
                )

    def on_epoch_end(self, epoch, logs=None):
        logs = logs or {}
        if logs:
            train = {k: v for k, v in logs.items() if not k.startswith("val_")}
            val = {k[4:]: v for k, v in logs.items() if k.startswith("val_")}
            if self.model.optimizer is not None:
                train["learning_rate"] = float(
                    np.float32(self.model.optimizer.learning_rate)
                )
            if self.write_steps_per_second:
                done = self.model.optimizer.iterations - self._previous_epoch_iterations
                train["steps_per_second"] = done / max(
                    time.time() - self._epoch_start, 1e-9
                )
            for name, value in train.items():
                self._writer("train").scalar(f"epoch_{name}", value, epoch)
            for name, value in val.items():
                self._writer("validation").scalar(f"epoch_{name}", value, epoch)
        if self.histogram_freq and epoch % self.histogram_freq == 0:
            self._log_weights(epoch)
        for writer in self._writers.values():
            writer.flush()

    def _log_weights(self, epoch):
        writer = self._writer("train")
        for layer in self.model.layers:
            for name, weight in zip(layer.weight_names, layer.weights):
                tag = f"{layer.name}/{name}"
                writer.histogram(f"{tag}/histogram", weight, epoch)
                if self.write_images:
                    images = self._as_images(weight)
                    if images is not None:
                        writer.images(f"{tag}/image", images, epoch)

    @staticmethod
    def _as_images(weight):
        """Keras's ``_log_weight_as_image``: ``(n, h, w)`` grayscale images, or None when Keras writes none."""
        w = np.squeeze(weight)
        if w.ndim == 1:  # a bias: one row
            return w.reshape(1, 1, -1)
        if w.ndim == 2:  # a dense kernel, wider than tall
            return (w.T if w.shape[0] > w.shape[1] else w)[None]
        if w.ndim == 3:  # a conv kernel with one input channel: its filters
            return np.transpose(w, (2, 0, 1))
        return None  # (Keras writes no image for 4-D kernels)

    def on_train_end(self, logs=None):
        for writer in self._writers.values():
            writer.close()
        self._writers = {}
