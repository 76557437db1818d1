"""cnnlab.data.mnist: the bundled sample, IDX and npz loading, search order,
corrupt inputs and the download path. All offline: downloads go to a local
HTTP server on 127.0.0.1, and every test runs with a temporary HOME and
KERAS_HOME and with CNNLAB_OFFLINE=1 unless it removes that itself."""

import gzip
import hashlib
import http.server
import os
import struct
import threading
from importlib import resources

import numpy as np
import pytest

from cnnlab.data import mnist
from cnnlab.errors import CnnlabError

REAL_MNIST = os.path.join(
    os.path.dirname(__file__), "..", "..", "..", "shared", "data", "mnist"
)

IDX_NAMES = {
    "x_train": "train-images-idx3-ubyte",
    "y_train": "train-labels-idx1-ubyte",
    "x_test": "t10k-images-idx3-ubyte",
    "y_test": "t10k-labels-idx1-ubyte",
}


# ----------------------------------------------------------------------------- helpers


@pytest.fixture(autouse=True)
def isolated(tmp_path, monkeypatch):
    """No real home, no real Keras cache, no proxies, offline by default."""
    home = tmp_path / "home"
    home.mkdir()
    monkeypatch.setenv("HOME", str(home))
    monkeypatch.setenv("KERAS_HOME", str(tmp_path / "keras_home"))
    for var in (
        "CNNLAB_DATA",
        "CNNLAB_MNIST_URL",
        "CNNLAB_MNIST_SHA256",
        "http_proxy",
        "https_proxy",
        "HTTP_PROXY",
        "HTTPS_PROXY",
        "all_proxy",
        "ALL_PROXY",
    ):
        monkeypatch.delenv(var, raising=False)
    monkeypatch.setenv("CNNLAB_OFFLINE", "1")
    return tmp_path


def make_arrays(n_train=30, n_test=20, seed=0):
    rng = np.random.default_rng(seed)
    return {
        "x_train": rng.integers(0, 256, (n_train, 28, 28), dtype=np.uint8),
        "y_train": (np.arange(n_train) % 10).astype(np.uint8),
        "x_test": rng.integers(0, 256, (n_test, 28, 28), dtype=np.uint8),
        "y_test": (np.arange(n_test)[::-1] % 10).astype(np.uint8),
    }


def idx_bytes(arr, magic=None):
    arr = np.asarray(arr, dtype=np.uint8)
    if magic is None:
        magic = 0x0800 | arr.ndim
    return (
        struct.pack(">I", magic)
        + struct.pack(f">{arr.ndim}I", *arr.shape)
        + arr.tobytes()
    )


def write_idx_dir(directory, arrays, gz=True):
    directory.mkdir(parents=True, exist_ok=True)
    paths = {}
    for key, stem in IDX_NAMES.items():
        data = idx_bytes(arrays[key])
        path = directory / (stem + (".gz" if gz else ""))
        path.write_bytes(gzip.compress(data, mtime=0) if gz else data)
        paths[key] = path
    return paths


def write_npz(path, arrays, compressed=False):
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "wb") as f:
        (np.savez_compressed if compressed else np.savez)(f, **arrays)
    return path


def assert_same(result, arrays):
    (xt, yt), (xs, ys) = result
    for got, key in ((xt, "x_train"), (yt, "y_train"), (xs, "x_test"), (ys, "y_test")):
        assert got.dtype == np.uint8
        np.testing.assert_array_equal(got, arrays[key])


def cache_dir(tmp_path):
    return tmp_path / "keras_home" / "datasets"


# ----------------------------------------------------------------------------- the bundled sample


def test_load_sample_shapes_dtypes_and_balance():
    (x_train, y_train), (x_test, y_test) = mnist.load_sample()
    assert x_train.shape == (2000, 28, 28) and y_train.shape == (2000,)
    assert x_test.shape == (500, 28, 28) and y_test.shape == (500,)
    for a in (x_train, y_train, x_test, y_test):
        assert a.dtype == np.uint8
    assert np.bincount(y_train, minlength=10).tolist() == [200] * 10
    assert np.bincount(y_test, minlength=10).tolist() == [50] * 10
    # real digits: dark background, bright strokes
    assert x_train.max() == 255 and x_train.min() == 0
    assert 0.05 < (x_train > 0).mean() < 0.4


def test_sample_is_a_package_resource_and_records_indices():
    res = resources.files("cnnlab.data").joinpath("mnist_sample.npz")
    assert res.is_file()
    assert len(res.read_bytes()) < 600_000
    train_idx, test_idx = mnist.sample_indices()
    assert train_idx.shape == (2000,) and test_idx.shape == (500,)
    assert np.all(np.diff(train_idx) > 0) and np.all(np.diff(test_idx) > 0)
    assert train_idx.max() < 60000 and test_idx.max() < 10000


def test_load_sample_returns_fresh_arrays():
    (a, _), _ = mnist.load_sample()
    a[:] = 0
    (b, _), _ = mnist.load_sample()
    assert b.any()


@pytest.mark.skipif(
    not os.path.isdir(REAL_MNIST), reason="real MNIST files not present"
)
def test_sample_matches_the_real_files():
    (xt, yt), (xs, ys) = mnist.load_data(path=REAL_MNIST)
    assert xt.shape == (60000, 28, 28) and xs.shape == (10000, 28, 28)
    train_idx, test_idx = mnist.sample_indices()
    (sxt, syt), (sxs, sys_) = mnist.load_sample()
    np.testing.assert_array_equal(sxt, xt[train_idx])
    np.testing.assert_array_equal(syt, yt[train_idx])
    np.testing.assert_array_equal(sxs, xs[test_idx])
    np.testing.assert_array_equal(sys_, ys[test_idx])


# ----------------------------------------------------------------------------- local formats


@pytest.mark.parametrize("gz", [True, False])
def test_load_idx_directory(tmp_path, gz):
    arrays = make_arrays()
    write_idx_dir(tmp_path / "idx", arrays, gz=gz)
    assert_same(mnist.load_data(path=tmp_path / "idx"), arrays)


def test_load_idx_with_dot_names(tmp_path):
    arrays = make_arrays()
    d = tmp_path / "idx"
    d.mkdir()
    for key, stem in IDX_NAMES.items():
        name = stem.replace("-idx", ".idx")  # e.g. train-images.idx3-ubyte
        (d / name).write_bytes(idx_bytes(arrays[key]))
    assert_same(mnist.load_data(path=str(d)), arrays)


@pytest.mark.parametrize("compressed", [False, True])
def test_load_npz_directory_and_file(tmp_path, compressed):
    arrays = make_arrays()
    f = write_npz(tmp_path / "d" / "mnist.npz", arrays, compressed)
    assert_same(mnist.load_data(path=tmp_path / "d"), arrays)
    assert_same(mnist.load_data(path=f), arrays)
    other = write_npz(tmp_path / "elsewhere.npz", arrays, compressed)
    assert_same(mnist.load_data(path=str(other)), arrays)


def test_npz_with_extra_keys_is_fine(tmp_path):
    arrays = make_arrays()
    f = write_npz(tmp_path / "m.npz", {**arrays, "train_indices": np.arange(30)})
    assert_same(mnist.load_data(path=f), arrays)


def test_npz_preferred_over_idx_in_same_directory(tmp_path):
    d = tmp_path / "both"
    write_idx_dir(d, make_arrays(seed=1))
    npz_arrays = make_arrays(seed=2)
    write_npz(d / "mnist.npz", npz_arrays)
    assert_same(mnist.load_data(path=d), npz_arrays)


def test_result_structure_is_keras_like(tmp_path):
    write_npz(tmp_path / "mnist.npz", make_arrays())
    result = mnist.load_data(path=tmp_path)
    assert isinstance(result, tuple) and len(result) == 2
    assert all(isinstance(t, tuple) and len(t) == 2 for t in result)
    (x_train, y_train), (x_test, y_test) = result
    assert x_train.flags.writeable


# ----------------------------------------------------------------------------- search order


def test_path_beats_env_beats_cache(tmp_path, monkeypatch):
    a, b, c = make_arrays(seed=1), make_arrays(seed=2), make_arrays(seed=3)
    write_npz(tmp_path / "arg" / "mnist.npz", a)
    write_idx_dir(tmp_path / "env", b)
    write_npz(cache_dir(tmp_path) / "mnist.npz", c)
    monkeypatch.setenv("CNNLAB_DATA", str(tmp_path / "env"))
    assert_same(mnist.load_data(path=tmp_path / "arg"), a)
    assert_same(mnist.load_data(), b)
    monkeypatch.delenv("CNNLAB_DATA")
    assert_same(mnist.load_data(), c)


def test_env_may_name_an_npz_file(tmp_path, monkeypatch):
    a = make_arrays(seed=4)
    f = write_npz(tmp_path / "some" / "file.npz", a)
    monkeypatch.setenv("CNNLAB_DATA", str(f))
    assert_same(mnist.load_data(), a)


def test_empty_env_dir_falls_through_to_cache(tmp_path, monkeypatch):
    (tmp_path / "empty").mkdir()
    monkeypatch.setenv("CNNLAB_DATA", str(tmp_path / "empty"))
    c = make_arrays(seed=5)
    write_npz(cache_dir(tmp_path) / "mnist.npz", c)
    assert_same(mnist.load_data(), c)


def test_cache_honours_home_without_keras_home(tmp_path, monkeypatch):
    monkeypatch.delenv("KERAS_HOME")
    c = make_arrays(seed=6)
    write_npz(tmp_path / "home" / ".keras" / "datasets" / "mnist.npz", c)
    assert mnist.keras_cache_dir() == str(tmp_path / "home" / ".keras" / "datasets")
    assert_same(mnist.load_data(), c)


def test_keras_style_bare_file_name_means_cache(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    c = make_arrays(seed=7)
    write_npz(cache_dir(tmp_path) / "my_mnist.npz", c)
    assert_same(mnist.load_data(path="my_mnist.npz"), c)
    write_npz(cache_dir(tmp_path) / "mnist.npz", c)
    assert_same(mnist.load_data(path="mnist.npz"), c)


def test_explicit_path_without_data_is_an_error_even_if_cache_has_it(tmp_path):
    write_npz(cache_dir(tmp_path) / "mnist.npz", make_arrays())
    (tmp_path / "empty").mkdir()
    for p in (tmp_path / "empty", tmp_path / "missing"):
        with pytest.raises(CnnlabError) as e:
            mnist.load_data(path=p)
        assert str(p) in str(e.value)


def test_not_found_lists_every_place(tmp_path, monkeypatch):
    monkeypatch.setenv("CNNLAB_DATA", str(tmp_path / "nowhere"))
    with pytest.raises(CnnlabError) as e:
        mnist.load_data()
    msg = str(e.value)
    assert str(tmp_path / "nowhere") in msg
    assert str(cache_dir(tmp_path) / "mnist.npz") in msg
    assert "CNNLAB_OFFLINE" in msg and mnist.DEFAULT_ORIGIN in msg
    assert "CNNLAB_DATA" in msg and "path=" in msg and "Keras cache" in msg
    assert isinstance(e.value, ValueError)


def test_not_found_mentions_unset_env(tmp_path):
    with pytest.raises(CnnlabError, match=r"\$CNNLAB_DATA: not set"):
        mnist.load_data()


# ----------------------------------------------------------------------------- corrupt inputs


def _idx_dir_with(tmp_path, key, raw, gz=True):
    """A valid IDX directory in which file `key` is replaced by `raw` bytes."""
    paths = write_idx_dir(tmp_path / "bad", make_arrays(), gz=gz)
    paths[key].write_bytes(gzip.compress(raw, mtime=0) if gz else raw)
    return tmp_path / "bad", paths[key]


@pytest.mark.parametrize("gz", [True, False])
def test_truncated_idx(tmp_path, gz):
    full = idx_bytes(make_arrays()["x_train"])
    d, f = _idx_dir_with(tmp_path, "x_train", full[:-100], gz)
    with pytest.raises(CnnlabError, match="truncated") as e:
        mnist.load_data(path=d)
    assert str(f) in str(e.value)


@pytest.mark.parametrize("gz", [True, False])
def test_truncated_header(tmp_path, gz):
    d, f = _idx_dir_with(tmp_path, "y_test", b"\x00\x00\x08", gz)
    with pytest.raises(CnnlabError) as e:
        mnist.load_data(path=d)
    assert str(f) in str(e.value)


def test_cut_off_gzip_stream(tmp_path):
    paths = write_idx_dir(tmp_path / "bad", make_arrays())
    data = paths["x_test"].read_bytes()
    paths["x_test"].write_bytes(data[: len(data) // 2])
    with pytest.raises(CnnlabError) as e:
        mnist.load_data(path=tmp_path / "bad")
    assert str(paths["x_test"]) in str(e.value)


def test_not_gzip_garbage_with_gz_name_is_read_raw_and_rejected(tmp_path):
    paths = write_idx_dir(tmp_path / "bad", make_arrays())
    paths["y_train"].write_bytes(b"this is not an idx file at all")
    with pytest.raises(CnnlabError, match="magic") as e:
        mnist.load_data(path=tmp_path / "bad")
    assert str(paths["y_train"]) in str(e.value)


@pytest.mark.parametrize(
    "key,magic", [("x_train", 2049), ("y_train", 2051), ("x_test", 0x0D03)]
)
def test_wrong_magic(tmp_path, key, magic):
    arr = make_arrays()[key]
    d, f = _idx_dir_with(tmp_path, key, struct.pack(">I", magic) + idx_bytes(arr)[4:])
    with pytest.raises(CnnlabError, match="magic") as e:
        mnist.load_data(path=d)
    assert str(f) in str(e.value)


@pytest.mark.parametrize("gz", [True, False])
def test_absurd_declared_size_rejected_before_allocating(tmp_path, gz):
    raw = struct.pack(">IIII", 2051, 0xFFFFFFFF, 28, 28) + b"\x00" * 784
    d, f = _idx_dir_with(tmp_path, "x_train", raw, gz)
    with pytest.raises(CnnlabError, match="corrupt") as e:
        mnist.load_data(path=d)
    assert str(f) in str(e.value)
    # large but allowed count with tiny data: truncated, found without reading GBs
    raw = struct.pack(">IIII", 2051, 900_000, 28, 28) + b"\x00" * 784
    d, f = _idx_dir_with(tmp_path, "x_train", raw, gz)
    with pytest.raises(CnnlabError, match="truncated") as e:
        mnist.load_data(path=d)
    assert str(f) in str(e.value)


def test_wrong_image_size(tmp_path):
    raw = struct.pack(">IIII", 2051, 30, 27, 27) + b"\x00" * (30 * 27 * 27)
    d, f = _idx_dir_with(tmp_path, "x_train", raw)
    with pytest.raises(CnnlabError, match="28x28") as e:
        mnist.load_data(path=d)
    assert str(f) in str(e.value)


@pytest.mark.parametrize("gz", [True, False])
def test_extra_bytes_rejected(tmp_path, gz):
    raw = idx_bytes(make_arrays()["y_test"]) + b"\x01\x02"
    d, f = _idx_dir_with(tmp_path, "y_test", raw, gz)
    with pytest.raises(CnnlabError, match="extra bytes") as e:
        mnist.load_data(path=d)
    assert str(f) in str(e.value)


def test_label_out_of_range(tmp_path):
    raw = idx_bytes(np.full(30, 10, np.uint8))
    d, f = _idx_dir_with(tmp_path, "y_train", raw)
    with pytest.raises(CnnlabError, match="0..9") as e:
        mnist.load_data(path=d)
    assert str(f) in str(e.value)


def test_count_mismatch_between_images_and_labels(tmp_path):
    d, f = _idx_dir_with(tmp_path, "y_train", idx_bytes(np.zeros(29, np.uint8)))
    with pytest.raises(CnnlabError, match="must match") as e:
        mnist.load_data(path=d)
    assert str(f) in str(e.value)


def test_partial_idx_set(tmp_path):
    paths = write_idx_dir(tmp_path / "part", make_arrays())
    paths["y_test"].unlink()
    with pytest.raises(CnnlabError, match="t10k-labels-idx1-ubyte") as e:
        mnist.load_data(path=tmp_path / "part")
    assert str(tmp_path / "part") in str(e.value)


def _npz_error(path):
    with pytest.raises(CnnlabError) as e:
        mnist.load_data(path=path)
    assert str(path) in str(e.value)
    return str(e.value)


def test_npz_with_object_array(tmp_path):
    arrays = make_arrays()
    arrays["y_train"] = np.array([{"evil": 1}] * 30, dtype=object)
    f = write_npz(tmp_path / "obj.npz", arrays)  # np.savez pickles object arrays
    assert "object" in _npz_error(f)


def test_npz_missing_key(tmp_path):
    arrays = make_arrays()
    del arrays["x_test"]
    f = write_npz(tmp_path / "missing.npz", arrays)
    assert "x_test" in _npz_error(f)


@pytest.mark.parametrize(
    "key,value",
    [
        ("x_train", np.zeros((30, 28, 27), np.uint8)),
        ("x_train", np.zeros((30, 784), np.uint8)),
        ("y_test", np.zeros((20, 1), np.uint8)),
    ],
)
def test_npz_wrong_shape(tmp_path, key, value):
    f = write_npz(tmp_path / "shape.npz", {**make_arrays(), key: value})
    assert "shape" in _npz_error(f)


def test_npz_wrong_dtype(tmp_path):
    arrays = make_arrays()
    arrays["x_train"] = arrays["x_train"].astype(np.float32)
    f = write_npz(tmp_path / "dtype.npz", arrays)
    assert "uint8" in _npz_error(f)


def test_npz_count_mismatch(tmp_path):
    arrays = make_arrays()
    arrays["y_test"] = arrays["y_test"][:-1]
    f = write_npz(tmp_path / "n.npz", arrays)
    assert "must match" in _npz_error(f)


def test_not_an_npz(tmp_path):
    f = tmp_path / "mnist.npz"
    f.write_bytes(b"\x80\x04definitely a pickle, not a zip")
    assert "not an .npz" in _npz_error(f)
    g = tmp_path / "plain.npy"
    np.save(g, np.zeros(3))
    _npz_error(g)


def test_corrupt_cache_file_is_reported_not_skipped(tmp_path):
    f = cache_dir(tmp_path) / "mnist.npz"
    f.parent.mkdir(parents=True)
    f.write_bytes(b"PK\x03\x04 broken zip")
    with pytest.raises(CnnlabError) as e:
        mnist.load_data()
    assert str(f) in str(e.value)


# ----------------------------------------------------------------------------- download


class _Server:
    def __init__(self, payload):
        self.payload = payload
        self.requests = []
        self.status = 200
        self.short_by = 0  # announce this many more bytes than are sent
        server = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_GET(self):
                server.requests.append(self.path)
                if server.status != 200:
                    self.send_error(server.status)
                    return
                self.send_response(200)
                self.send_header("Content-Type", "application/octet-stream")
                self.send_header(
                    "Content-Length", str(len(server.payload) + server.short_by)
                )
                self.end_headers()
                self.wfile.write(server.payload)

            def log_message(self, *args):
                pass

        self.httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.httpd.server_address[1]}/mnist.npz"
        self.thread = threading.Thread(
            target=self.httpd.serve_forever, kwargs={"poll_interval": 0.02}, daemon=True
        )
        self.thread.start()

    def close(self):
        if self.thread is None:
            return
        self.thread = None
        self.httpd.shutdown()
        self.httpd.server_close()


@pytest.fixture
def served(tmp_path, monkeypatch):
    arrays = make_arrays(seed=9)
    payload = write_npz(
        tmp_path / "srv" / "mnist.npz", arrays, compressed=True
    ).read_bytes()
    server = _Server(payload)
    server.arrays = arrays
    server.sha256 = hashlib.sha256(payload).hexdigest()
    monkeypatch.delenv("CNNLAB_OFFLINE")
    yield server
    server.close()


def _leftovers(directory):
    return sorted(p.name for p in directory.iterdir()) if directory.exists() else []


def test_download_success_writes_cache(tmp_path, served, capsys):
    result = mnist.load_data(origin=served.url, file_hash=served.sha256)
    assert_same(result, served.arrays)
    assert served.requests == ["/mnist.npz"]
    assert _leftovers(cache_dir(tmp_path)) == ["mnist.npz"]
    assert (cache_dir(tmp_path) / "mnist.npz").read_bytes() == served.payload
    assert "Downloading data from " + served.url in capsys.readouterr().err
    # second call uses the cache, no new request
    assert_same(
        mnist.load_data(origin=served.url, file_hash=served.sha256), served.arrays
    )
    assert len(served.requests) == 1


def test_download_url_and_hash_from_env(tmp_path, served, monkeypatch):
    monkeypatch.setenv("CNNLAB_MNIST_URL", served.url)
    monkeypatch.setenv("CNNLAB_MNIST_SHA256", served.sha256.upper())
    assert_same(mnist.load_data(progress=False), served.arrays)
    assert served.requests == ["/mnist.npz"]


def test_download_md5_hash_accepted(tmp_path, served):
    md5 = hashlib.md5(served.payload).hexdigest()
    assert_same(
        mnist.load_data(origin=served.url, file_hash=md5, progress=False), served.arrays
    )


def test_download_wrong_hash_leaves_nothing(tmp_path, served):
    with pytest.raises(CnnlabError, match="checksum") as e:
        mnist.load_data(origin=served.url, file_hash="0" * 64)
    assert served.sha256 in str(e.value) and served.url in str(e.value)
    assert _leftovers(cache_dir(tmp_path)) == []


def test_download_default_hash_applies_to_other_origins(tmp_path, served):
    # The Keras hash is checked unless overridden: a mirror must serve Keras's file.
    with pytest.raises(CnnlabError, match=mnist.DEFAULT_FILE_HASH):
        mnist.load_data(origin=served.url, progress=False)
    assert _leftovers(cache_dir(tmp_path)) == []


def test_download_of_valid_hash_but_bad_content_leaves_nothing(tmp_path, served):
    served.payload = b"not an npz"
    sha = hashlib.sha256(served.payload).hexdigest()
    with pytest.raises(CnnlabError, match="not a usable MNIST"):
        mnist.load_data(origin=served.url, file_hash=sha, progress=False)
    assert _leftovers(cache_dir(tmp_path)) == []


def test_offline_prevents_download(tmp_path, served, monkeypatch):
    monkeypatch.setenv("CNNLAB_OFFLINE", "1")
    with pytest.raises(CnnlabError, match="CNNLAB_OFFLINE") as e:
        mnist.load_data(origin=served.url, file_hash=served.sha256)
    assert served.requests == []
    assert str(cache_dir(tmp_path) / "mnist.npz") in str(e.value)
    assert _leftovers(cache_dir(tmp_path)) == []


def test_http_error_gives_not_found_listing(tmp_path, served, monkeypatch):
    served.status = 404
    monkeypatch.setenv("CNNLAB_DATA", str(tmp_path / "nowhere"))
    with pytest.raises(CnnlabError) as e:
        mnist.load_data(origin=served.url, file_hash=served.sha256, progress=False)
    msg = str(e.value)
    assert served.url in msg and "failed" in msg
    assert str(tmp_path / "nowhere") in msg
    assert str(cache_dir(tmp_path) / "mnist.npz") in msg
    assert _leftovers(cache_dir(tmp_path)) == []


def test_unreachable_server_gives_not_found_listing(tmp_path, served):
    url = served.url
    served.close()
    with pytest.raises(CnnlabError, match="could not find MNIST"):
        mnist.load_data(origin=url, file_hash=served.sha256, progress=False)


def test_bad_hash_format_rejected(tmp_path, served):
    with pytest.raises(CnnlabError, match="file_hash"):
        mnist.load_data(origin=served.url, file_hash="abc")
    assert served.requests == []


def test_local_data_means_no_download(tmp_path, served):
    write_npz(tmp_path / "d" / "mnist.npz", make_arrays())
    mnist.load_data(path=tmp_path / "d", origin=served.url)
    assert served.requests == []


def test_download_cut_short_leaves_nothing(tmp_path, served):
    served.short_by = 1000
    with pytest.raises(CnnlabError, match="could not find MNIST") as e:
        mnist.load_data(origin=served.url, file_hash=served.sha256, progress=False)
    assert "failed" in str(e.value)
    assert _leftovers(cache_dir(tmp_path)) == []


def test_unwritable_cache_is_reported(tmp_path, served, monkeypatch):
    blocker = tmp_path / "not_a_dir"
    blocker.write_text("x")
    monkeypatch.setenv("KERAS_HOME", str(blocker))
    with pytest.raises(CnnlabError, match="cannot create the cache directory"):
        mnist.load_data(origin=served.url, file_hash=served.sha256, progress=False)
    assert served.requests == []
