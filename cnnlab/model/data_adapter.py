"""What ``fit``, ``evaluate`` and ``predict`` read batches from, as Keras 3's data
adapters and ``EpochIterator`` do it.

Inputs: NumPy arrays (``x``, ``y``, ``sample_weight``), a :class:`cnnlab.data.Dataset`
(``image_dataset_from_directory``'s), a Python generator (or any iterator), or a
:class:`cnnlab.data.py_dataset.PyDataset`. Every batch comes out as
``(x, y, sample_weight)``; a data set or generator may yield ``x``, ``(x,)``,
``(x, y)`` or ``(x, y, sample_weight)``. ``class_weight`` becomes per-sample weights
(``class_weight[label]``, 1.0 for classes it does not name; one-hot labels by their
argmax), exactly as Keras converts it; it cannot be combined with sample weights.

Steps, as Keras's ``EpochIterator`` counts them:

* without ``steps_per_epoch`` an epoch is one pass: ``ceil(N / batch_size)`` batches
  of arrays, ``len(dataset)`` batches, or a generator until it stops;
* with ``steps_per_epoch`` the iterator carries on from one epoch into the next
  (a generator is not restarted); data of known length is restarted only when it
  has been used up, so an epoch may end early at that point ("Your input ran out of
  data" warning) and the next one starts again from the beginning. A generator that
  runs out ends the epoch there with the same warning; later epochs get only the two
  batches Keras peeked at before training (:class:`GeneratorAdapter`). Keras also
  warns when a generator without ``steps_per_epoch`` ends, and so does cnnlab.
"""

from __future__ import annotations

import collections
import itertools
import math
import warnings
from concurrent.futures import ThreadPoolExecutor

import numpy as np

from .. import random as cnn_random
from ..backend import floatx
from ..data.dataset import INFINITE, UNKNOWN, Dataset
from ..data.py_dataset import PyDataset
from ..errors import CnnlabError


class InputRanOutWarning(UserWarning):
    """The data ran out before ``steps_per_epoch`` (or ``steps``) batches."""


RAN_OUT = (
    "Your input ran out of data; interrupting training. Make sure that your dataset or generator can generate "
    "at least `steps_per_epoch * epochs` batches. You may need to use the `.repeat()` function when building "
    "your dataset."
)


# --------------------------------------------------------------------------- batches


def unpack_x_y_sample_weight(data, where="fit"):
    """``x``, ``(x,)``, ``(x, y)`` or ``(x, y, sample_weight)`` -> ``(x, y, sample_weight)``."""
    if isinstance(data, list):
        data = tuple(data)
    if not isinstance(data, tuple):
        return data, None, None
    if len(data) == 1:
        return data[0], None, None
    if len(data) == 2:
        return data[0], data[1], None
    if len(data) == 3:
        return data
    raise CnnlabError(
        f"{where}(): Data is expected to be in format `x`, `(x,)`, `(x, y)`, or `(x, y, sample_weight)`, "
        f"found a tuple of {len(data)} parts. Received: {str(data)[:100]}"
    )


def class_weight_to_sample_weights(y, class_weight):
    """Keras's conversion: one weight per sample, ``class_weight.get(label, 1.0)``."""
    labels = np.asarray(y)
    if labels.ndim > 1:
        labels = labels.argmax(axis=-1) if labels.shape[-1] != 1 else labels[..., 0]
    labels = np.round(labels).astype(np.int32).reshape(len(labels))
    weights = np.ones(len(labels), dtype=floatx)
    for i, label in enumerate(labels.tolist()):
        weights[i] = class_weight.get(label, 1.0)
    return weights


def check_class_weight(class_weight, where):
    if class_weight is None:
        return None
    if not isinstance(class_weight, dict):
        raise CnnlabError(
            f"{where}(): class_weight must be a dict mapping class indices to weights, e.g. "
            f"{{0: 1.0, 1: 5.0}}. Received: class_weight={class_weight!r}"
        )
    return {int(k): float(v) for k, v in class_weight.items()}


def _standardize(batch, class_weight, where):
    x, y, sw = unpack_x_y_sample_weight(batch, where)
    if class_weight is not None and y is not None:
        if sw is not None:
            raise CnnlabError(
                f"{where}(): You cannot specify `class_weight` and `sample_weight` at the same time "
                f"(the data yields (x, y, sample_weight) batches). Received: class_weight={class_weight}"
            )
        sw = class_weight_to_sample_weights(y, class_weight)
    return x, y, sw


# --------------------------------------------------------------------------- adapters


def epoch_order(rng, n, batch_size, shuffle):
    """The order of the samples in one epoch: a permutation (``shuffle=True``), the data's order (``False``),
    or, with ``"batch"`` as Keras's array adapter does it, the batches in order, each one's samples shuffled."""
    if shuffle == "batch":
        return np.concatenate(
            [
                start + rng.permutation(min(batch_size, n - start))
                for start in range(0, n, batch_size)
            ]
        )
    return rng.permutation(n) if shuffle else np.arange(n)


class ArrayAdapter:
    """Arrays in memory: shuffled (or not) slices of ``batch_size`` samples per epoch.
    ``x``: a list of arrays (one per model input); ``y``: a list (one per output, ``None``
    for an output without labels) or ``None``; batches come out as the same lists."""

    def __init__(self, x, y, sample_weight, batch_size, steps, shuffle, class_weight):
        self.x, self.y = x, y
        n = len(x[0])
        if batch_size is None:
            batch_size = math.ceil(n / steps) if steps else 32
        self.batch_size = int(batch_size)
        if class_weight is not None and y is not None:
            if sample_weight is not None:
                raise CnnlabError(
                    "fit(): You cannot `class_weight` and `sample_weight` at the same time. "
                    f"Received: class_weight={class_weight}"
                )
            sample_weight = class_weight_to_sample_weights(y[0], class_weight)
        self.sample_weight = sample_weight
        self.shuffle = shuffle
        self.num_batches = math.ceil(n / self.batch_size)
        self.order = None  # the current epoch's order (BackupAndRestore saves it)
        self.resume_order, self.first_step = (
            None,
            0,
        )  # set to continue an interrupted epoch

    def get_iterator(self):
        if self.resume_order is not None:
            order = self.resume_order
        else:
            n = len(self.x[0])
            order = epoch_order(
                cnn_random.generator(), n, self.batch_size, self.shuffle
            )
        first, self.resume_order, self.first_step = self.first_step, None, 0
        self.order = order
        return self._batches(
            order, first
        )  # the order is drawn now, not at the first batch

    def _batches(self, order, first):
        for step in range(first, self.num_batches):
            idx = order[step * self.batch_size : (step + 1) * self.batch_size]
            yield (
                [v[idx] for v in self.x],
                None
                if self.y is None
                else [None if v is None else v[idx] for v in self.y],
                None if self.sample_weight is None else self.sample_weight[idx],
            )

    def on_epoch_begin(self):
        pass

    def on_epoch_end(self):
        pass


class DatasetAdapter:
    """A :class:`~cnnlab.data.Dataset`: each pass iterates it again (its own shuffling applies)."""

    def __init__(self, dataset, class_weight, where):
        self.dataset, self.class_weight, self.where = dataset, class_weight, where
        card = dataset.cardinality()
        self.num_batches = None if card in (INFINITE, UNKNOWN) else card

    def get_iterator(self):
        for batch in self.dataset:
            yield _standardize(batch, self.class_weight, self.where)

    def on_epoch_begin(self):
        pass

    def on_epoch_end(self):
        pass


class GeneratorAdapter:
    """A Python generator or iterator, read once. Keras looks at its first two batches
    before training (to learn their shapes) and puts them back in front of the
    generator on every new pass, so after the generator is used up each new pass
    still yields those two batches; cnnlab does the same, for the same step counts."""

    num_batches = None
    PEEKED = 2  # Keras's NUM_BATCHES_FOR_TENSOR_SPEC

    def __init__(self, generator, class_weight, where):
        self._peeked = list(itertools.islice(generator, self.PEEKED))
        if not self._peeked:
            raise CnnlabError(
                f"{where}(): When passing a Python generator to a Keras model, the generator must yield "
                f"at least one batch. Received an empty generator."
            )
        if not isinstance(self._peeked[0], tuple):
            raise CnnlabError(
                f"{where}(): When passing a Python generator to a Keras model, the generator must return "
                f"a tuple, either (input,) or (inputs, targets) or (inputs, targets, sample_weights). "
                f"Received: {type(self._peeked[0]).__name__}"
            )
        self.first = self._peeked[0]
        self._generator = generator
        self.class_weight, self.where = class_weight, where

    def get_iterator(self):
        for batch in itertools.chain(self._peeked, self._generator):
            yield _standardize(batch, self.class_weight, self.where)

    def on_epoch_begin(self):
        pass

    def on_epoch_end(self):
        pass


class PyDatasetAdapter:
    """A :class:`PyDataset`: ``ds[i]`` for each batch index (shuffled when ``shuffle``),
    fetched ahead in ``workers`` threads when ``workers > 1``."""

    def __init__(self, dataset, class_weight, shuffle, where):
        self.dataset, self.class_weight, self.shuffle, self.where = (
            dataset,
            class_weight,
            shuffle,
            where,
        )
        self.workers, self.queue = dataset._settings()
        self.num_batches = dataset.num_batches

    def _indices(self):
        if self.num_batches is None:
            return itertools.count()
        indices = list(range(self.num_batches))
        if self.shuffle:
            cnn_random.generator().shuffle(indices)
        return indices

    def get_iterator(self):
        indices = self._indices()
        if self.workers <= 1:
            for i in indices:
                yield _standardize(self.dataset[i], self.class_weight, self.where)
            return
        pool = ThreadPoolExecutor(
            max_workers=self.workers, thread_name_prefix="cnnlab-pydataset"
        )
        pending: collections.deque = collections.deque()
        try:
            for i in indices:
                pending.append(pool.submit(self.dataset.__getitem__, i))
                if len(pending) >= self.queue:
                    yield _standardize(
                        pending.popleft().result(), self.class_weight, self.where
                    )
            while pending:
                yield _standardize(
                    pending.popleft().result(), self.class_weight, self.where
                )
        finally:
            pool.shutdown(wait=True, cancel_futures=True)

    def on_epoch_begin(self):
        self.dataset.on_epoch_begin()

    def on_epoch_end(self):
        self.dataset.on_epoch_end()


def is_stream(x):
    """Whether ``x`` is a data set, generator or PyDataset rather than arrays."""
    return isinstance(x, (Dataset, PyDataset)) or (
        hasattr(x, "__next__") and hasattr(x, "__iter__")
    )


def _refuse(arg, description, kind, where):
    raise CnnlabError(
        f"{where}(): When providing `x` as a {kind}, `{arg}` should not be passed. Instead, {description} "
        f"should be included as part of the {kind}. Received: {arg} is not None"
    )


def get_adapter(
    x,
    y=None,
    sample_weight=None,
    batch_size=None,
    steps=None,
    shuffle=False,
    class_weight=None,
    where="fit",
):
    """The adapter for ``x`` (see the module docstring); arrays must already be checked arrays."""
    class_weight = check_class_weight(class_weight, where)
    if not is_stream(x):
        return ArrayAdapter(
            x, y, sample_weight, batch_size, steps, shuffle, class_weight
        )
    kind = (
        "cnnlab Dataset"
        if isinstance(x, Dataset)
        else "PyDataset"
        if isinstance(x, PyDataset)
        else "Python generator"
    )
    if y is not None:
        _refuse("y", "the targets", kind, where)
    if sample_weight is not None:
        _refuse("sample_weights", "the sample weights", kind, where)
    if isinstance(x, Dataset):
        return DatasetAdapter(x, class_weight, where)
    if isinstance(x, PyDataset):
        return PyDatasetAdapter(
            x, class_weight, shuffle and x.num_batches is not None, where
        )
    return GeneratorAdapter(x, class_weight, where)


# --------------------------------------------------------------------------- epochs


class EpochIterator:
    """Keras's ``EpochIterator``: ``epoch()`` yields ``(step, (x, y, sample_weight))`` for one epoch."""

    def __init__(self, adapter, steps_per_epoch=None):
        if steps_per_epoch is not None and (
            isinstance(steps_per_epoch, bool) or int(steps_per_epoch) < 1
        ):
            raise CnnlabError(
                f"steps_per_epoch must be a positive integer or None. "
                f"Received: steps_per_epoch={steps_per_epoch!r}"
            )
        self.adapter = adapter
        self.steps_per_epoch = None if steps_per_epoch is None else int(steps_per_epoch)
        self._num_batches = adapter.num_batches
        self._iterator = None
        self._seen = 0

    @property
    def num_batches(self):
        """Steps in an epoch as far as known (``None``: until the data stops)."""
        return self.steps_per_epoch or self._num_batches

    def _ran_out(self):
        warnings.warn(RAN_OUT, InputRanOutWarning, stacklevel=4)

    def epoch(self, first_step=0):
        """One epoch's ``(step, batch)`` pairs; ``first_step`` > 0 continues an interrupted
        epoch of arrays (BackupAndRestore), whose adapter starts at that batch."""
        self.adapter.on_epoch_begin()
        steps = self.steps_per_epoch or self._num_batches or -1
        if steps > 0:
            if self._iterator is None or self.steps_per_epoch is None:
                self._iterator = iter(self.adapter.get_iterator())
                self._seen = first_step
            for step in range(first_step, steps):
                if self._num_batches and self._seen >= self._num_batches:
                    if self.steps_per_epoch:
                        self._ran_out()
                    break
                self._seen += 1
                try:
                    batch = next(self._iterator)
                except StopIteration:
                    if self._num_batches is None:
                        self._num_batches = (
                            self._seen
                        )  # Keras counts the step that found no batch
                    self._ran_out()
                    self._iterator = None
                    break
                yield step, batch
            if self._num_batches and self._seen >= self._num_batches:
                self._iterator = None  # used up: the next epoch starts a new pass
                self._seen = 0
        else:
            iterator = iter(self.adapter.get_iterator())
            for step in itertools.count():
                try:
                    batch = next(iterator)
                except StopIteration:  # Keras warns here too, and counts the empty step
                    if self._num_batches is None:
                        self._num_batches = step + 1
                    self._ran_out()
                    break
                yield step, batch
        self.adapter.on_epoch_end()


class SplitArrays(tuple):
    """``(xs, ys, sample_weight)`` held out by ``validation_split`` (already checked lists)."""


def train_validation_split(x, y, sample_weight, validation_split):
    """Keras's split for arrays (lists of per-input / per-output arrays): the last
    ``validation_split`` of the samples, before shuffling."""
    if is_stream(x):
        raise CnnlabError(
            f"fit(): `validation_split` is only supported for Tensors or NumPy arrays, not for a "
            f"{type(x).__name__}. Pass validation_data= (for example the validation subset of "
            f"image_dataset_from_directory). Received: validation_split={validation_split}"
        )
    if not 0 < validation_split < 1:
        raise CnnlabError(
            f"fit(): validation_split must be in (0, 1). Received: {validation_split}"
        )
    split = int(
        len(x[0]) * (1 - validation_split)
    )  # Keras takes the last samples, before shuffling

    def part(arrays, sl):
        return [None if v is None else v[sl] for v in arrays]

    head, tail = slice(None, split), slice(split, None)
    val = SplitArrays(
        (
            part(x, tail),
            part(y, tail),
            None if sample_weight is None else sample_weight[tail],
        )
    )
    return (
        part(x, head),
        part(y, head),
        None if sample_weight is None else sample_weight[head],
    ), val
