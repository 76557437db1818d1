"""A streaming data set with ``tf.data.Dataset``'s chains: the object
``image_dataset_from_directory`` returns.

A :class:`Dataset` is a recipe, not data: iterating it runs the recipe
(read the files, decode, resize, batch) and keeps only what the next steps need,
so a folder larger than memory trains with flat memory. Each method returns a new
data set and leaves the old one as it was, as in ``tf.data``:

* ``take(n)``, ``skip(n)``, ``repeat(count)``, ``filter(predicate)``;
* ``map(fn, num_parallel_calls=None)``: ``fn(*element)`` for tuple elements; with
  ``num_parallel_calls`` (a number or :data:`AUTOTUNE`) it runs in a pool of
  background threads, order kept (Pillow's decoders and NumPy release the GIL);
* ``batch(n, drop_remainder=False)`` stacks elements (tuples and dicts part by
  part), ``unbatch()`` splits them again;
* ``shuffle(buffer_size, seed=None, reshuffle_each_iteration=True)``: tf.data's
  buffer shuffle (a uniform pick from a buffer of ``buffer_size`` elements), a new
  order on each pass unless told otherwise;
* ``cache()``: the first complete pass is kept in memory and later passes read it;
* ``prefetch(n)``: a background thread keeps ``n`` elements ready ahead of the
  consumer, so the next batch is decoded while the model trains on this one;
* ``len(ds)`` / ``cardinality()``: the number of elements (batches after
  ``batch``), :data:`INFINITE` or :data:`UNKNOWN` as in ``tf.data``.

Elements are NumPy arrays, or tuples / dicts of them (``(images, labels)``).
Randomness: ``shuffle`` without a seed draws from cnnlab's generator
(``keras.utils.set_random_seed``); the orders are not TensorFlow's (different
random numbers), the rules are.
"""

from __future__ import annotations

import collections
import itertools
import math
import queue
import threading
from concurrent.futures import ThreadPoolExecutor
from typing import Any, Callable, Iterable, Iterator

import numpy as np

from .. import random as cnn_random
from ..errors import CnnlabError

#: ``tf.data.AUTOTUNE``: let the pipeline choose (threads: the CPU count; prefetch: 2 elements).
AUTOTUNE = -1
#: ``tf.data.INFINITE_CARDINALITY`` and ``tf.data.UNKNOWN_CARDINALITY``.
INFINITE = -1
UNKNOWN = -2

_AUTOTUNE_PREFETCH = 2


def _threads(n):
    import os

    return max(1, os.cpu_count() or 1) if n == AUTOTUNE else int(n)


def _check_count(value, name, where, minimum=0, allow_auto=False):
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)):
        raise CnnlabError(
            f"Dataset.{where}: {name} must be an integer. Received: {name}={value!r}"
        )
    value = int(value)
    if allow_auto and value == AUTOTUNE:
        return value
    if value < minimum:
        raise CnnlabError(
            f"Dataset.{where}: {name} must be at least {minimum}"
            f"{' (or AUTOTUNE)' if allow_auto else ''}. Received: {name}={value}"
        )
    return value


class Dataset:
    """A re-iterable pipeline of elements. Build one with :meth:`from_tensor_slices`,
    :meth:`from_generator`, :meth:`range` or ``image_dataset_from_directory``."""

    def __init__(self, make_iterator: Callable[[], Iterator], cardinality: int):
        self._make_iterator = make_iterator
        self._cardinality = int(cardinality)

    # ------------------------------------------------------------------ reading

    def __iter__(self) -> Iterator:
        return iter(self._make_iterator())

    def as_numpy_iterator(self) -> Iterator:
        """Elements as NumPy arrays (they already are: this is ``iter``, for tf.data's spelling)."""
        return iter(self)

    def cardinality(self) -> int:
        """The number of elements, :data:`INFINITE` (-1) or :data:`UNKNOWN` (-2)."""
        return self._cardinality

    def __len__(self) -> int:
        if self._cardinality == INFINITE:
            raise TypeError("The dataset is infinite.")
        if self._cardinality == UNKNOWN:
            raise TypeError("The dataset length is unknown.")
        return self._cardinality

    def __repr__(self):
        n = {INFINITE: "infinite", UNKNOWN: "unknown"}.get(
            self._cardinality, self._cardinality
        )
        return f"<Dataset cardinality={n}>"

    # ------------------------------------------------------------------ sources

    @classmethod
    def from_tensor_slices(cls, tensors) -> "Dataset":
        """One element per row of ``tensors`` (an array, or a tuple / dict of arrays of one length)."""
        parts = _flatten(tensors)
        arrays = [np.asarray(p) for p in parts]
        if not arrays or any(a.ndim == 0 for a in arrays):
            raise CnnlabError(
                "Dataset.from_tensor_slices: needs arrays with a first axis to slice. "
                f"Received: shapes {[a.shape for a in arrays]}"
            )
        n = len(arrays[0])
        if any(len(a) != n for a in arrays):
            raise CnnlabError(
                "Dataset.from_tensor_slices: every part must have the same length. "
                f"Received: shapes {[a.shape for a in arrays]}"
            )

        def gen():
            for i in range(n):
                yield _unflatten(tensors, [a[i] for a in arrays])

        return cls(gen, n)

    @classmethod
    def from_generator(
        cls, generator: Callable[[], Iterable], cardinality: int = UNKNOWN
    ) -> "Dataset":
        """Elements from ``generator()`` (called again on each pass)."""
        if not callable(generator):
            raise CnnlabError(
                "Dataset.from_generator: needs a callable that returns an iterator "
                f"(a generator function). Received: {type(generator).__name__}"
            )
        return cls(lambda: iter(generator()), cardinality)

    @classmethod
    def range(cls, *args) -> "Dataset":
        r = range(*args)
        return cls(lambda: iter(r), len(r))

    # ------------------------------------------------------------------ transformations

    def take(self, count: int) -> "Dataset":
        """The first ``count`` elements (all of them for ``count=-1``)."""
        count = _check_count(count, "count", "take", minimum=-1)
        if count == -1:
            return self
        card = self._cardinality
        new = (
            count
            if card == INFINITE
            else (card if card == UNKNOWN else min(card, count))
        )

        def gen():
            with _closing(iter(self)) as it:
                yield from itertools.islice(it, count)

        return Dataset(gen, new)

    def skip(self, count: int) -> "Dataset":
        """All but the first ``count`` elements (``count=-1``: none)."""
        count = _check_count(count, "count", "skip", minimum=-1)
        card = self._cardinality
        if count == -1:
            return Dataset(lambda: iter(()), 0)
        new = card if card in (INFINITE, UNKNOWN) else max(card - count, 0)

        def gen():
            with _closing(iter(self)) as it:
                yield from itertools.islice(it, count, None)

        return Dataset(gen, new)

    def repeat(self, count: int | None = None) -> "Dataset":
        """The data set ``count`` times over (forever for ``None`` or -1)."""
        count = (
            -1 if count is None else _check_count(count, "count", "repeat", minimum=-1)
        )
        card = self._cardinality
        if count == -1:
            new = 0 if card == 0 else (UNKNOWN if card == UNKNOWN else INFINITE)
        else:
            new = card if card in (INFINITE, UNKNOWN) else card * count

        def gen():
            passes = itertools.count() if count == -1 else range(count)
            for _ in passes:
                empty = True
                for element in self:
                    empty = False
                    yield element
                if empty:
                    return

        return Dataset(gen, new)

    def map(
        self,
        map_func: Callable,
        num_parallel_calls: int | None = None,
        deterministic: bool | None = None,
    ) -> "Dataset":
        """``map_func(*element)`` (tuples are spread, as tf.data does) for each element.

        ``num_parallel_calls`` runs it in that many background threads (``AUTOTUNE``:
        one per CPU), keeping the order of the elements."""
        if not callable(map_func):
            raise CnnlabError(
                f"Dataset.map: map_func must be callable. Received: {type(map_func).__name__}"
            )

        def call(element):
            return (
                map_func(*element) if isinstance(element, tuple) else map_func(element)
            )

        if num_parallel_calls is None:

            def gen():
                with _closing(iter(self)) as it:
                    for element in it:
                        yield call(element)
        else:
            workers = _threads(
                _check_count(
                    num_parallel_calls,
                    "num_parallel_calls",
                    "map",
                    minimum=1,
                    allow_auto=True,
                )
            )

            def gen():
                yield from _parallel_map(call, iter(self), workers)

        return Dataset(gen, self._cardinality)

    def filter(self, predicate: Callable) -> "Dataset":
        """The elements for which ``predicate(*element)`` is true."""

        def gen():
            with _closing(iter(self)) as it:
                for element in it:
                    keep = (
                        predicate(*element)
                        if isinstance(element, tuple)
                        else predicate(element)
                    )
                    if bool(np.asarray(keep)):
                        yield element

        return Dataset(gen, INFINITE if self._cardinality == INFINITE else UNKNOWN)

    def batch(
        self,
        batch_size: int,
        drop_remainder: bool = False,
        num_parallel_calls=None,
        deterministic=None,
    ) -> "Dataset":
        """Stack ``batch_size`` consecutive elements into one (the last one smaller
        unless ``drop_remainder``)."""
        batch_size = _check_count(batch_size, "batch_size", "batch", minimum=1)
        card = self._cardinality
        if card in (INFINITE, UNKNOWN):
            new = card
        else:
            new = card // batch_size if drop_remainder else math.ceil(card / batch_size)

        def gen():
            with _closing(iter(self)) as it:
                while True:
                    chunk = list(itertools.islice(it, batch_size))
                    if not chunk or (drop_remainder and len(chunk) < batch_size):
                        return
                    yield stack_elements(chunk)

        return Dataset(gen, new)

    def unbatch(self) -> "Dataset":
        """Split each element along its first axis (the inverse of ``batch``)."""

        def gen():
            with _closing(iter(self)) as it:
                for element in it:
                    parts = [np.asarray(p) for p in _flatten(element)]
                    if any(p.ndim == 0 for p in parts):
                        raise CnnlabError(
                            "Dataset.unbatch: every element must have a batch axis. "
                            f"Received: shapes {[p.shape for p in parts]}"
                        )
                    n = len(parts[0])
                    if any(len(p) != n for p in parts):
                        raise CnnlabError(
                            "Dataset.unbatch: the parts of an element have different batch "
                            f"sizes. Received: shapes {[p.shape for p in parts]}"
                        )
                    for i in range(n):
                        yield _unflatten(element, [p[i] for p in parts])

        return Dataset(gen, INFINITE if self._cardinality == INFINITE else UNKNOWN)

    def shuffle(
        self,
        buffer_size: int,
        seed: int | None = None,
        reshuffle_each_iteration: bool = True,
    ) -> "Dataset":
        """tf.data's buffer shuffle: keep ``buffer_size`` elements, hand out a uniformly
        chosen one and put the next element in its place. A buffer at least as long
        as the data set shuffles it completely."""
        buffer_size = _check_count(buffer_size, "buffer_size", "shuffle", minimum=1)
        base = cnn_random.make_generator(seed)
        first_seed = int(base.integers(2**63))
        passes = itertools.count()
        lock = threading.Lock()

        def gen():
            with lock:
                n = next(passes)
            rng = np.random.default_rng(
                [first_seed, n if reshuffle_each_iteration else 0]
            )
            buffer = []
            with _closing(iter(self)) as it:
                for element in it:
                    if len(buffer) < buffer_size:
                        buffer.append(element)
                        continue
                    k = int(rng.integers(buffer_size))
                    yield buffer[k]
                    buffer[k] = element
            while buffer:
                k = int(rng.integers(len(buffer)))
                buffer[k], buffer[-1] = buffer[-1], buffer[k]
                yield buffer.pop()

        return Dataset(gen, self._cardinality)

    def cache(self, filename: str = "") -> "Dataset":
        """Keep the elements in memory after the first complete pass; later passes
        read them from there (an interrupted first pass keeps nothing)."""
        if filename:
            raise CnnlabError(
                "Dataset.cache: only the in-memory cache (filename='') is supported; a cache "
                "file would have to pickle the elements, which cnnlab never does. "
                f"Received: filename={filename!r}"
            )
        store: dict[str, Any] = {}

        def gen():
            if "elements" in store:
                yield from store["elements"]
                return
            kept = []
            with _closing(iter(self)) as it:
                for element in it:
                    kept.append(element)
                    yield element
            store["elements"] = kept

        return Dataset(gen, self._cardinality)

    def prefetch(self, buffer_size: int) -> "Dataset":
        """A background thread keeps up to ``buffer_size`` elements ready (``AUTOTUNE``: 2),
        so producing the next element overlaps with using this one."""
        buffer_size = _check_count(
            buffer_size, "buffer_size", "prefetch", minimum=0, allow_auto=True
        )
        if buffer_size == AUTOTUNE:
            buffer_size = _AUTOTUNE_PREFETCH
        if buffer_size == 0:
            return self
        return Dataset(lambda: _prefetch(self, buffer_size), self._cardinality)


# --------------------------------------------------------------------------- structure


def _flatten(structure) -> list:
    if isinstance(structure, dict):
        return [leaf for key in sorted(structure) for leaf in _flatten(structure[key])]
    if isinstance(structure, (tuple, list)):
        return [leaf for part in structure for leaf in _flatten(part)]
    return [structure]


def _unflatten(structure, leaves):
    it = iter(leaves)

    def build(s):
        if isinstance(s, dict):
            return {key: build(s[key]) for key in sorted(s)}
        if isinstance(s, (tuple, list)):
            return tuple(build(p) for p in s)
        return next(it)

    return build(structure)


def stack_elements(elements: list):
    """Stack a list of elements of one structure into one batch, part by part."""
    first = elements[0]
    columns = list(zip(*(_flatten(e) for e in elements)))
    stacked = []
    for column in columns:
        arrays = [np.asarray(v) for v in column]
        shape = arrays[0].shape
        for i, a in enumerate(arrays):
            if a.shape != shape:
                raise CnnlabError(
                    f"Dataset.batch: element {i} of a batch has shape {a.shape} where the first has {shape}; "
                    f"a batch stacks elements of one shape. Resize the images to one size first "
                    f"(image_size=, or .map with a resize). Received: shapes {shape} and {a.shape}"
                )
        stacked.append(np.stack(arrays))
    return _unflatten(first, stacked)


# --------------------------------------------------------------------------- threads


class _closing:
    """Close a generator when the block ends, so the stages above it stop their threads."""

    def __init__(self, it):
        self.it = it

    def __enter__(self):
        return self.it

    def __exit__(self, *exc):
        close = getattr(self.it, "close", None)
        if close is not None:
            close()
        return False


def _parallel_map(call, source: Iterator, workers: int):
    """``call`` over ``source`` in ``workers`` threads, at most ``2 * workers`` in flight, in order."""
    pool = ThreadPoolExecutor(max_workers=workers, thread_name_prefix="cnnlab-map")
    pending: collections.deque = collections.deque()
    try:
        for element in source:
            pending.append(pool.submit(call, element))
            if len(pending) >= 2 * workers:
                yield pending.popleft().result()
        while pending:
            yield pending.popleft().result()
    finally:
        for f in pending:
            f.cancel()
        pool.shutdown(wait=True, cancel_futures=True)
        close = getattr(source, "close", None)
        if close is not None:
            close()


_DONE = object()


class _Failure:
    def __init__(self, error):
        self.error = error


def _prefetch(dataset: Dataset, buffer_size: int):
    """Run ``dataset`` in a background thread, ``buffer_size`` elements ahead."""
    ready: queue.Queue = queue.Queue(maxsize=buffer_size)
    stop = threading.Event()

    def put(item):
        while not stop.is_set():
            try:
                ready.put(item, timeout=0.05)
                return True
            except queue.Full:
                continue
        return False

    def produce():
        try:
            with _closing(iter(dataset)) as it:
                for element in it:
                    if not put(element):
                        return
        except BaseException as e:  # handed to the consumer, raised there
            put(_Failure(e))
            return
        put(_DONE)

    worker = threading.Thread(target=produce, name="cnnlab-prefetch", daemon=True)
    worker.start()
    try:
        while True:
            item = ready.get()
            if item is _DONE:
                return
            if isinstance(item, _Failure):
                raise item.error
            yield item
    finally:
        stop.set()
        worker.join()
