"""Downloads with a checksum, written atomically, and ``keras.utils.get_file``.

:func:`download` streams a URL into a temporary file beside the target, hashing as
it goes; only a file whose hash matches (and that passes an optional ``check``)
is renamed over the target, so a cut-off or tampered download never becomes a
cache file. ``CNNLAB_OFFLINE=1`` forbids every download.

:func:`get_file` is Keras 3's: the same cache layout (``~/.keras/datasets/``, or
``$KERAS_HOME``, ``cache_dir``/``cache_subdir``), the same names for extracted
archives (``fname`` without a dot: the archive is ``<fname>_archive`` and the
folder ``<fname>``; with a dot, ``<stem>_extracted``), the same hash rules
(64 hex digits: SHA-256, else MD5; a cached file with the wrong hash is fetched
again). Archives (tar, tar.gz, tar.bz2, zip) are extracted **safely**: a member
with an absolute path, a ``..`` that leaves the target, a link or a device file
makes the whole archive refused (Keras skips such members; cnnlab stops, because
a partial data set is worse than a clear error), and the extraction goes to a
temporary folder that is renamed into place only when complete.
"""

from __future__ import annotations

import hashlib
import http.client
import os
import shutil
import sys
import tarfile
import tempfile
import urllib.parse
import urllib.request
import zipfile

from ..atomic import atomic_write
from ..errors import CnnlabError
from ..progress import Progbar

_CHUNK = 1 << 20
#: Largest download :func:`get_file` accepts (CIFAR-100's archive is 169 MB).
MAX_GET_FILE_BYTES = 4 * 1024**3


class DownloadFailed(Exception):
    """The download could not happen (network, HTTP error): look elsewhere."""


def offline() -> bool:
    """``CNNLAB_OFFLINE`` is set to a true value: no download is attempted."""
    return os.environ.get("CNNLAB_OFFLINE", "").strip().lower() in (
        "1",
        "true",
        "yes",
        "on",
    )


def hasher_for(expected, where="download", algorithm="auto"):
    """``(hasher, name, expected)`` for a hex digest: 64 digits SHA-256, 32 digits MD5."""
    expected = expected.strip().lower()
    if algorithm == "sha256" or (algorithm == "auto" and len(expected) == 64):
        return hashlib.sha256(), "sha256", expected
    if algorithm == "md5" or (algorithm == "auto" and len(expected) == 32):
        return hashlib.md5(usedforsecurity=False), "md5", expected
    raise CnnlabError(
        f"{where}: file_hash must be a SHA-256 (64 hex digits) or MD5 (32 hex digits). "
        f"Received: {expected!r}"
    )


def hash_file(path, algorithm="sha256"):
    """The hex digest of a file (``keras.utils`` ``hash_file``)."""
    hasher = (
        hashlib.sha256()
        if algorithm == "sha256"
        else hashlib.md5(usedforsecurity=False)
    )
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(_CHUNK), b""):
            hasher.update(chunk)
    return hasher.hexdigest()


def _mb(step, target):
    """The count of a download's bar: megabytes received (of the total, when the server said it)."""
    return f"{step / 1e6:.1f}/{'?' if target is None else f'{target / 1e6:.1f}'} MB"


class _Progress:
    """A download's bar: the package's one progress display (:class:`cnnlab.progress.Progbar`), counting bytes."""

    def __init__(self, total, label, enabled):
        self.done = 0
        self.bar = Progbar(total, verbose=1 if enabled else 0, unit_name="B", count=_mb)

    def update(self, n):
        self.done += n
        self.bar.update(self.done)

    def close(self):
        self.bar.update(self.done, finalize=True)


def download(
    url,
    target,
    expected_hash,
    *,
    where="download",
    what=None,
    max_bytes=MAX_GET_FILE_BYTES,
    check=None,
    progress=True,
    timeout=60,
    hint="",
    algorithm="auto",
):
    """Download ``url`` to ``target`` atomically, checking its hash (``None``: no check).

    The bytes go to a temporary file in the target's directory, which is fsynced,
    checked (hash, then ``check(tmp_path)`` if given) and only then renamed over the
    target; on any failure the temporary file is deleted. Raises
    :class:`DownloadFailed` for network trouble, :class:`CnnlabError` for a checksum
    mismatch or a bad file.
    """
    what = what or os.path.basename(target)
    if expected_hash is not None:
        hasher, algo, expected = hasher_for(expected_hash, where, algorithm)
    else:
        hasher = algo = expected = None
    scheme = urllib.parse.urlparse(url).scheme.lower()
    if scheme not in ("http", "https", "file"):
        raise CnnlabError(
            f"{where}: cannot download from {url!r}: only http, https and file URLs are supported. "
            f"Received: scheme {scheme!r}"
        )
    directory = os.path.dirname(target)
    try:
        os.makedirs(directory, exist_ok=True)
    except OSError as e:
        raise DownloadFailed(
            f"cannot create the cache directory {directory}: {e}"
        ) from None

    print(f"Downloading data from {url}", file=sys.stderr, flush=True)
    try:
        response = urllib.request.urlopen(url, timeout=timeout)
    except (
        OSError,
        http.client.HTTPException,
        ValueError,
    ) as e:  # URLError is an OSError
        raise DownloadFailed(str(getattr(e, "reason", e))) from None

    def write(out):
        """Stream the response into the temporary file, hashing as it goes."""
        status = getattr(response, "status", None)
        if status is not None and scheme in ("http", "https") and status != 200:
            raise DownloadFailed(f"HTTP status {status}")
        length = response.headers.get("Content-Length") if response.headers else None
        total = int(length) if length and length.isdigit() else None
        if total is not None and total > max_bytes:
            raise DownloadFailed(
                f"the server announces {total} bytes, more than the {max_bytes} accepted for {what}"
            )
        bar = _Progress(total, os.path.basename(target), progress)
        received = 0
        try:
            while True:
                try:
                    chunk = response.read(_CHUNK)
                except (OSError, http.client.HTTPException) as e:
                    raise DownloadFailed(f"connection lost: {e}") from None
                if not chunk:
                    break
                received += len(chunk)
                if received > max_bytes:
                    raise DownloadFailed(
                        f"more than {max_bytes} bytes received; not {what}"
                    )
                if hasher is not None:
                    hasher.update(chunk)
                out.write(chunk)
                bar.update(len(chunk))
        finally:
            bar.close()
        if total is not None and received != total:
            raise DownloadFailed(
                f"the download stopped after {received} of {total} bytes"
            )
        if hasher is not None:
            actual = hasher.hexdigest()
            if actual != expected:
                raise CnnlabError(
                    f"{where}: the file downloaded from {url} failed its checksum: expected {algo} {expected}, "
                    f"got {actual}. The download was deleted and nothing was written to {target}. "
                    f"{hint + ' ' if hint else ''}Received: {algo} {actual}"
                )

    try:
        with response:
            atomic_write(target, write, check=check)
    except (OSError, http.client.HTTPException) as e:
        # network trouble while reading, or the cache directory not writable/full
        raise DownloadFailed(f"{type(e).__name__}: {e}") from None
    return target


# --------------------------------------------------------------------------- archives


def _inside(base, name):
    """Whether ``name`` (an archive member) lands inside ``base`` when extracted."""
    if os.path.isabs(name) or name.startswith(("/", "\\")):
        return False
    full = os.path.realpath(os.path.join(base, name))
    return full == os.path.realpath(base) or full.startswith(
        os.path.realpath(base) + os.sep
    )


def _check_members(archive_path, members, base):
    """Refuse the archive if any member would leave ``base`` or is not a plain file/folder."""
    for name, kind in members:
        if not _inside(base, name):
            raise CnnlabError(
                f"get_file: the archive {archive_path} has a member that would be written outside the "
                f"extraction folder ({name!r}); it was not extracted. Received: member {name!r}"
            )
        if kind not in ("file", "dir"):
            raise CnnlabError(
                f"get_file: the archive {archive_path} holds a {kind} ({name!r}); cnnlab extracts only "
                f"plain files and folders, so it was not extracted. Received: member {name!r}"
            )


def extract_archive(file_path, path=".", archive_format="auto"):
    """Extract a tar or zip archive into ``path`` safely (see the module docstring).
    Returns ``True`` if ``file_path`` was an archive of an accepted format."""
    if archive_format is None:
        return False
    formats = (
        ["tar", "zip"]
        if archive_format == "auto"
        else (
            [archive_format]
            if isinstance(archive_format, str)
            else list(archive_format)
        )
    )
    for fmt in formats:
        if fmt not in ("tar", "zip"):
            raise CnnlabError(
                f'get_file: archive_format must be "auto", "tar", "zip" or None. '
                f"Received: archive_format={archive_format!r}"
            )
        is_match = tarfile.is_tarfile if fmt == "tar" else zipfile.is_zipfile
        if not is_match(file_path):
            continue
        parent = os.path.dirname(os.path.abspath(path)) or "."
        os.makedirs(parent, exist_ok=True)
        staging = tempfile.mkdtemp(prefix=".extract-", dir=parent)
        try:
            if fmt == "tar":
                with tarfile.open(file_path) as archive:
                    infos = archive.getmembers()
                    _check_members(
                        file_path,
                        [
                            (
                                i.name,
                                "file"
                                if i.isfile()
                                else "dir"
                                if i.isdir()
                                else "link"
                                if (i.issym() or i.islnk())
                                else "device or special file",
                            )
                            for i in infos
                        ],
                        staging,
                    )
                    for info in infos:
                        target = os.path.join(staging, info.name)
                        if info.isdir():
                            os.makedirs(target, exist_ok=True)
                            continue
                        os.makedirs(os.path.dirname(target), exist_ok=True)
                        with (
                            archive.extractfile(info) as src,
                            open(target, "wb") as dst,
                        ):
                            shutil.copyfileobj(src, dst)
            else:
                with zipfile.ZipFile(file_path) as archive:
                    infos = archive.infolist()
                    kinds = []
                    for i in infos:
                        mode = (i.external_attr >> 16) & 0o170000
                        kinds.append(
                            (
                                i.filename,
                                "dir"
                                if i.is_dir()
                                else "link"
                                if mode == 0o120000
                                else "file",
                            )
                        )
                    _check_members(file_path, kinds, staging)
                    for info in infos:
                        target = os.path.join(staging, info.filename)
                        if info.is_dir():
                            os.makedirs(target, exist_ok=True)
                            continue
                        os.makedirs(os.path.dirname(target), exist_ok=True)
                        with archive.open(info) as src, open(target, "wb") as dst:
                            shutil.copyfileobj(src, dst)
        except (tarfile.TarError, zipfile.BadZipFile, EOFError, OSError) as e:
            shutil.rmtree(staging, ignore_errors=True)
            raise CnnlabError(
                f"get_file: cannot extract {file_path}: {e}. The archive is corrupt or truncated; "
                f"delete it and download it again. Received: {type(e).__name__}"
            ) from None
        except BaseException:
            shutil.rmtree(staging, ignore_errors=True)
            raise
        # into place: the existing contents of `path` are merged with (and overwritten by) the archive's
        os.makedirs(path, exist_ok=True)
        for name in os.listdir(staging):
            destination = os.path.join(path, name)
            if os.path.isdir(destination) and not os.path.islink(destination):
                shutil.rmtree(destination)
            elif os.path.lexists(destination):
                os.remove(destination)
            os.replace(os.path.join(staging, name), destination)
        shutil.rmtree(staging, ignore_errors=True)
        return True
    return False


# --------------------------------------------------------------------------- keras.utils.get_file


def keras_home():
    """``$KERAS_HOME``, else ``~/.keras`` (``/tmp/.keras`` when that is not writable), as Keras."""
    from .mnist import keras_cache_dir

    return os.path.dirname(keras_cache_dir())


def get_file(
    fname=None,
    origin=None,
    untar=False,
    md5_hash=None,
    file_hash=None,
    cache_subdir="datasets",
    hash_algorithm="auto",
    extract=False,
    archive_format="auto",
    cache_dir=None,
    force_download=False,
):
    """``keras.utils.get_file``: the path of ``fname`` in the Keras cache, downloaded from
    ``origin`` if it is not there (or its hash is wrong), extracted if asked."""
    if origin is None:
        raise CnnlabError(
            'get_file: Please specify the "origin" argument (URL of the file to download). '
            "Received: origin=None"
        )
    if md5_hash is not None and file_hash is None:
        file_hash, hash_algorithm = md5_hash, "md5"
    if hash_algorithm not in ("auto", "sha256", "md5"):
        raise CnnlabError(
            f'get_file: hash_algorithm must be "auto", "sha256" or "md5". '
            f"Received: hash_algorithm={hash_algorithm!r}"
        )
    base = os.path.expanduser(cache_dir) if cache_dir is not None else keras_home()
    if not os.access(base, os.W_OK) and os.path.exists(base):
        base = os.path.join(tempfile.gettempdir(), ".keras")
    datadir = os.path.join(base, cache_subdir)
    given = fname is not None and os.fspath(fname) != ""
    fname = (
        os.fspath(fname)
        if given
        else os.path.basename(urllib.parse.urlsplit(origin).path)
    )
    if not fname:
        raise CnnlabError(
            f"get_file: Can't parse the file name from the origin provided: '{origin}'. Please "
            f"specify the `fname` argument."
        )
    if os.sep in fname or (os.altsep and os.altsep in fname) or fname in (".", ".."):
        raise CnnlabError(
            f"get_file: Paths are no longer accepted as the `fname` argument. To specify the file's "
            f"parent directory, use the `cache_dir` argument. Received: fname={fname}"
        )
    extraction_dir = None
    if extract or untar:
        if given and "." in fname:
            target = os.path.join(datadir, fname)
            extraction_dir = os.path.join(
                datadir, f"{fname[: fname.find('.')]}_extracted"
            )
        else:
            extraction_dir = os.path.join(datadir, fname)
            target = os.path.join(datadir, f"{fname}_archive")
    else:
        target = os.path.join(datadir, fname)

    fetch = force_download or not os.path.exists(target)
    if not fetch and file_hash is not None:
        _, algo, expected = hasher_for(file_hash, "get_file", hash_algorithm)
        if hash_file(target, algo) != expected:
            print(
                f"A local file was found, but it seems to be incomplete or outdated because the {algo} file hash "
                f"does not match the original value of {file_hash} so we will re-download the data."
            )
            fetch = True
    if fetch:
        if offline():
            raise CnnlabError(
                f"get_file: {target} is not in the cache and CNNLAB_OFFLINE is set, so it was not "
                f"downloaded from {origin}. Put the file there, or unset CNNLAB_OFFLINE. "
                f"Received: origin={origin!r}"
            )
        try:
            download(
                origin, target, file_hash, where="get_file", algorithm=hash_algorithm
            )
        except DownloadFailed as e:
            raise CnnlabError(
                f"get_file: URL fetch failure on {origin}: {e}. Received: origin={origin!r}"
            ) from None
    if extraction_dir is not None:
        extract_archive(target, extraction_dir, "tar" if untar else archive_format)
        return extraction_dir
    return target
