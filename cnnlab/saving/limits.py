"""Bounds on everything read from a file, checked before anything is allocated.

A hostile or damaged file can declare any size; these limits turn that into a
clear error instead of exhausting memory (a zip bomb, a huge safetensors header).
"""

from __future__ import annotations

GIB = 1024**3
MIB = 1024**2

#: Total uncompressed size of all members of a ``.keras`` archive.
MAX_ARCHIVE_UNCOMPRESSED = 2 * GIB
#: ... and at most this many times the archive's own size (Keras stores members
#: uncompressed, ratio 1), except below ``RATIO_FLOOR`` where small files may compress well.
MAX_COMPRESSION_RATIO = 50
RATIO_FLOOR = 64 * MIB
#: Number of members in a ``.keras`` archive (Keras writes 3, more with assets).
MAX_ARCHIVE_MEMBERS = 10_000
#: ``config.json`` / ``metadata.json``.
MAX_CONFIG_BYTES = 64 * MIB
MAX_METADATA_BYTES = 1 * MIB
#: The JSON header of a safetensors file (the safetensors library's own limit).
MAX_SAFETENSORS_HEADER = 100_000_000
#: Optimizer variables per model weight (Keras's largest, Adam with amsgrad, has 3).
MAX_SLOTS_PER_WEIGHT = 8
#: ``load_model`` builds the architecture a file declares only if its weights fit in this many bytes:
#: 4 times what the file holds for them (Keras stores weights uncompressed; 4 leaves room for a
#: compressed HDF5), and at least ``WEIGHT_BUDGET_FLOOR``. A small file cannot make cnnlab allocate
#: terabytes (``Dense(units=10**12)``).
WEIGHT_BUDGET_FACTOR = 4
WEIGHT_BUDGET_FLOOR = 64 * MIB


def weight_budget(stored_bytes):
    return max(WEIGHT_BUDGET_FACTOR * int(stored_bytes), WEIGHT_BUDGET_FLOOR)


#: A functional model read from a file (with every model nested in it): layers, layer calls,
#: nesting depth, tensors per call. ResNet-152 has about 520 layers; these leave room and stop a
#: crafted file from building millions of objects.
MAX_GRAPH_LAYERS = 20_000
MAX_GRAPH_NODES = 50_000
MAX_NODES_PER_LAYER = 10_000
MAX_MODEL_NESTING = 32
MAX_TENSORS_PER_CALL = 10_000
