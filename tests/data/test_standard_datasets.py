"""keras.datasets.cifar10 / cifar100 / fashion_mnist from files in Keras's own formats
(written by keras_format_files.py), the pickle parser's refusals, and
keras.utils.get_file against a local HTTP server on 127.0.0.1 (never the network)."""

import gzip
import hashlib
import http.server
import io
import os
import pickle
import sys
import tarfile
import threading
import zipfile

import numpy as np
import pytest

sys.path.insert(0, os.path.dirname(__file__))
from keras_format_files import (
    cifar_batch,
    py2_pickle,
    write_cifar10,
    write_cifar100,  # noqa: E402
    write_fashion,
)

from cnnlab import keras  # noqa: E402
from cnnlab.data import safe_pickle  # noqa: E402
from cnnlab.errors import CnnlabError  # noqa: E402


@pytest.fixture(autouse=True)
def isolated(tmp_path, monkeypatch):
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    monkeypatch.setenv("KERAS_HOME", str(tmp_path / "keras_home"))
    monkeypatch.delenv("CNNLAB_DATA", raising=False)
    for var in (
        "http_proxy",
        "https_proxy",
        "HTTP_PROXY",
        "HTTPS_PROXY",
        "all_proxy",
        "ALL_PROXY",
    ):
        monkeypatch.delenv(var, raising=False)
    monkeypatch.setenv("CNNLAB_OFFLINE", "1")


def cache(tmp_path):
    return tmp_path / "keras_home" / "datasets"


# --------------------------------------------------------------------------- CIFAR


def test_cifar10_from_the_keras3_cache_has_keras_shapes_and_dtypes(tmp_path):
    folder, batches = write_cifar10(str(cache(tmp_path) / "cifar-10-batches-py-target"))
    (x, y), (xt, yt) = keras.datasets.cifar10.load_data()
    assert x.shape == (20, 32, 32, 3) and x.dtype == np.uint8
    assert y.shape == (20, 1) and y.dtype == np.uint8
    assert xt.shape == (5, 32, 32, 3) and yt.shape == (5, 1) and yt.dtype == np.uint8
    first = batches["data_batch_1"]
    # Keras: data (N, 3072) is channel-major (1024 red, 1024 green, 1024 blue), transposed to channels last
    np.testing.assert_array_equal(
        x[:4], first[b"data"].reshape(4, 3, 32, 32).transpose(0, 2, 3, 1)
    )
    np.testing.assert_array_equal(y[:4, 0], first[b"labels"])
    np.testing.assert_array_equal(yt[:, 0], batches["test_batch"][b"labels"])


@pytest.mark.parametrize("layout", ["old_keras_cache", "path", "env"])
def test_cifar10_other_places(tmp_path, monkeypatch, layout):
    if layout == "old_keras_cache":
        write_cifar10(str(cache(tmp_path)))
        result = keras.datasets.cifar10.load_data()
    elif layout == "path":
        folder, _ = write_cifar10(str(tmp_path / "mine"))
        result = keras.datasets.cifar10.load_data(path=folder)
    else:
        write_cifar10(str(tmp_path / "data"))
        monkeypatch.setenv("CNNLAB_DATA", str(tmp_path / "data"))
        result = keras.datasets.cifar10.load_data()
    assert result[0][0].shape == (20, 32, 32, 3)


def test_cifar100_fine_and_coarse(tmp_path):
    _, batches = write_cifar100(str(cache(tmp_path) / "cifar-100-python-target"))
    (x, y), (xt, yt) = keras.datasets.cifar100.load_data()
    assert (
        x.shape == (5, 32, 32, 3) and x.dtype == np.uint8 and xt.shape == (6, 32, 32, 3)
    )
    assert (
        y.shape == (5, 1) and y.dtype == np.int64
    )  # Keras reshapes the label list: int64
    np.testing.assert_array_equal(y[:, 0], batches["train"][b"fine_labels"])
    (_, yc), _ = keras.datasets.cifar100.load_data(label_mode="coarse")
    np.testing.assert_array_equal(yc[:, 0], batches["train"][b"coarse_labels"])
    with pytest.raises(CnnlabError, match="label_mode"):
        keras.datasets.cifar100.load_data(label_mode="medium")


def test_cifar_not_found_lists_the_places(tmp_path):
    with pytest.raises(
        CnnlabError,
        match=r"could not find cifar10 anywhere(.|\n)*Keras cache(.|\n)*CNNLAB_OFFLINE",
    ):
        keras.datasets.cifar10.load_data()
    with pytest.raises(CnnlabError, match="no cifar10 data at the path you gave"):
        keras.datasets.cifar10.load_data(path=str(tmp_path))


def test_cifar_truncated_and_corrupt_files(tmp_path):
    folder, _ = write_cifar10(str(tmp_path / "c"))
    target = os.path.join(folder, "data_batch_3")
    raw = open(target, "rb").read()
    open(target, "wb").write(raw[: len(raw) // 2])
    with pytest.raises(
        CnnlabError, match=r"data_batch_3: the file ends inside a value.*truncated"
    ):
        keras.datasets.cifar10.load_data(path=folder)
    open(target, "wb").write(b"\x00garbage" * 10)
    with pytest.raises(CnnlabError, match=r"data_batch_3: pickle opcode"):
        keras.datasets.cifar10.load_data(path=folder)
    os.remove(target)
    with pytest.raises(
        CnnlabError, match="only some of the cifar10 files; missing: data_batch_3"
    ):
        keras.datasets.cifar10.load_data(path=folder)


def test_cifar_wrong_contents(tmp_path):
    folder, _ = write_cifar10(str(tmp_path / "c"))
    d = cifar_batch(4)
    d[b"labels"] = d[b"labels"][:3]
    open(os.path.join(folder, "test_batch"), "wb").write(py2_pickle(d))
    with pytest.raises(CnnlabError, match="'labels' must be a list of 4 integers"):
        keras.datasets.cifar10.load_data(path=folder)
    d = cifar_batch(4)
    d[b"labels"][0] = 10
    open(os.path.join(folder, "test_batch"), "wb").write(py2_pickle(d))
    with pytest.raises(CnnlabError, match=r"labels outside 0..9"):
        keras.datasets.cifar10.load_data(path=folder)


# --------------------------------------------------------------------------- the pickle parser


class Payload:
    """Unpickling this runs a command that creates a file (what a hostile file would do)."""

    def __init__(self, marker):
        self.marker = marker

    def __reduce__(self):
        return (os.system, (f"touch {self.marker}",))


@pytest.mark.parametrize("protocol", [2, 3, 4, 5])
def test_a_reduce_payload_is_refused_without_running(tmp_path, protocol):
    marker = tmp_path / "ran"
    raw = pickle.dumps({"data": Payload(str(marker))}, protocol=protocol)
    with pytest.raises(
        safe_pickle.UnsafePickleError, match=r"global (posix|os)\.system"
    ):
        safe_pickle.read(raw, "evil")
    assert not marker.exists()
    pickle.loads(raw)  # the payload is real: the stdlib would have run it
    assert marker.exists()


@pytest.mark.parametrize(
    "value, message",
    [
        (np.array([object(), 1], dtype=object), "only plain numeric dtypes"),
        ({1, 2}, "global|opcode"),  # a set is not CIFAR data
    ],
)
def test_other_python_objects_are_refused(value, message):
    with pytest.raises(safe_pickle.UnsafePickleError, match=message):
        safe_pickle.read(pickle.dumps({b"data": value}, protocol=4))


def test_python3_pickles_of_plain_data_and_numeric_arrays_are_read():
    d = {
        b"labels": [1, 2, 300, 70000, -5],
        "name": "x",
        b"data": np.arange(12, dtype=np.int16).reshape(3, 4),
        b"t": (True, False, None),
        b"f": np.arange(6, dtype=">f4").reshape(2, 3).T,
    }
    for protocol in (3, 4):
        out = safe_pickle.read(pickle.dumps(d, protocol=protocol))
        assert (
            out[b"labels"] == d[b"labels"]
            and out["name"] == "x"
            and out[b"t"] == (True, False, None)
        )
        np.testing.assert_array_equal(out[b"data"], d[b"data"])
        np.testing.assert_array_equal(out[b"f"], d[b"f"])


def test_python2_format_agrees_with_the_stdlib():
    raw = py2_pickle(cifar_batch(3))
    ref = pickle.loads(raw, encoding="bytes")
    out = safe_pickle.read(raw)
    assert out.keys() == ref.keys() and out[b"labels"] == ref[b"labels"]
    np.testing.assert_array_equal(out[b"data"], ref[b"data"])


def test_an_array_whose_bytes_do_not_fit_its_shape_is_refused():
    raw = py2_pickle(cifar_batch(2)).replace(
        b"M\x00\x0c", b"M\x01\x0c", 1
    )  # 3072 -> 3073 columns
    with pytest.raises(safe_pickle.UnsafePickleError, match=r"shape \(2, 3073\)"):
        safe_pickle.read(raw)


# --------------------------------------------------------------------------- Fashion-MNIST


def test_fashion_mnist_from_the_keras_cache(tmp_path):
    arrays = write_fashion(str(cache(tmp_path) / "fashion-mnist"))
    (x, y), (xt, yt) = keras.datasets.fashion_mnist.load_data()
    assert (
        x.shape == (6, 28, 28)
        and x.dtype == np.uint8
        and y.shape == (6,)
        and y.dtype == np.uint8
    )
    assert xt.shape == (4, 28, 28) and yt.shape == (4,)
    np.testing.assert_array_equal(x, arrays["x_train"])
    np.testing.assert_array_equal(yt, arrays["y_test"])


def test_fashion_mnist_path_env_and_truncated(tmp_path, monkeypatch):
    write_fashion(str(tmp_path / "f"))
    assert keras.datasets.fashion_mnist.load_data(path=str(tmp_path / "f"))[0][
        0
    ].shape == (6, 28, 28)
    write_fashion(str(tmp_path / "env" / "fashion-mnist"))
    monkeypatch.setenv("CNNLAB_DATA", str(tmp_path / "env"))
    assert keras.datasets.fashion_mnist.load_data()[1][0].shape == (4, 28, 28)
    target = tmp_path / "f" / "train-images-idx3-ubyte.gz"
    target.write_bytes(target.read_bytes()[:40])
    with pytest.raises(
        CnnlabError, match="fashion_mnist.load_data: .*train-images-idx3-ubyte.gz"
    ):
        keras.datasets.fashion_mnist.load_data(path=str(tmp_path / "f"))
    with pytest.raises(CnnlabError, match="no Fashion-MNIST data at the path you gave"):
        keras.datasets.fashion_mnist.load_data(path=str(tmp_path / "nothing"))
    monkeypatch.delenv("CNNLAB_DATA")
    with pytest.raises(
        CnnlabError, match="could not find Fashion-MNIST anywhere(.|\n)*CNNLAB_OFFLINE"
    ):
        keras.datasets.fashion_mnist.load_data()


# --------------------------------------------------------------------------- get_file


class Server:
    """Serves ``files`` (path -> bytes) on 127.0.0.1 and records the requests."""

    def __init__(self, files):
        self.files, self.requests = files, []
        server = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_GET(self):
                server.requests.append(self.path)
                body = server.files.get(self.path)
                if body is None:
                    self.send_error(404)
                    return
                self.send_response(200)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *args):
                pass

        self.httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.base = f"http://127.0.0.1:{self.httpd.server_address[1]}"
        self.thread = threading.Thread(
            target=self.httpd.serve_forever, kwargs={"poll_interval": 0.02}, daemon=True
        )
        self.thread.start()

    def close(self):
        self.httpd.shutdown()
        self.httpd.server_close()


@pytest.fixture
def server(monkeypatch):
    monkeypatch.delenv("CNNLAB_OFFLINE")
    servers = []

    def make(files):
        servers.append(Server(files))
        return servers[-1]

    yield make
    for s in servers:
        s.close()


def tar_bytes(members, links=()):
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w:gz") as tar:
        for name, data in members.items():
            info = tarfile.TarInfo(name)
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))
        for name, target in links:
            info = tarfile.TarInfo(name)
            info.type = tarfile.SYMTYPE
            info.linkname = target
            tar.addfile(info)
    return buf.getvalue()


def test_get_file_downloads_checks_and_caches(tmp_path, server):
    body = b"hello data" * 100
    srv = server({"/a.txt": body})
    sha = hashlib.sha256(body).hexdigest()
    path = keras.utils.get_file(origin=srv.base + "/a.txt", file_hash=sha)
    assert path == str(cache(tmp_path) / "a.txt") and open(path, "rb").read() == body
    assert (
        keras.utils.get_file("a.txt", origin=srv.base + "/a.txt", file_hash=sha) == path
    )
    assert srv.requests == ["/a.txt"]  # the second call used the cache
    md5 = hashlib.md5(body).hexdigest()
    other = keras.utils.get_file(
        "b.txt",
        origin=srv.base + "/a.txt",
        md5_hash=md5,
        cache_dir=str(tmp_path / "mine"),
        cache_subdir="sub",
    )
    assert other == str(tmp_path / "mine" / "sub" / "b.txt")


def test_get_file_wrong_hash_leaves_nothing_and_a_stale_cache_is_fetched_again(
    tmp_path, server, capsys
):
    body = b"the real bytes"
    srv = server({"/a.bin": body})
    with pytest.raises(CnnlabError, match="failed its checksum"):
        keras.utils.get_file("a.bin", origin=srv.base + "/a.bin", file_hash="0" * 64)
    assert not (cache(tmp_path) / "a.bin").exists()
    assert not [p for p in os.listdir(cache(tmp_path)) if not p.startswith(".")]
    (cache(tmp_path) / "a.bin").write_bytes(b"stale")
    keras.utils.get_file(
        "a.bin", origin=srv.base + "/a.bin", file_hash=hashlib.sha256(body).hexdigest()
    )
    assert (cache(tmp_path) / "a.bin").read_bytes() == body
    assert "hash does not match" in capsys.readouterr().out


def test_get_file_errors(server):
    srv = server({})
    with pytest.raises(CnnlabError, match="URL fetch failure"):
        keras.utils.get_file("x", origin=srv.base + "/missing")
    with pytest.raises(CnnlabError, match="Paths are no longer accepted"):
        keras.utils.get_file("a/b", origin=srv.base + "/x")
    with pytest.raises(CnnlabError, match="origin"):
        keras.utils.get_file("a")


def test_get_file_offline(monkeypatch):
    monkeypatch.setenv("CNNLAB_OFFLINE", "1")
    with pytest.raises(CnnlabError, match="CNNLAB_OFFLINE is set"):
        keras.utils.get_file("x.txt", origin="http://127.0.0.1:9/x.txt")


def test_get_file_extracts_tar_and_zip_with_keras_names(tmp_path, server):
    tgz = tar_bytes({"top/a.txt": b"A", "top/sub/b.txt": b"B"})
    zbuf = io.BytesIO()
    with zipfile.ZipFile(zbuf, "w") as z:
        z.writestr("inner/c.txt", b"C")
    srv = server({"/d.tar.gz": tgz, "/e.zip": zbuf.getvalue()})
    out = keras.utils.get_file("d", origin=srv.base + "/d.tar.gz", extract=True)
    assert out == str(cache(tmp_path) / "d")  # no dot: <fname>, archive <fname>_archive
    assert (cache(tmp_path) / "d_archive").is_file()
    assert open(os.path.join(out, "top", "sub", "b.txt"), "rb").read() == b"B"
    out = keras.utils.get_file("e.zip", origin=srv.base + "/e.zip", extract=True)
    assert out == str(cache(tmp_path) / "e_extracted")  # a dot: <stem>_extracted
    assert open(os.path.join(out, "inner", "c.txt"), "rb").read() == b"C"


@pytest.mark.parametrize(
    "members, links, message",
    [
        ({"../escape.txt": b"x"}, (), "outside the extraction folder"),
        ({"/abs.txt": b"x"}, (), "outside the extraction folder"),
        ({"ok.txt": b"x"}, [("link", "/etc/passwd")], "holds a link"),
    ],
)
def test_unsafe_archives_are_refused_whole(tmp_path, server, members, links, message):
    srv = server({"/bad.tar.gz": tar_bytes(members, links)})
    with pytest.raises(CnnlabError, match=message):
        keras.utils.get_file("bad", origin=srv.base + "/bad.tar.gz", extract=True)
    assert not (tmp_path / "keras_home" / "escape.txt").exists()
    assert not (cache(tmp_path) / "bad").exists() or not os.listdir(
        cache(tmp_path) / "bad"
    )


def test_unsafe_zip_is_refused(tmp_path, server):
    zbuf = io.BytesIO()
    with zipfile.ZipFile(zbuf, "w") as z:
        z.writestr("../../escape.txt", b"x")
    srv = server({"/bad.zip": zbuf.getvalue()})
    with pytest.raises(CnnlabError, match="outside the extraction folder"):
        keras.utils.get_file("bad.zip", origin=srv.base + "/bad.zip", extract=True)
    assert not (tmp_path / "escape.txt").exists()


def test_cifar10_download_through_get_file(tmp_path, server, monkeypatch):
    """The whole route of a first use: the archive downloaded, checked, extracted, read."""
    src = tmp_path / "src"
    write_cifar10(str(src))
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w:gz") as tar:
        tar.add(str(src / "cifar-10-batches-py"), arcname="cifar-10-batches-py")
    body = buf.getvalue()
    srv = server({"/cifar-10-python.tar.gz": body})
    from cnnlab.data import cifar

    spec = list(cifar.SPECS["cifar10"])
    spec[2], spec[3] = (
        srv.base + "/cifar-10-python.tar.gz",
        hashlib.sha256(body).hexdigest(),
    )
    monkeypatch.setitem(cifar.SPECS, "cifar10", tuple(spec))
    (x, y), _ = keras.datasets.cifar10.load_data()
    assert x.shape == (20, 32, 32, 3)
    assert (
        cache(tmp_path)
        / "cifar-10-batches-py-target"
        / "cifar-10-batches-py"
        / "test_batch"
    ).is_file()
    gzip.decompress(body)  # it was a real gzip stream
