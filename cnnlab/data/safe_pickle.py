"""Reading the pickle files of the CIFAR data sets without unpickling anything.

Keras's CIFAR cache holds the original ``cifar-10-batches-py`` / ``cifar-100-python``
files: Python 2 pickles of a dict of byte-string keys whose values are byte strings,
lists of ints or byte strings, and one NumPy ``uint8`` array. ``pickle.load`` on
such a file would run whatever callables the file names; cnnlab never calls it.

:func:`read` is a small interpreter of exactly the opcodes those files (and the
same structures written by Python 3, protocols 2 to 4) use: containers (dict,
list, tuple), ints, bools, None, byte and text strings, the memo, and the three
globals NumPy's array pickles name (``numpy.core.multiarray._reconstruct`` or
``numpy._core.multiarray._reconstruct``, ``numpy.ndarray``, ``numpy.dtype``). Those
globals are never looked up or called: they become inert markers, and an array is
rebuilt at the end with ``np.frombuffer`` from the validated parts (a plain numeric
dtype, a shape, exactly that many bytes). Any other opcode or global, an object
array, or a malformed stream raises :class:`UnsafePickleError` naming the file
and the position, before anything has been executed.
"""

from __future__ import annotations

import re
import struct

import numpy as np

from ..errors import CnnlabError

_RECONSTRUCT = {
    ("numpy.core.multiarray", "_reconstruct"),
    ("numpy._core.multiarray", "_reconstruct"),
}
_NDARRAY = ("numpy", "ndarray")
_DTYPE = ("numpy", "dtype")
_PLAIN_DTYPE = re.compile(r"^[biuf][1248]$|^b1$")
_MAX_DEPTH = 64


class UnsafePickleError(CnnlabError):
    """A pickle file that uses something beyond plain data and NumPy arrays, or is malformed."""


class _Global:
    def __init__(self, module, name):
        self.key = (module, name)


class _ArrayStub:
    """What ``_reconstruct(ndarray, (0,), b'b')`` would make, until BUILD fills it."""

    def __init__(self):
        self.state = None


class _DtypeStub:
    def __init__(self, code):
        self.code = code
        self.order = "|"


class _Mark:
    pass


_MARK = _Mark()


def read(data: bytes, filename: str = "<bytes>"):
    """The value pickled in ``data`` (dicts, lists, tuples, ints, bytes, str, None,
    bools and NumPy numeric arrays), without executing anything."""
    return _Reader(data, filename).run()


def read_file(path: str):
    try:
        with open(path, "rb") as f:
            data = f.read()
    except OSError as e:
        raise CnnlabError(f"cannot read {path}: {e}. Received: {path!r}") from None
    return read(data, path)


class _Reader:
    def __init__(self, data, filename):
        self.data = memoryview(data)
        self.pos = 0
        self.filename = filename
        self.stack: list = []
        self.marks: list = []
        self.memo: dict = {}

    # ------------------------------------------------------------------ helpers

    def fail(self, why, at=None):
        at = self.pos if at is None else at
        raise UnsafePickleError(
            f"{self.filename}: {why} (at byte {at}). cnnlab reads pickle files as data only "
            f"(dicts, lists, numbers, strings, NumPy arrays) and never runs code from them; "
            f"the file is corrupt, truncated or not a CIFAR data file. Download it again. "
            f"Received: byte {at} of {len(self.data)}"
        )

    def take(self, n):
        if n < 0 or self.pos + n > len(self.data):
            self.fail(
                f"the file ends inside a value ({n} bytes wanted, {len(self.data) - self.pos} left): truncated"
            )
        chunk = self.data[self.pos : self.pos + n]
        self.pos += n
        return chunk

    def unpack(self, fmt):
        return struct.unpack(fmt, self.take(struct.calcsize(fmt)))[0]

    def line(self):
        end = bytes(self.data[self.pos : self.pos + 256]).find(b"\n")
        if end < 0:
            self.fail("a GLOBAL name without its end of line")
        text = bytes(self.take(end + 1))[:-1]
        return text.decode("ascii", errors="replace")

    def pop(self):
        if not self.stack or self.stack[-1] is _MARK:
            self.fail("an opcode needs a value but the stack is empty")
        return self.stack.pop()

    def pop_mark(self):
        if not self.marks:
            self.fail("an opcode needs a MARK that was never set")
        start = (
            self.marks.pop() + 1
        )  # stack[start - 1] is the MARK itself, left for the caller
        items = self.stack[start:]
        del self.stack[start:]
        return items

    def top(self, kind, what):
        if not self.stack or not isinstance(self.stack[-1], kind):
            self.fail(f"{what} on something that is not a {kind.__name__}")
        return self.stack[-1]

    # ------------------------------------------------------------------ the interpreter

    def run(self):
        ops = self.OPS
        while True:
            at = self.pos
            code = bytes(self.take(1))
            handler = ops.get(code)
            if handler is None and code != b".":
                self.fail(
                    f"pickle opcode {code!r} is not one that data files use, so it is refused",
                    at,
                )
            if code == b".":
                if len(self.stack) != 1 or self.marks:
                    self.fail("the pickle stops with a malformed stack", at)
                return _finish(self.stack.pop(), self, 0)
            handler(self)

    def _proto(self):
        version = self.unpack("<B")
        if version > 5:
            self.fail(f"pickle protocol {version} is unknown")

    def _frame(self):
        self.unpack("<Q")  # protocol 4 frames: a length, nothing to do

    def _mark(self):
        self.marks.append(len(self.stack))
        self.stack.append(_MARK)

    def _push(value):
        return lambda self: self.stack.append(value)

    def _int(fmt):
        return lambda self: self.stack.append(self.unpack(fmt))

    def _long(fmt):
        def op(self):
            n = self.unpack(fmt)
            if n > 64:
                self.fail(f"an integer of {n} bytes is not CIFAR data")
            self.stack.append(
                int.from_bytes(bytes(self.take(n)), "little", signed=True)
            )

        return op

    def _bytes(fmt):
        return lambda self: self.stack.append(bytes(self.take(self.unpack(fmt))))

    def _text(fmt):
        def op(self):
            raw = bytes(self.take(self.unpack(fmt)))
            try:
                self.stack.append(raw.decode("utf-8"))
            except UnicodeDecodeError:
                self.fail("a text string that is not UTF-8")

        return op

    def _put(fmt):
        def op(self):
            key = self.unpack(fmt)
            if not self.stack:
                self.fail("PUT with an empty stack")
            self.memo[key] = self.stack[-1]

        return op

    def _memoize(self):
        if not self.stack:
            self.fail("MEMOIZE with an empty stack")
        self.memo[len(self.memo)] = self.stack[-1]

    def _get(fmt):
        def op(self):
            key = self.unpack(fmt)
            if key not in self.memo:
                self.fail(f"GET of memo entry {key}, which was never stored")
            self.stack.append(self.memo[key])

        return op

    def _tuple(n):
        def op(self):
            items = [self.pop() for _ in range(n)][::-1]
            self.stack.append(tuple(items))

        return op

    def _tuple_mark(self):
        items = self.pop_mark()
        self.stack[-1] = tuple(items)  # replaces the MARK

    def _list_mark(self):
        items = self.pop_mark()
        self.stack[-1] = list(items)

    def _dict_mark(self):
        items = self.pop_mark()
        if len(items) % 2:
            self.fail("DICT with an odd number of items")
        self.stack[-1] = dict(zip(items[::2], items[1::2]))

    def _append(self):
        value = self.pop()
        self.top(list, "APPEND").append(value)

    def _appends(self):
        items = self.pop_mark()
        self.stack.pop()  # the MARK
        self.top(list, "APPENDS").extend(items)

    def _setitem(self):
        value, key = self.pop(), self.pop()
        self._store(self.top(dict, "SETITEM"), key, value)

    def _setitems(self):
        items = self.pop_mark()
        self.stack.pop()
        target = self.top(dict, "SETITEMS")
        if len(items) % 2:
            self.fail("SETITEMS with an odd number of items")
        for key, value in zip(items[::2], items[1::2]):
            self._store(target, key, value)

    def _store(self, target, key, value):
        if not isinstance(key, (bytes, str, int)):
            self.fail(f"a dict key of type {type(key).__name__}")
        target[key] = value

    def _global(self):
        at = self.pos
        module, name = self.line(), self.line()
        self._push_global(module, name, at)

    def _stack_global(self):
        at = self.pos
        name, module = self.pop(), self.pop()
        if not isinstance(module, str) or not isinstance(name, str):
            self.fail("STACK_GLOBAL without two names", at)
        self._push_global(module, name, at)

    def _push_global(self, module, name, at):
        key = (module, name)
        if key not in _RECONSTRUCT and key not in (_NDARRAY, _DTYPE):
            self.fail(
                f"the file names the global {module}.{name}; only NumPy's array globals are accepted, "
                f"and nothing is ever called",
                at,
            )
        self.stack.append(_Global(module, name))

    def _reduce(self):
        at = self.pos
        args, func = self.pop(), self.pop()
        if not isinstance(func, _Global) or not isinstance(args, tuple):
            self.fail("REDUCE on something that is not an accepted global", at)
        if func.key in _RECONSTRUCT:
            if len(args) != 3 or not (
                isinstance(args[0], _Global) and args[0].key == _NDARRAY
            ):
                self.fail("an array reconstruction with unexpected arguments", at)
            self.stack.append(_ArrayStub())
        elif func.key == _DTYPE:
            code = (
                _ascii(args[0]) if args else None
            )  # Python 2 files hold byte strings here
            if code is None or not _PLAIN_DTYPE.match(code):
                self.fail(
                    f"a NumPy dtype {args[:1]!r}; only plain numeric dtypes are accepted",
                    at,
                )
            self.stack.append(_DtypeStub(code))
        else:
            self.fail("REDUCE of numpy.ndarray itself", at)

    def _build(self):
        at = self.pos
        state = self.pop()
        target = self.stack[-1] if self.stack else None
        if isinstance(target, _DtypeStub):
            order = (
                _ascii(state[1])
                if isinstance(state, tuple) and len(state) >= 2
                else None
            )
            if order not in ("<", ">", "|", "="):
                self.fail("a dtype with an unexpected state", at)
            target.order = order
        elif isinstance(target, _ArrayStub):
            if not isinstance(state, tuple) or len(state) != 5:
                self.fail("an array with an unexpected state", at)
            target.state = state
        else:
            self.fail("BUILD on something that is not a NumPy array or dtype", at)

    OPS = {
        b"\x80": _proto,
        b"\x95": _frame,
        b"(": _mark,
        b".": None,
        b"N": _push(None),
        b"\x88": _push(True),
        b"\x89": _push(False),
        b"}": lambda self: self.stack.append({}),
        b"]": lambda self: self.stack.append([]),
        b")": lambda self: self.stack.append(()),
        b"J": _int("<i"),
        b"K": _int("<B"),
        b"M": _int("<H"),
        b"\x8a": _long("<B"),
        b"U": _bytes("<B"),
        b"T": _bytes("<I"),
        b"C": _bytes("<B"),
        b"B": _bytes("<I"),
        b"X": _text("<I"),
        b"\x8c": _text("<B"),
        b"q": _put("<B"),
        b"r": _put("<I"),
        b"\x94": _memoize,
        b"h": _get("<B"),
        b"j": _get("<I"),
        b"\x85": _tuple(1),
        b"\x86": _tuple(2),
        b"\x87": _tuple(3),
        b"t": _tuple_mark,
        b"l": _list_mark,
        b"d": _dict_mark,
        b"a": _append,
        b"e": _appends,
        b"s": _setitem,
        b"u": _setitems,
        b"c": _global,
        b"\x93": _stack_global,
        b"R": _reduce,
        b"b": _build,
    }


def _ascii(value):
    if isinstance(value, bytes):
        try:
            return value.decode("ascii")
        except UnicodeDecodeError:
            return None
    return value if isinstance(value, str) else None


def _finish(value, reader, depth):
    """Replace the inert array markers by real arrays, checking every part."""
    if depth > _MAX_DEPTH:
        reader.fail("values nested too deeply")
    if isinstance(value, _ArrayStub):
        return _array(value, reader)
    if isinstance(value, (_DtypeStub, _Global)):
        reader.fail("a NumPy dtype or global outside an array")
    if isinstance(value, dict):
        return {k: _finish(v, reader, depth + 1) for k, v in value.items()}
    if isinstance(value, list):
        return [_finish(v, reader, depth + 1) for v in value]
    if isinstance(value, tuple):
        return tuple(_finish(v, reader, depth + 1) for v in value)
    return value


def _array(stub, reader):
    if stub.state is None:
        reader.fail("an array without its contents")
    _, shape, dtype, fortran, raw = stub.state
    if not isinstance(dtype, _DtypeStub):
        reader.fail("an array without a plain dtype")
    if not isinstance(raw, bytes):
        reader.fail("an array whose contents are not raw bytes (an object array)")
    if not isinstance(shape, tuple) or not all(
        isinstance(n, int) and n >= 0 for n in shape
    ):
        reader.fail(f"an array with the shape {shape!r}")
    dt = np.dtype(dtype.code).newbyteorder(dtype.order if dtype.order in "<>" else "=")
    count = int(np.prod(shape, dtype=np.int64))
    if count * dt.itemsize != len(raw):
        reader.fail(
            f"an array of shape {shape} ({count * dt.itemsize} bytes) holding {len(raw)} bytes"
        )
    array = np.frombuffer(raw, dtype=dt)
    array = array.reshape(shape, order="F" if fortran else "C")
    return np.array(array, dtype=dt.newbyteorder("="))
