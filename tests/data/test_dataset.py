"""cnnlab.data.Dataset: tf.data's chains, their cardinalities, and that prefetch and
parallel map really run in background threads."""

import threading
import time

import numpy as np
import pytest

from cnnlab.data import AUTOTUNE, INFINITE, UNKNOWN, Dataset
from cnnlab.errors import CnnlabError


def values(ds):
    return [np.asarray(e).tolist() for e in ds]


def test_take_skip_repeat_and_cardinality():
    ds = Dataset.range(10)
    assert values(ds.take(3)) == [0, 1, 2] and len(ds.take(3)) == 3
    assert values(ds.skip(8)) == [8, 9] and len(ds.skip(8)) == 2
    assert len(ds.skip(20)) == 0 and values(ds.skip(20)) == []
    assert ds.take(-1) is ds and values(ds.skip(-1)) == []
    assert values(ds.take(2).repeat(3)) == [0, 1] * 3 and len(ds.take(2).repeat(3)) == 6
    assert ds.repeat().cardinality() == INFINITE
    assert values(ds.repeat().take(12)) == list(range(10)) + [0, 1]
    assert ds.repeat().take(5).cardinality() == 5
    with pytest.raises(TypeError, match="infinite"):
        len(ds.repeat())
    assert ds.filter(lambda v: v % 2 == 0).cardinality() == UNKNOWN
    assert values(ds.filter(lambda v: v % 2 == 0)) == [0, 2, 4, 6, 8]
    with pytest.raises(TypeError, match="unknown"):
        len(ds.filter(lambda v: True))


def test_from_tensor_slices_map_batch_unbatch():
    x = np.arange(14, dtype=np.float32).reshape(7, 2)
    y = np.arange(7)
    ds = Dataset.from_tensor_slices((x, y))
    assert len(ds) == 7
    doubled = ds.map(lambda a, b: (a * 2, b))  # tuples are spread over the arguments
    batches = list(doubled.batch(3))
    assert [len(b[1]) for b in batches] == [3, 3, 1] and len(doubled.batch(3)) == 3
    np.testing.assert_array_equal(batches[0][0], x[:3] * 2)
    assert len(doubled.batch(3, drop_remainder=True)) == 2
    assert [len(b[1]) for b in doubled.batch(3, drop_remainder=True)] == [3, 3]
    again = list(doubled.batch(3).unbatch())
    assert len(again) == 7
    np.testing.assert_array_equal(np.stack([a for a, _ in again]), x * 2)
    d = Dataset.from_tensor_slices({"img": x, "label": y}).batch(4)
    first = next(iter(d))
    assert set(first) == {"img", "label"} and first["img"].shape == (4, 2)
    with pytest.raises(CnnlabError, match="same length"):
        Dataset.from_tensor_slices((x, y[:3]))


def test_shuffle_is_a_permutation_reshuffled_each_pass_and_seeded():
    ds = Dataset.range(50).shuffle(50, seed=3)
    a, b = values(ds), values(ds)
    assert sorted(a) == list(range(50)) and a != b and a != list(range(50))
    assert (
        values(Dataset.range(50).shuffle(50, seed=3)) == a
    )  # the seed fixes the passes
    fixed = Dataset.range(50).shuffle(50, seed=3, reshuffle_each_iteration=False)
    assert values(fixed) == values(fixed)
    # a buffer of 1 changes nothing; with a buffer of 4 no element comes out more than 3 places early
    assert values(Dataset.range(20).shuffle(1)) == list(range(20))
    small = values(Dataset.range(200).shuffle(4, seed=0))
    assert max(v - i for i, v in enumerate(small)) == 3 and sorted(small) == list(
        range(200)
    )


def test_cache_keeps_the_first_complete_pass():
    calls = []
    ds = Dataset.range(5).map(lambda v: calls.append(v) or v * 10).cache()
    assert values(ds.take(2)) == [0, 10]  # an incomplete pass keeps nothing
    assert values(ds) == [0, 10, 20, 30, 40]
    n = len(calls)
    assert values(ds) == [0, 10, 20, 30, 40] and len(calls) == n
    with pytest.raises(CnnlabError, match="in-memory cache"):
        ds.cache("file.cache")


def test_parallel_map_keeps_order_and_runs_in_threads():
    seen = set()

    def slow(v):
        seen.add(threading.current_thread().name)
        time.sleep(0.01 * (v % 3))
        return v

    out = values(Dataset.range(30).map(slow, num_parallel_calls=4))
    assert out == list(range(30))
    assert all(name.startswith("cnnlab-map") for name in seen) and len(seen) > 1


def test_prefetch_overlaps_production_with_consumption():
    """Producing takes 20 ms per element and consuming 20 ms: in a row 40 ms each, with
    prefetch about 20 ms each."""

    def produce(v):
        time.sleep(0.02)
        return v

    def consume(ds):
        start = time.perf_counter()
        for _ in ds:
            time.sleep(0.02)
        return time.perf_counter() - start

    plain = Dataset.range(15).map(produce)
    serial = consume(plain)
    overlapped = consume(plain.prefetch(2))
    assert overlapped < 0.8 * serial, (serial, overlapped)


def test_prefetch_raises_the_producers_error_and_stops_its_thread():
    def boom(v):
        if v == 3:
            raise CnnlabError("element 3 is bad")
        return v

    before = threading.active_count()
    with pytest.raises(CnnlabError, match="element 3 is bad"):
        list(Dataset.range(10).map(boom).prefetch(AUTOTUNE))
    it = iter(Dataset.range(1000).map(lambda v: v, num_parallel_calls=2).prefetch(3))
    next(it)
    it.close()  # leaving early stops the background threads
    time.sleep(0.1)
    assert threading.active_count() <= before + 1


@pytest.mark.parametrize(
    "call, message",
    [
        (lambda ds: ds.batch(0), "batch_size must be at least 1"),
        (lambda ds: ds.shuffle(0), "buffer_size must be at least 1"),
        (lambda ds: ds.take("3"), "count must be an integer"),
        (lambda ds: ds.map(3), "map_func must be callable"),
        (lambda ds: ds.prefetch(-5), "buffer_size must be at least 0"),
    ],
)
def test_bad_arguments(call, message):
    with pytest.raises(CnnlabError, match=message):
        call(Dataset.range(3))
