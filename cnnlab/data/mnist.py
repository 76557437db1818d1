"""MNIST, the way Keras loads it, without Keras and without pickle.

``load_data()`` returns ``(x_train, y_train), (x_test, y_test)`` exactly like
``keras.datasets.mnist.load_data()``: ``uint8`` images of shape ``(N, 28, 28)``
and ``uint8`` labels of shape ``(N,)`` (60,000 training and 10,000 test images).
It looks for the data in this order and takes the first place that has it:

1. ``path=``: a directory holding ``mnist.npz`` (Keras's file) or the four
   standard IDX files (``train-images-idx3-ubyte.gz``, ``train-labels-idx1-ubyte.gz``,
   ``t10k-images-idx3-ubyte.gz``, ``t10k-labels-idx1-ubyte.gz``; gzipped or not),
   or the path of an ``.npz`` file itself. A bare file name such as Keras's own
   ``path="mnist.npz"`` that does not exist here names a file in the Keras cache,
   as it does in Keras.
2. the directory (or ``.npz`` file) in the environment variable ``CNNLAB_DATA``;
3. the Keras cache, ``~/.keras/datasets/mnist.npz`` (``$KERAS_HOME/datasets/`` when
   ``KERAS_HOME`` is set, as in Keras);
4. a download of Keras's ``mnist.npz`` into the Keras cache, checked against its
   SHA-256 and written atomically. Never attempted when ``CNNLAB_OFFLINE=1``.
   The address can be changed with ``origin=`` or ``CNNLAB_MNIST_URL``, the
   expected hash with ``file_hash=`` or ``CNNLAB_MNIST_SHA256``.

``load_sample()`` returns the same structure from a small real sample that ships
inside the package (2,000 training and 500 test images, 200 and 50 per class),
for demos and tests that must run offline in seconds.

Files are read as data only: ``np.load(..., allow_pickle=False)`` for ``.npz``
and a checked parser for IDX. Every problem with a file raises
:class:`cnnlab.errors.CnnlabError` naming the file.
"""

from __future__ import annotations

import gzip
import os
import zipfile
import zlib
from importlib import resources

import numpy as np

from ..errors import CnnlabError
from .download import DownloadFailed as _DownloadFailed
from .download import download
from .download import offline as _offline

__all__ = [
    "load_data",
    "load_sample",
    "keras_cache_dir",
    "DEFAULT_ORIGIN",
    "DEFAULT_FILE_HASH",
]

#: Where Keras downloads MNIST from (``keras.datasets.mnist.load_data``).
DEFAULT_ORIGIN = "https://storage.googleapis.com/tensorflow/tf-keras-datasets/mnist.npz"
#: SHA-256 of that file, as Keras checks it.
DEFAULT_FILE_HASH = "731c5ac602752760c8e48fbffcf8c3b850d9dc2a2aedcf2cc48468fc17b673d1"

NPZ_NAME = "mnist.npz"
NPZ_KEYS = ("x_train", "y_train", "x_test", "y_test")
SAMPLE_RESOURCE = "mnist_sample.npz"

# (split, kind) -> accepted file names, in order of preference.
IDX_FILES = {
    ("train", "images"): ("train-images-idx3-ubyte", "train-images.idx3-ubyte"),
    ("train", "labels"): ("train-labels-idx1-ubyte", "train-labels.idx1-ubyte"),
    ("test", "images"): ("t10k-images-idx3-ubyte", "t10k-images.idx3-ubyte"),
    ("test", "labels"): ("t10k-labels-idx1-ubyte", "t10k-labels.idx1-ubyte"),
}
IDX_MAGIC_IMAGES = 2051  # 0x00000803: unsigned bytes, 3 dimensions
IDX_MAGIC_LABELS = 2049  # 0x00000801: unsigned bytes, 1 dimension
IMAGE_SIDE = 28
NUM_CLASSES = 10
# Anything declaring more images than this is not an MNIST-like file; refuse it
# before allocating anything (EMNIST's largest split has ~700k images).
MAX_IMAGES = 1_000_000
# Largest download accepted (Keras's mnist.npz is 11.5 MB).
MAX_DOWNLOAD_BYTES = 256 * 1024 * 1024
_CHUNK = 1 << 20

_HOW_TO_PROVIDE = (
    "To provide MNIST without a download, do one of:\n"
    "  - pass load_data(path=DIR) with DIR holding mnist.npz or the four IDX files "
    "(train-images-idx3-ubyte.gz, train-labels-idx1-ubyte.gz, "
    "t10k-images-idx3-ubyte.gz, t10k-labels-idx1-ubyte.gz), or path=FILE.npz;\n"
    "  - set the environment variable CNNLAB_DATA=DIR (same forms);\n"
    "  - copy Keras's mnist.npz into the Keras cache at {cache}.\n"
    "For a small bundled sample that needs no files at all, use load_sample()."
)


# --------------------------------------------------------------------------- public API


def load_data(path=None, *, origin=None, file_hash=None, progress=True):
    """Load MNIST as ``(x_train, y_train), (x_test, y_test)``, like Keras.

    Args:
        path: a directory with ``mnist.npz`` or the four IDX files, or an
            ``.npz`` file. ``None`` (the default) searches ``CNNLAB_DATA``, then
            the Keras cache, then downloads. A bare name such as ``"mnist.npz"``
            that does not exist in the current directory names a file in the
            Keras cache, as in ``keras.datasets.mnist.load_data(path=...)``.
        origin: URL to download ``mnist.npz`` from when no local copy exists
            (default: ``CNNLAB_MNIST_URL``, else Keras's URL).
        file_hash: expected SHA-256 (64 hex digits; 32 digits are read as MD5)
            of the downloaded file (default: ``CNNLAB_MNIST_SHA256``, else the
            hash Keras checks).
        progress: show a progress indication while downloading.

    Returns:
        ``((x_train, y_train), (x_test, y_test))``: ``uint8`` arrays of shapes
        ``(N, 28, 28)`` and ``(N,)``.

    Raises:
        CnnlabError: a file is missing, corrupt or not MNIST-shaped (the
            message names the file), a download failed its checksum, or MNIST
            was found nowhere (the message lists every place looked in).
    """
    looked = []  # human-readable lines: where we looked and what we found
    cache_dir = keras_cache_dir()
    cache_name = NPZ_NAME

    # (a) explicit path argument: authoritative.
    if path is not None:
        p = os.fspath(path)
        expanded = os.path.expanduser(p)
        is_bare_name = os.path.basename(p) == p and not os.path.exists(expanded)
        if is_bare_name and p.endswith(".npz"):
            # Keras semantics: path is a file name relative to the Keras cache.
            cache_name = p
        else:
            found = _load_from_location(
                os.path.abspath(expanded), looked, what="path= argument"
            )
            if found is not None:
                return found
            raise CnnlabError(
                "mnist.load_data: no MNIST data at the path you gave.\n"
                + _format_looked(looked)
                + "\n"
                + _HOW_TO_PROVIDE.format(cache=os.path.join(cache_dir, NPZ_NAME))
                + f"\nReceived: path={p!r}"
            )

    # (b) CNNLAB_DATA
    env_dir = os.environ.get("CNNLAB_DATA")
    if env_dir:
        found = _load_from_location(
            os.path.abspath(os.path.expanduser(env_dir)), looked, what="$CNNLAB_DATA"
        )
        if found is not None:
            return found
    else:
        looked.append("$CNNLAB_DATA: not set")

    # (c) the Keras cache
    cache_file = os.path.join(cache_dir, cache_name)
    if os.path.isfile(cache_file):
        return _load_npz(cache_file)
    looked.append(f"Keras cache: {cache_file} (not found)")

    # (d) download into the Keras cache
    url = origin or os.environ.get("CNNLAB_MNIST_URL") or DEFAULT_ORIGIN
    expected = file_hash or os.environ.get("CNNLAB_MNIST_SHA256") or DEFAULT_FILE_HASH
    if _offline():
        looked.append(f"download from {url}: skipped because CNNLAB_OFFLINE is set")
    else:
        try:
            _download(url, cache_file, expected, progress=progress)
        except _DownloadFailed as e:
            looked.append(f"download from {url}: failed ({e})")
        else:
            return _load_npz(cache_file)

    raise CnnlabError(
        "mnist.load_data: could not find MNIST anywhere.\n"
        + _format_looked(looked)
        + "\n"
        + _HOW_TO_PROVIDE.format(cache=os.path.join(cache_dir, NPZ_NAME))
        + f"\nReceived: path={path!r}"
    )


def load_sample():
    """The small real MNIST sample bundled with cnnlab, as Keras's tuples.

    2,000 training and 500 test images taken from the real MNIST files (the
    first 200 training and the first 50 test images of each digit, in their
    original order; ``scripts/make_mnist_sample.py`` builds it). Needs no file
    and no network.

    Returns:
        ``((x_train, y_train), (x_test, y_test))``: ``uint8`` arrays of shapes
        ``(2000, 28, 28)``, ``(2000,)``, ``(500, 28, 28)`` and ``(500,)``.
    """
    resource = resources.files(__package__).joinpath(SAMPLE_RESOURCE)
    with resources.as_file(resource) as p:
        return _load_npz(os.fspath(p))


def sample_indices():
    """Indices into the full MNIST training and test sets of the bundled sample,
    as ``(train_indices, test_indices)`` (``int64``)."""
    resource = resources.files(__package__).joinpath(SAMPLE_RESOURCE)
    with resources.as_file(resource) as p:
        with np.load(os.fspath(p), allow_pickle=False) as f:
            return np.asarray(f["train_indices"]), np.asarray(f["test_indices"])


def keras_cache_dir():
    """The directory Keras caches datasets in: ``$KERAS_HOME/datasets`` when
    ``KERAS_HOME`` is set, else ``~/.keras/datasets`` (``/tmp/.keras/datasets``
    when the home directory is not writable, as in Keras)."""
    keras_home = os.environ.get("KERAS_HOME")
    if keras_home:
        base = os.path.expanduser(keras_home)
    else:
        home = os.path.expanduser("~")
        if not os.access(home, os.W_OK):
            home = "/tmp"
        base = os.path.join(home, ".keras")
    return os.path.join(base, "datasets")


# --------------------------------------------------------------------------- search


def _format_looked(looked):
    return "Looked in:\n" + "\n".join(f"  - {line}" for line in looked)


def _find_idx(directory, split, kind):
    for stem in IDX_FILES[(split, kind)]:
        for name in (stem + ".gz", stem):
            candidate = os.path.join(directory, name)
            if os.path.isfile(candidate):
                return candidate
    return None


def _load_from_location(location, looked, what):
    """Load from a directory or an ``.npz`` file; ``None`` if nothing is there.

    Anything that *is* there but broken raises: a corrupt file is never skipped
    silently in favour of another copy.
    """
    if os.path.isfile(location):
        return _load_npz(location)
    if not os.path.isdir(location):
        looked.append(f"{what}: {location} (does not exist)")
        return None
    npz = os.path.join(location, NPZ_NAME)
    if os.path.isfile(npz):
        return _load_npz(npz)
    found = {key: _find_idx(location, *key) for key in IDX_FILES}
    present = [k for k, v in found.items() if v is not None]
    if not present:
        looked.append(
            f"{what}: {location} (a directory without {NPZ_NAME} or the four MNIST IDX files)"
        )
        return None
    if len(present) < len(IDX_FILES):
        missing = [IDX_FILES[k][0] + "[.gz]" for k, v in found.items() if v is None]
        raise CnnlabError(
            f"mnist.load_data: {location} holds only some of the four MNIST IDX files; "
            f"missing: {', '.join(missing)}. Put all four there (or {NPZ_NAME}). "
            f"Received: {sorted(os.path.basename(v) for v in found.values() if v)}"
        )
    x_train = _read_idx(found[("train", "images")], IDX_MAGIC_IMAGES)
    y_train = _read_idx(found[("train", "labels")], IDX_MAGIC_LABELS)
    x_test = _read_idx(found[("test", "images")], IDX_MAGIC_IMAGES)
    y_test = _read_idx(found[("test", "labels")], IDX_MAGIC_LABELS)
    _check_split(
        x_train, y_train, found[("train", "images")], found[("train", "labels")]
    )
    _check_split(x_test, y_test, found[("test", "images")], found[("test", "labels")])
    return (x_train, y_train), (x_test, y_test)


def _check_split(x, y, x_file, y_file):
    if x.shape[0] != y.shape[0]:
        raise CnnlabError(
            f"mnist.load_data: {x_file} has {x.shape[0]} images but {y_file} has "
            f"{y.shape[0]} labels; they must match. Received: images {x.shape}, labels {y.shape}"
        )
    _check_labels(y, y_file)


def _check_labels(y, filename):
    if y.size and int(y.max()) >= NUM_CLASSES:
        raise CnnlabError(
            f"mnist.load_data: {filename} has label {int(y.max())}; MNIST labels are 0..9. "
            f"Received: labels in [{int(y.min())}, {int(y.max())}]"
        )


# --------------------------------------------------------------------------- IDX


def _read_exact(f, n, filename, what):
    """Read exactly ``n`` bytes in chunks (allocation grows with the real data,
    never with a declared size). Raises if the file ends early."""
    buf = bytearray()
    while len(buf) < n:
        chunk = f.read(min(_CHUNK, n - len(buf)))
        if not chunk:
            raise CnnlabError(
                f"mnist.load_data: {filename} is truncated: expected {n} bytes of {what}, "
                f"got {len(buf)}. Download the file again. Received: {len(buf)} of {n} bytes"
            )
        buf += chunk
    return buf


def _read_idx(filename, expected_magic):
    """Parse one MNIST IDX file (gzipped or not) into a ``uint8`` array."""
    ndim = expected_magic & 0xFF
    kind = "images" if expected_magic == IDX_MAGIC_IMAGES else "labels"
    try:
        with open(filename, "rb") as raw:
            head = raw.read(2)
            raw.seek(0)
            compressed = head == b"\x1f\x8b"
            raw_size = os.fstat(raw.fileno()).st_size
            f = gzip.GzipFile(fileobj=raw, mode="rb") if compressed else raw
            try:
                header = _read_exact(f, 4 + 4 * ndim, filename, "header")
                magic = int.from_bytes(header[:4], "big")
                if magic != expected_magic:
                    raise CnnlabError(
                        f"mnist.load_data: {filename} is not an MNIST {kind} IDX file: its magic "
                        f"number is {magic}, expected {expected_magic}. "
                        f"Received: magic {magic} (0x{magic:08x})"
                    )
                dims = [
                    int.from_bytes(header[4 + 4 * i : 8 + 4 * i], "big")
                    for i in range(ndim)
                ]
                if kind == "images" and dims[1:] != [IMAGE_SIDE, IMAGE_SIDE]:
                    raise CnnlabError(
                        f"mnist.load_data: {filename} declares {dims[1]}x{dims[2]} images; "
                        f"MNIST images are 28x28. Received: dimensions {tuple(dims)}"
                    )
                if dims[0] > MAX_IMAGES:
                    raise CnnlabError(
                        f"mnist.load_data: {filename} declares {dims[0]} {kind}, more than the "
                        f"{MAX_IMAGES} an MNIST-like file can hold; the file is corrupt. "
                        f"Received: dimensions {tuple(dims)}"
                    )
                count = int(np.prod(dims, dtype=np.int64))
                if not compressed and raw_size != len(header) + count:
                    short = raw_size < len(header) + count
                    problem = "truncated" if short else "extra bytes at the end"
                    raise CnnlabError(
                        f"mnist.load_data: {filename} declares {tuple(dims)} = {count} bytes of "
                        f"{kind} after its {len(header)}-byte header, but the file is "
                        f"{raw_size} bytes ({problem}). "
                        f"Download the file again. Received: {raw_size} bytes"
                    )
                data = _read_exact(f, count, filename, kind)
                if f.read(1):
                    raise CnnlabError(
                        f"mnist.load_data: {filename} has extra bytes after the {count} bytes of "
                        f"{kind} its header declares {tuple(dims)}; the file is corrupt. "
                        f"Received: more than {len(header) + count} bytes"
                    )
            finally:
                if compressed:
                    f.close()
    except CnnlabError:
        raise
    except (OSError, EOFError, zlib.error) as e:
        # gzip.BadGzipFile is an OSError; a cut-off gzip stream is an EOFError.
        raise CnnlabError(
            f"mnist.load_data: cannot read {filename}: {e}. The file is corrupt or "
            f"truncated; download it again. Received: {type(e).__name__}"
        ) from None
    return np.frombuffer(data, dtype=np.uint8).reshape(dims)


# --------------------------------------------------------------------------- NPZ


def _check_npz_members(filename):
    """Check the ``.npy`` headers inside the archive before numpy allocates:
    object dtypes and absurd or inconsistent shapes are refused here."""
    try:
        with zipfile.ZipFile(filename) as zf:
            infos = {info.filename: info for info in zf.infolist()}
            missing = [k for k in NPZ_KEYS if k + ".npy" not in infos]
            if missing:
                raise CnnlabError(
                    f"mnist.load_data: {filename} lacks the key(s) {missing}; Keras's mnist.npz "
                    f"holds {list(NPZ_KEYS)}. Received keys: "
                    f"{sorted(n[:-4] for n in infos if n.endswith('.npy'))}"
                )
            for key in NPZ_KEYS:
                info = infos[key + ".npy"]
                with zf.open(info) as m:
                    version = np.lib.format.read_magic(m)
                    if version == (1, 0):
                        shape, _, dtype = np.lib.format.read_array_header_1_0(m)
                    else:
                        shape, _, dtype = np.lib.format.read_array_header_2_0(m)
                    header_len = m.tell() if m.seekable() else None
                if dtype.hasobject:
                    raise CnnlabError(
                        f"mnist.load_data: {filename} key {key!r} is an object array; cnnlab "
                        f"never loads pickled data. Save plain uint8 arrays (np.savez). "
                        f"Received: dtype {dtype}"
                    )
                _check_shape_dtype(filename, key, shape, dtype)
                if header_len is not None:
                    declared = int(np.prod(shape, dtype=np.int64)) * dtype.itemsize
                    if info.file_size != header_len + declared:
                        raise CnnlabError(
                            f"mnist.load_data: {filename} key {key!r} declares shape {shape} "
                            f"({declared} bytes) but holds {info.file_size - header_len} bytes; "
                            f"the file is corrupt. Received: {info.file_size} bytes"
                        )
    except CnnlabError:
        raise
    except (zipfile.BadZipFile, ValueError, OSError, EOFError, zlib.error) as e:
        raise CnnlabError(
            f"mnist.load_data: {filename} is not a valid .npz archive ({e}). "
            f"Download it again or rebuild it with np.savez. Received: {type(e).__name__}"
        ) from None


def _check_shape_dtype(filename, key, shape, dtype):
    is_x = key.startswith("x_")
    want = "(N, 28, 28)" if is_x else "(N,)"
    ok_shape = (
        len(shape) == 3 and tuple(shape[1:]) == (IMAGE_SIDE, IMAGE_SIDE)
        if is_x
        else len(shape) == 1
    )
    if not ok_shape:
        raise CnnlabError(
            f"mnist.load_data: {filename} key {key!r} has shape {tuple(shape)}; MNIST needs "
            f"{want}. Received: shape {tuple(shape)}"
        )
    if shape[0] > MAX_IMAGES:
        raise CnnlabError(
            f"mnist.load_data: {filename} key {key!r} declares {shape[0]} entries, more than "
            f"the {MAX_IMAGES} an MNIST-like file can hold. Received: shape {tuple(shape)}"
        )
    if dtype != np.uint8:
        raise CnnlabError(
            f"mnist.load_data: {filename} key {key!r} has dtype {dtype}; MNIST arrays are uint8 "
            f"as in Keras (convert with .astype(np.uint8) before saving). Received: dtype {dtype}"
        )


def _load_npz(filename):
    """Load and validate a Keras-style ``mnist.npz`` (never unpickles)."""
    if not zipfile.is_zipfile(filename):
        raise CnnlabError(
            f"mnist.load_data: {filename} is not an .npz (zip) archive. Keras's mnist.npz or "
            f"a file written by np.savez is expected. Received: a non-zip file"
        )
    _check_npz_members(filename)
    try:
        with np.load(filename, allow_pickle=False) as f:
            arrays = {k: np.asarray(f[k]) for k in NPZ_KEYS}
    except (ValueError, OSError, EOFError, zipfile.BadZipFile, zlib.error) as e:
        raise CnnlabError(
            f"mnist.load_data: cannot read {filename}: {e}. Received: {type(e).__name__}"
        ) from None
    for key, arr in arrays.items():  # re-check what was actually loaded
        _check_shape_dtype(filename, key, arr.shape, arr.dtype)
    for split in ("train", "test"):
        x, y = arrays["x_" + split], arrays["y_" + split]
        if x.shape[0] != y.shape[0]:
            raise CnnlabError(
                f"mnist.load_data: {filename} has {x.shape[0]} x_{split} images but "
                f"{y.shape[0]} y_{split} labels; they must match. "
                f"Received: x_{split} {x.shape}, y_{split} {y.shape}"
            )
        _check_labels(y, f"{filename} (y_{split})")
    return (arrays["x_train"], arrays["y_train"]), (arrays["x_test"], arrays["y_test"])


# --------------------------------------------------------------------------- download


def _download(url, target, expected_hash, *, progress=True, timeout=60):
    """Download Keras's ``mnist.npz`` to ``target`` (see :func:`cnnlab.data.download.download`);
    its structure is checked before it becomes the cache file."""

    def check(tmp_path):
        try:
            _load_npz(tmp_path)
        except CnnlabError as e:
            raise CnnlabError(
                f"mnist.load_data: the file downloaded from {url} matches the expected hash but "
                f"is not a usable MNIST .npz; nothing was written to {target}. {e}"
            ) from None

    return download(
        url,
        target,
        expected_hash,
        where="mnist.load_data",
        what="mnist.npz",
        max_bytes=MAX_DOWNLOAD_BYTES,
        check=check,
        progress=progress,
        timeout=timeout,
        hint="Check origin=/CNNLAB_MNIST_URL and file_hash=/CNNLAB_MNIST_SHA256, or provide "
        "the file yourself.",
    )
