"""The array module every op uses.

cnnlab's arithmetic goes through ``xp`` (NumPy by default) so that an array
library with NumPy's API (CuPy, for instance) can run the same code. Ops call
``xp.<function>``, never ``numpy.<function>``, for anything ``xp`` offers.
"""

import numpy

xp = numpy

#: The array type ops take and return, for type hints: ``xp``'s array (NumPy's ndarray).
Array = numpy.ndarray

#: The dtype of weights and activations, as in Keras.
floatx = "float32"


def as_strided(x, shape, strides):
    """A read-only strided view of ``x`` (sliding windows without copying)."""
    return xp.lib.stride_tricks.as_strided(
        x, shape=shape, strides=strides, writeable=False
    )


_allocator = {"tuned": False}


def keep_freed_memory() -> bool:
    """Ask glibc's allocator to keep freed memory for reuse instead of handing it
    back to the system after every training step.

    A training step allocates and frees the same large arrays (im2col matrices,
    feature maps) again and again. By default glibc returns large blocks to the
    system and takes them back as fresh pages, and the page faults cost about
    40 % of a step here. Keeping them makes the process's memory stay at its
    peak instead (flat from step to step). Called once when training starts;
    ``CNNLAB_KEEP_FREED_MEMORY=0`` turns it off. Returns whether it took effect.
    """
    import os

    if _allocator["tuned"] or os.environ.get("CNNLAB_KEEP_FREED_MEMORY", "1") == "0":
        return _allocator["tuned"]
    try:
        import ctypes
        import ctypes.util

        libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6")
        m_trim_threshold, m_top_pad, m_mmap_threshold = -1, -2, -3
        ok = (
            libc.mallopt(m_mmap_threshold, 1 << 30) == 1
            and libc.mallopt(m_trim_threshold, (1 << 31) - 1)
            == 1  # mallopt takes a C int
            and libc.mallopt(m_top_pad, 1 << 28) == 1
        )
    except (OSError, AttributeError):
        ok = False  # not glibc (macOS, Windows, musl): nothing to tune
    _allocator["tuned"] = ok
    return ok


_fast_path = {"on": None}


def set_fast_path(on: bool | None) -> None:
    """Switch the fast engine (``cnnlab.model.engine``) on or off; ``None``: back to the
    default, on unless the environment says ``CNNLAB_FAST_PATH=0``. Off, every model runs
    on the reference executor: layer by layer, one thread, each weight updated on its own."""
    _fast_path["on"] = None if on is None else bool(on)


def fast_path() -> bool:
    """Whether the fast engine is on (see :func:`set_fast_path`)."""
    import os

    if _fast_path["on"] is not None:
        return _fast_path["on"]
    return os.environ.get("CNNLAB_FAST_PATH", "1").strip() != "0"
