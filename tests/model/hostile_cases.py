"""Hostile and damaged model files, generated deterministically from a seed, and a worker
that feeds them to cnnlab's loaders (used by tests/model/test_hostile_files.py).

    python hostile_cases.py WORKDIR SEED START

runs cases START, START+1, ... in this process, printing one line per case::

    begin <i>
    case <i> <outcome> <seconds> <name>

where ``outcome`` is ``refused:<ErrorClass>`` (a ValueError, cnnlab's errors included),
``loaded`` (the file was valid after all: a flipped bit in a weight's value), or
``OTHER:<ErrorClass>:<message>`` (a bug). A payload that would create ``WORKDIR/PWNED``
if anything ran it is checked after every case (``EXECUTED``). The parent watches the
``begin`` lines to name a case that crashes the process or hangs.

Each case is ``(name, data, filename, loader, expect)``: ``loader`` is ``load_model`` or the
base model whose ``load_weights`` gets the file; ``expect`` is ``fail`` (the file is invalid
by construction: truncated, lying, crafted) or ``any`` (random damage that may leave a valid
file, e.g. a flipped bit inside a weight's value; loading it must then simply work).
"""

from __future__ import annotations

import io
import json
import os
import pickle
import random
import struct
import sys
import time
import warnings
import zipfile

import numpy as np

MARKER = "PWNED"
EVIL_MODULE = "cnnlab_evil_payload_mod"


# ---- the valid files everything starts from ----------------------------------------
def base_models():
    from cnnlab import keras
    from cnnlab.layers import clear_session

    keras.utils.set_random_seed(4)
    clear_session()
    cnn = keras.Sequential(
        [
            keras.Input(shape=(8, 8, 1)),
            keras.layers.Conv2D(4, 3, activation="relu"),
            keras.layers.MaxPooling2D(),
            keras.layers.Conv2D(6, 2, padding="same", activation="relu"),
            keras.layers.Flatten(),
            keras.layers.Dense(5, activation="softmax"),
        ]
    )
    cnn.compile(
        optimizer="adam", loss="sparse_categorical_crossentropy", metrics=["accuracy"]
    )
    rng = np.random.default_rng(0)
    x, y = rng.random((16, 8, 8, 1)).astype("float32"), rng.integers(0, 5, 16)
    cnn.train_on_batch(x, y)
    cnn.train_on_batch(x, y)
    clear_session()
    conv1d = keras.Sequential(
        [
            keras.Input(shape=(20, 3)),
            keras.layers.Conv1D(4, 3, activation="relu"),
            keras.layers.MaxPooling1D(2),
            keras.layers.Conv1D(5, 3, padding="same"),
            keras.layers.GlobalAveragePooling1D(),
            keras.layers.Dropout(0.2),
            keras.layers.Dense(2, activation="sigmoid"),
        ]
    )
    conv1d.compile(optimizer="rmsprop", loss="binary_crossentropy")
    graph = graph_model(keras)
    graph.train_on_batch(
        [x[:, :, :, :1], rng.random((16, 3)).astype("float32")], rng.integers(0, 5, 16)
    )
    return {"cnn": cnn, "conv1d": conv1d, "graph": graph}


def graph_model(keras):
    """A functional model: two inputs, a residual Add, a nested Sequential, a Concatenate."""
    from cnnlab.layers import clear_session

    clear_session()
    L = keras.layers
    image, meta = (
        keras.Input(shape=(8, 8, 1), name="image"),
        keras.Input(shape=(3,), name="meta"),
    )
    a = L.Conv2D(4, 3, padding="same", activation="relu")(image)
    b = L.Conv2D(4, 3, padding="same")(a)
    x = L.Add()([a, b])
    x = keras.Sequential([L.MaxPooling2D(), L.Flatten()], name="head")(x)
    x = L.Concatenate()([x, meta])
    model = keras.Model(
        [image, meta], L.Dense(5, activation="softmax")(x), name="graph"
    )
    model.compile(optimizer="adam", loss="sparse_categorical_crossentropy")
    return model


def decoder_model():
    """Transposed, depthwise and separable convolutions (issue 14): their weights and arguments."""
    from cnnlab import keras
    from cnnlab.layers import clear_session

    clear_session()
    model = keras.Sequential(
        [
            keras.Input(shape=(4, 4, 2)),
            keras.layers.Conv2DTranspose(
                3, 3, strides=2, padding="same", output_padding=1
            ),
            keras.layers.PReLU(shared_axes=[1, 2]),
            keras.layers.DepthwiseConv2D(3, depth_multiplier=2),
            keras.layers.UpSampling2D(interpolation="bilinear"),
            keras.layers.SeparableConv2D(2, 3),
            keras.layers.Resizing(5, 5, crop_to_aspect_ratio=True),
            keras.layers.Flatten(),
            keras.layers.Dense(2, activation="softmax"),
        ]
    )
    model.compile(optimizer="adam", loss="sparse_categorical_crossentropy")
    return model


def fresh_model(kind):
    """A new model of the same architecture as ``base_models()[kind]`` (for load_weights)."""
    from cnnlab import keras
    from cnnlab.layers import clear_session

    clear_session()
    if kind == "decoder":
        return decoder_model()
    if kind == "graph":
        return graph_model(keras)
    if kind == "cnn":
        model = keras.Sequential(
            [
                keras.Input(shape=(8, 8, 1)),
                keras.layers.Conv2D(4, 3, activation="relu"),
                keras.layers.MaxPooling2D(),
                keras.layers.Conv2D(6, 2, padding="same", activation="relu"),
                keras.layers.Flatten(),
                keras.layers.Dense(5, activation="softmax"),
            ]
        )
        model.compile(optimizer="adam", loss="sparse_categorical_crossentropy")
    else:
        model = keras.Sequential(
            [
                keras.Input(shape=(20, 3)),
                keras.layers.Conv1D(4, 3, activation="relu"),
                keras.layers.MaxPooling1D(2),
                keras.layers.Conv1D(5, 3, padding="same"),
                keras.layers.GlobalAveragePooling1D(),
                keras.layers.Dropout(0.2),
                keras.layers.Dense(2, activation="sigmoid"),
            ]
        )
        model.compile(optimizer="rmsprop", loss="binary_crossentropy")
    return model


def base_files(workdir):
    models = base_models()
    files = {}
    for kind, model in models.items():
        for ext in (".keras", ".weights.h5", ".safetensors"):
            path = os.path.join(workdir, f"base_{kind}{ext}")
            (model.save if ext == ".keras" else model.save_weights)(path)
            with open(path, "rb") as f:
                files[(kind, ext)] = f.read()
    return files


# ---- helpers to take files apart and put them together --------------------------------
def zip_members(data):
    with zipfile.ZipFile(io.BytesIO(data)) as z:
        return [(i.filename, z.read(i)) for i in z.infolist()]


def make_zip(members, compression=zipfile.ZIP_STORED):
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", compression=compression) as z:
        for name, payload in members:
            z.writestr(name, payload)
    return buf.getvalue()


def replace_member(data, name, payload):
    return make_zip([(n, payload if n == name else p) for n, p in zip_members(data)])


def keras_config(data):
    return json.loads(dict(zip_members(data))["config.json"])


def with_config(data, config):
    text = config if isinstance(config, (bytes, str)) else json.dumps(config)
    return replace_member(
        data, "config.json", text.encode() if isinstance(text, str) else text
    )


def safetensors_parts(data):
    n = int.from_bytes(data[:8], "little")
    return json.loads(data[8 : 8 + n]), data[8 + n :]


def safetensors_bytes(header, body, raw=None):
    text = raw if raw is not None else json.dumps(header).encode()
    return len(text).to_bytes(8, "little") + text + body


def h5_file(build):
    """An HDF5 file's bytes, written by ``build(h5py.File)``."""
    import h5py

    buf = io.BytesIO()
    with h5py.File(buf, "w") as f:
        build(f)
    return buf.getvalue()


def h5_edit(data, edit):
    """Copy HDF5 bytes, with ``edit(h5py.File)`` applied."""
    import h5py

    buf = io.BytesIO(data)
    with h5py.File(buf, "r+") as f:
        edit(f)
    return buf.getvalue()


class _Payload:
    """Pickles to a call of open(marker, "w"): what would run if anything unpickled the file."""

    def __init__(self, marker):
        self.marker = marker

    def __reduce__(self):
        return (open, (self.marker, "w"))


# ---- the cases ---------------------------------------------------------------------------
def generate(seed, workdir):
    rng = random.Random(seed)
    marker = os.path.join(workdir, MARKER)
    files = base_files(workdir)
    cases = []

    def add(name, data, filename, loader, expect="fail"):
        cases.append((name, data, filename, loader, expect))

    loaders = {
        ".keras": ["load_model", None],
        ".weights.h5": [None],
        ".safetensors": ["load_model", None],
    }

    def loader_for(kind, ext, k):
        choice = loaders[ext][k % len(loaders[ext])]
        return choice or kind

    # 1. Truncated files: every one is invalid.
    for (kind, ext), data in files.items():
        cuts = sorted(
            {0, 1, 7, 8, 9, len(data) - 1, len(data) - 2}
            | {rng.randrange(1, len(data)) for _ in range(30)}
        )
        for k, cut in enumerate(cuts):
            add(
                f"truncated {kind}{ext} at {cut}/{len(data)}",
                data[:cut],
                f"t{ext}",
                loader_for(kind, ext, k),
            )

    # 2. Flipped bits and 3. overwritten, inserted, deleted bytes: may leave a valid file.
    for (kind, ext), data in files.items():
        for k in range(60):
            damaged = bytearray(data)
            flips = rng.randint(1, 8)
            for _ in range(flips):
                pos = rng.randrange(len(damaged))
                damaged[pos] ^= 1 << rng.randrange(8)
            add(
                f"{flips} bit flips in {kind}{ext} (#{k})",
                bytes(damaged),
                f"f{ext}",
                loader_for(kind, ext, k),
                "any",
            )
        for k in range(20):
            pos = rng.randrange(len(data))
            width = rng.randint(1, 64)
            junk = bytes(rng.randrange(256) for _ in range(width))
            how = k % 3
            if how == 0:
                damaged, what = data[:pos] + junk + data[pos + width :], "overwritten"
            elif how == 1:
                damaged, what = data[:pos] + junk + data[pos:], "inserted"
            else:
                damaged, what = data[:pos] + data[pos + width :], "deleted"
            add(
                f"{width} bytes {what} at {pos} in {kind}{ext}",
                damaged,
                f"j{ext}",
                loader_for(kind, ext, k),
                "any",
            )

    # 4. Random garbage behind each format's magic bytes.
    magics = {
        ".keras": b"PK\x03\x04",
        ".weights.h5": b"\x89HDF\r\n\x1a\n",
        ".safetensors": b"",
    }
    for k in range(60):
        ext = [".keras", ".weights.h5", ".safetensors"][k % 3]
        size = rng.choice([0, 3, 8, 64, 512, 4096])
        junk = bytes(rng.randrange(256) for _ in range(size))
        if ext == ".safetensors" and size >= 8:
            junk = rng.randrange(0, size).to_bytes(8, "little") + junk[8:]
        add(
            f"garbage {ext} ({size} bytes)",
            magics[ext] + junk,
            f"g{ext}",
            loader_for("cnn", ext, k),
        )

    # 5. Code that would run if loaded: pickles under every name, a pickled npz, a Lambda layer.
    for protocol in range(0, pickle.HIGHEST_PROTOCOL + 1):
        blob = pickle.dumps(_Payload(marker), protocol=protocol)
        for ext in (".keras", ".weights.h5", ".safetensors"):
            add(
                f"pickle protocol {protocol} renamed {ext}",
                blob,
                f"p{ext}",
                loader_for("cnn", ext, protocol),
            )
        add(
            f"pickle protocol {protocol} as config.json",
            replace_member(files[("cnn", ".keras")], "config.json", blob),
            "pc.keras",
            "load_model",
        )
        add(
            f"pickle protocol {protocol} as model.weights.h5",
            replace_member(files[("cnn", ".keras")], "model.weights.h5", blob),
            "pw.keras",
            "load_model",
        )
    obj = np.empty(1, dtype=object)
    obj[0] = _Payload(marker)
    npz = io.BytesIO()
    np.savez(npz, **{"arr_0": obj})
    keras_npz = make_zip(
        [
            (n, p)
            for n, p in zip_members(files[("cnn", ".keras")])
            if n != "model.weights.h5"
        ]
        + [("model.weights.npz", npz.getvalue())]
    )
    add(
        "model.weights.npz with a pickled object array",
        keras_npz,
        "npz.keras",
        "load_model",
    )
    add("model.weights.npz, load_weights", keras_npz, "npz.keras", "cnn")
    add(
        "a pickled object array saved with np.save, renamed",
        _npy_with_object(marker),
        "npy.keras",
        "load_model",
    )
    config = keras_config(files[("cnn", ".keras")])
    lam = json.loads(json.dumps(config))
    lam["config"]["layers"].insert(
        2,
        {
            "module": "keras.layers",
            "class_name": "Lambda",
            "registered_name": None,
            "config": {
                "name": "lambda",
                "function": {
                    "class_name": "__lambda__",
                    "config": {
                        "code": _marshal_code(marker),
                        "defaults": None,
                        "closure": None,
                    },
                },
            },
        },
    )
    add(
        "Lambda layer carrying marshalled code",
        with_config(files[("cnn", ".keras")], lam),
        "lam.keras",
        "load_model",
    )
    for where in ("layer", "activation", "initializer", "model", "optimizer", "loss"):
        evil = json.loads(json.dumps(config))
        target = {
            "module": EVIL_MODULE,
            "class_name": "Evil",
            "config": {},
            "registered_name": f"{EVIL_MODULE}>Evil",
        }
        if where == "layer":
            evil["config"]["layers"][1] = {**target, "config": {"name": "evil"}}
            expect = "fail"
        elif where == "activation":
            evil["config"]["layers"][1]["config"]["activation"] = target
            expect = "fail"
        elif where == "initializer":
            evil["config"]["layers"][1]["config"]["kernel_initializer"] = target
            expect = "fail"
        elif where == "model":
            evil.update(module=EVIL_MODULE, registered_name=f"{EVIL_MODULE}>Sequential")
            expect = "fail"
        elif where == "optimizer":
            evil["compile_config"]["optimizer"] = target
            expect = "any"  # warns, loads uncompiled
        else:
            evil["compile_config"]["loss"] = target
            expect = "any"
        add(
            f"class from module {EVIL_MODULE} ({where})",
            with_config(files[("cnn", ".keras")], evil),
            "evil.keras",
            "load_model",
            expect,
        )

    # 6. config.json crafted.
    data = files[("cnn", ".keras")]
    raw_configs = [
        ("deeply nested JSON list", b"[" * 200000 + b"]" * 200000),
        ("deeply nested JSON object", b'{"a":' * 100000 + b"1" + b"}" * 100000),
        (
            "non-UTF-8 config",
            json.dumps(config)
            .encode()
            .replace(b'"sequential"', b'"seq\xff\xfeuential"'),
        ),
        ("UTF-16 config", json.dumps(config).encode("utf-16")),
        ("empty config", b""),
        ("config null", b"null"),
        ("config a list", b"[]"),
        ("config a number", b"1e999"),
        (
            "config with NaN",
            json.dumps(config).replace('"units": 5', '"units": NaN').encode(),
        ),
        (
            "config with Infinity",
            json.dumps(config).replace('"filters": 4', '"filters": Infinity').encode(),
        ),
        ("config truncated", json.dumps(config).encode()[:500]),
        ("config with trailing garbage", json.dumps(config).encode() + b"\x00garbage"),
    ]
    for name, raw in raw_configs:
        add(name, with_config(data, raw), "c.keras", "load_model")

    def edited(path, value, expect="fail"):
        cfg = json.loads(json.dumps(config))
        node = cfg
        for key in path[:-1]:
            node = node[key]
        if value is _DELETE:
            del node[path[-1]]
        else:
            node[path[-1]] = value
        add(
            f"config {'/'.join(map(str, path))} = {str(value)[:60]}",
            with_config(data, cfg),
            "e.keras",
            "load_model",
            expect,
        )

    conv = ["config", "layers", 1, "config"]
    dense = ["config", "layers", 5, "config"]
    for value in [10**12, 2**63, -1, 0, 1.5, "4", True, None, [4], {"a": 4}, 10**400]:
        edited(conv + ["filters"], value)
    for value in [10**9, 2**40, -5, 0, 5.0, "5", False, [], 10**400]:
        edited(dense + ["units"], value)
    for value in [
        [10**9, 10**9],
        [0, 3],
        [-3, 3],
        [3],
        [3, 3, 3],
        "3",
        [3.5, 3],
        [[3], [3]],
        [True, 3],
    ]:
        edited(conv + ["kernel_size"], value)
    for value in [[0, 1], [-1, 1], [10**12, 1], "1", [1, 1, 1]]:
        edited(conv + ["strides"], value)
    for value in ["full", "SAME", 3, None, "causal"]:
        edited(conv + ["padding"], value)
    for value in ["channels_first", "NCHW", 5]:
        edited(conv + ["data_format"], value)
    for value in [[2, 2], 2, "relu"]:
        edited(
            conv + ["dilation_rate"], value, "any" if value in ([2, 2], 2) else "fail"
        )
    for value in [
        "no_such_activation",
        7,
        ["relu"],
        {
            "module": "keras.activations",
            "class_name": "function",
            "config": "evil_fn",
            "registered_name": None,
        },
    ]:
        edited(conv + ["activation"], value)
    for value in [
        "no_init",
        {"module": "keras.initializers", "class_name": "Orthogonal", "config": {}},
        {
            "module": "keras.initializers",
            "class_name": "GlorotUniform",
            "config": {"seed": "x", "gain": 9},
        },
        5,
    ]:
        edited(conv + ["kernel_initializer"], value)
    for value in [
        "float16",
        "int32",
        {
            "module": "keras",
            "class_name": "DTypePolicy",
            "config": {"name": "bfloat16"},
        },
        {"class_name": "DTypePolicy", "config": None},
    ]:
        edited(conv + ["dtype"], value)
    for value in [
        {"module": "keras.regularizers", "class_name": "L2", "config": {"l2": 0.1}},
        "l2",
    ]:
        edited(conv + ["kernel_regularizer"], value, "any")  # supported since issue 14
    for value in [
        {"module": "keras.regularizers", "class_name": "L2", "config": {"l2": -0.1}},
        "l3",
        0.5,
        {
            "module": "keras.regularizers",
            "class_name": "OrthogonalRegularizer",
            "config": {},
        },
        {"module": "keras.regularizers", "class_name": "L1L2", "config": {"l1": "x"}},
    ]:
        edited(conv + ["kernel_regularizer"], value)
    for value in [
        {"module": "keras.constraints", "class_name": "MaxNorm", "config": {"axis": 9}},
        "max",
        {"module": "keras.constraints", "class_name": "NonNeg", "config": {"x": 1}},
    ]:
        edited(conv + ["kernel_constraint"], value)
    inp = ["config", "layers", 0, "config"]
    for value in [
        [None, 10**9, 10**9, 1],
        [None, 8, 8, 2],
        [None, 8, 8],
        [None, -8, 8, 1],
        [None, 0, 8, 1],
        [None, 8.0, 8, 1],
        "None,8,8,1",
        [],
        None,
        [None, 8, 8, 10**6],
    ]:
        edited(inp + ["batch_shape"], value)
    for value in [True, {"x": 1}]:
        edited(inp + ["sparse"], value)
    for value in [
        "LSTM",
        "Lambda",
        "TFOpLambda",
        None,
        5,
        ["Dense"],
        "__import__",
        "Sequential",
        "Functional",
    ]:
        edited(["config", "layers", 3, "class_name"], value)
    for value in [None, "list", {"0": {}}, [1, 2, 3], [[]], [None]]:
        edited(["config", "layers"], value)
    edited(["config", "layers"], [], "any")
    for value in ["Functional", "Model", None, 3, "Sequential2"]:
        edited(["class_name"], value)
    for value in [None, [], "cfg", 5]:
        edited(["config"], value)
    edited(["config", "name"], 12345)
    edited(["config", "some_future_model_option"], {"x": 1})
    edited(["config", "layers", 5, "config", "name"], "conv2d")  # duplicate layer name
    edited(["config", "layers", 1, "config", "name"], ["a"])
    for value in [
        None,
        "adam",
        {"x": 1},
        5,
        "no_such_optimizer",
        {"class_name": "Adam", "config": {"learning_rate": "fast"}},
    ]:
        edited(["compile_config", "optimizer"], value, "any")
    for value in [
        {"module": "keras.losses", "class_name": "Huber", "config": {}},
        7,
        ["mse"],
        "no_such_loss",
    ]:
        edited(["compile_config", "loss"], value, "any")
    for value in ["acc", [[["accuracy"]]], {"a": 1}, [7]]:
        edited(["compile_config", "metrics"], value, "any")
    edited(["compile_config"], "compile", "any")
    edited(["compile_config"], _DELETE, "any")
    nested = json.loads(json.dumps(config))
    deep = {}
    node = deep
    for _ in range(900):
        node["x"] = {}
        node = node["x"]
    nested["config"]["layers"][1]["config"]["kernel_initializer"] = {
        "class_name": "GlorotUniform",
        "config": deep,
    }
    add(
        "deeply nested initializer config",
        with_config(data, nested),
        "n.keras",
        "load_model",
    )

    # 6b. Functional configs that cannot be a graph: each must end in a clear error, built from nothing.
    add_graph_cases(add, files[("graph", ".keras")])

    # 7. Zip-level tricks.
    members = zip_members(data)
    add(
        "zip without config.json",
        make_zip([m for m in members if m[0] != "config.json"]),
        "z.keras",
        "load_model",
    )
    add(
        "zip without the weights",
        make_zip([m for m in members if m[0] != "model.weights.h5"]),
        "z.keras",
        "load_model",
    )
    add(
        "zip with config.json twice",
        make_zip(members + [("config.json", b"{}")]),
        "z.keras",
        "load_model",
    )
    add(
        "zip with 20000 members",
        make_zip(members + [(f"x{i}", b"") for i in range(20000)]),
        "z.keras",
        "load_model",
    )
    add("empty zip", make_zip([]), "z.keras", "load_model")
    big = b"\x00" * (8 * 1024 * 1024)
    add(
        "zip bomb: config.json of 8 MiB of zeros, deflated",
        make_zip(
            [(n, p) for n, p in members if n != "config.json"] + [("config.json", big)],
            zipfile.ZIP_DEFLATED,
        ),
        "bomb.keras",
        "load_model",
        "fail",
    )
    add(
        "zip bomb: weights of 8 MiB of zeros, deflated",
        make_zip(
            [(n, p) for n, p in members if n != "model.weights.h5"]
            + [("model.weights.h5", big)],
            zipfile.ZIP_DEFLATED,
        ),
        "bomb.keras",
        "load_model",
        "fail",
    )
    add(
        "zip bomb: config.json of 80 MiB of zeros, deflated",
        make_zip(
            [(n, p) for n, p in members if n != "config.json"]
            + [("config.json", b"\x00" * (80 << 20))],
            zipfile.ZIP_DEFLATED,
        ),
        "bomb.keras",
        "load_model",
        "fail",
    )
    for k, (field, value) in enumerate(
        [
            ("file_size", 2**40),
            ("file_size", 3),
            ("compress_size", 2**40),
            ("compress_type", 99),
            ("compress_type", 12),
            ("flag_bits", 1),
            ("header_offset", 2**31),
            ("header_offset", 7),
            ("CRC", 0),
        ]
    ):
        # A compressed size of 0xFFFFFFFF (the ZIP64 marker) without ZIP64 data is read as is: the
        # member is intact and loads.
        expect = "any" if field == "compress_size" else "fail"
        add(
            f"zip entry config.json with {field}={value}",
            _zip_lie(data, "config.json", field, value),
            "l.keras",
            "load_model",
            expect,
        )
        add(
            f"zip entry model.weights.h5 with {field}={value}",
            _zip_lie(data, "model.weights.h5", field, value),
            "l.keras",
            "load_model" if k % 2 == 0 else "cnn",
            expect,
        )
    inner = make_zip(members)
    add(
        "a zip inside the zip",
        make_zip([("config.json", json.dumps(config)), ("model.weights.h5", inner)]),
        "zz.keras",
        "load_model",
    )
    add("a .keras file named .weights.h5", data, "k.weights.h5", "cnn")
    add(
        "a .weights.h5 file named .keras",
        files[("cnn", ".weights.h5")],
        "w.keras",
        "load_model",
    )
    add(
        "a safetensors file named .keras",
        files[("cnn", ".safetensors")],
        "s.keras",
        "load_model",
    )
    add("a .keras file named .safetensors", data, "k.safetensors", "load_model")
    add(
        "a Conv1D .keras file loaded into the CNN",
        files[("conv1d", ".keras")],
        "x.keras",
        "cnn",
    )
    add(
        "CNN weights loaded into the Conv1D model",
        files[("cnn", ".weights.h5")],
        "x.weights.h5",
        "conv1d",
    )
    add(
        "CNN safetensors loaded into the Conv1D model",
        files[("cnn", ".safetensors")],
        "x.safetensors",
        "conv1d",
    )

    # 8. HDF5 crafted: shapes, dtypes, structure.
    weights_h5 = files[("cnn", ".weights.h5")]
    paths = [
        "layers/conv2d/vars/0",
        "layers/conv2d/vars/1",
        "layers/conv2d_1/vars/0",
        "layers/dense/vars/0",
        "layers/dense/vars/1",
    ]
    bad_values = [
        ("transposed", lambda a: a.T.copy()),
        ("one more axis", lambda a: a[None]),
        ("scalar", lambda a: np.float32(1.0)),
        ("empty", lambda a: np.zeros((0,) + a.shape[1:], np.float32)),
        ("float64", lambda a: a.astype(np.float64)),
        ("float16", lambda a: a.astype(np.float16)),
        ("int32", lambda a: a.astype(np.int32)),
        ("bool", lambda a: a > 0),
        ("complex64", lambda a: a.astype(np.complex64)),
        ("bytes", lambda a: np.full(a.shape, b"x", dtype="S4")),
        ("pickled bytes", lambda a: np.void(pickle.dumps(_Payload(marker), 2))),
    ]
    for path in paths:
        for label, make in bad_values:
            if label == "transposed" and path.endswith("/1"):
                continue  # a bias transposed is the same bias

            def edit(f, path=path, make=make):
                value = make(f[path][()])
                del f[path]
                f[path] = value

            add(f"h5 {path} {label}", h5_edit(weights_h5, edit), "h.weights.h5", "cnn")
    structural = [
        (
            "huge declared shape",
            lambda f: (
                f.__delitem__(paths[0]),
                f.create_dataset(
                    paths[0], shape=(2**31, 2**20), dtype="f4", chunks=(1, 16)
                ),
            ),
        ),
        (
            "huge declared shape of the right rank",
            lambda f: (
                f.__delitem__(paths[3]),
                f.create_dataset(paths[3], shape=(2**40, 5), dtype="f4", chunks=(1, 5)),
            ),
        ),
        ("dataset missing", lambda f: f.__delitem__(paths[1])),
        (
            "extra dataset",
            lambda f: f["layers/conv2d/vars"].create_dataset(
                "2", data=np.zeros(3, "f4")
            ),
        ),
        ("dataset named 00", lambda f: f["layers/conv2d/vars"].move("0", "00")),
        (
            "group where a dataset goes",
            lambda f: (f.__delitem__(paths[0]), f.create_group(paths[0])),
        ),
        (
            "dataset where vars goes",
            lambda f: (
                f.__delitem__("layers/dense/vars"),
                f.create_dataset("layers/dense/vars", data=np.zeros(3)),
            ),
        ),
        (
            "layers is a dataset",
            lambda f: (f.__delitem__("layers"), f.create_dataset("layers", data=1)),
        ),
        ("layer group missing", lambda f: f.__delitem__("layers/dense")),
        (
            "layer under another key",
            lambda f: f.move("layers/conv2d_1", "layers/conv2d_7"),
        ),
        (
            "soft link",
            lambda f: (
                f.__delitem__(paths[1]),
                f.__setitem__(paths[1], _soft(paths[4])),
            ),
        ),
        (
            "soft link cycle",
            lambda f: (
                f.__delitem__("layers/dense/vars"),
                f.__setitem__("layers/dense/vars", _soft("/layers/dense/vars")),
            ),
        ),
        (
            "external link",
            lambda f: (
                f.__delitem__("layers/dense"),
                f.__setitem__("layers/dense", _external("/etc/passwd", "/x")),
            ),
        ),
        (
            "hard link to the root",
            lambda f: (
                f.__delitem__("layers/dense/vars"),
                f.__setitem__("layers/dense/vars", f["/"]),
            ),
        ),
        ("external raw storage", lambda f: _external_storage(f, paths[4])),
        (
            "optimizer iterations negative",
            lambda f: _set(f, "optimizer/vars/0", np.array(-5, np.int64)),
        ),
        (
            "optimizer iterations float",
            lambda f: _set(f, "optimizer/vars/0", np.array(2.5)),
        ),
        (
            "optimizer iterations string",
            lambda f: _set(f, "optimizer/vars/0", np.bytes_(b"2")),
        ),
        (
            "optimizer slot transposed",
            lambda f: _set(f, "optimizer/vars/2", f["optimizer/vars/2"][()].T.copy()),
        ),
        (
            "optimizer slot int",
            lambda f: _set(
                f, "optimizer/vars/3", f["optimizer/vars/3"][()].astype("i4")
            ),
        ),
    ]
    for label, edit in structural:
        add(f"h5 {label}", h5_edit(weights_h5, edit), "h.weights.h5", "cnn")
        add(
            f"h5 {label} inside .keras",
            replace_member(data, "model.weights.h5", h5_edit(weights_h5, edit)),
            "h.keras",
            "load_model",
        )
    many = h5_edit(
        weights_h5,
        lambda f: [
            f["optimizer/vars"].create_dataset(str(i), data=0.0)
            for i in range(len(f["optimizer/vars"]), 10000)
        ],
    )
    add(
        "h5 optimizer vars 10000 (skipped with a warning)",
        many,
        "h.weights.h5",
        "cnn",
        "any",
    )
    add(
        "h5 optimizer vars 10000 (skipped with a warning) inside .keras",
        replace_member(data, "model.weights.h5", many),
        "h.keras",
        "load_model",
        "any",
    )
    for path in paths:
        corrupted = _corrupted_gzip_chunk(weights_h5, path)
        add(f"h5 gzip chunk of {path} corrupted", corrupted, "g.weights.h5", "cnn")
        add(
            f"h5 gzip chunk of {path} corrupted inside .keras",
            replace_member(data, "model.weights.h5", corrupted),
            "g.keras",
            "load_model",
        )
    add(
        "h5 optimizer vars missing two (skipped with a warning)",
        h5_edit(
            weights_h5,
            lambda f: (
                f.__delitem__("optimizer/vars/13"),
                f.__delitem__("optimizer/vars/12"),
            ),
        ),
        "h.weights.h5",
        "cnn",
        "any",
    )
    add(
        "h5 big-endian weights",
        h5_edit(weights_h5, lambda f: _set(f, paths[3], f[paths[3]][()].astype(">f4"))),
        "h.weights.h5",
        "cnn",
        "any",
    )
    add("h5 an empty file", h5_file(lambda f: None), "e.weights.h5", "cnn")
    add("h5 a file of 50 nested groups", h5_file(_nested_groups), "n.weights.h5", "cnn")

    # 9. safetensors headers that lie.
    header, body = safetensors_parts(files[("cnn", ".safetensors")])
    names = [k for k in header if k != "__metadata__"]
    lies = {
        "dtype": ["F33", "f32", "OBJECT", 5, None, "F64", "I32", "BOOL", ["F32"]],
        "shape": [
            [-1],
            [2**40],
            "6",
            [1.5],
            None,
            [[6]],
            [True],
            [2**64],
            [],
            [0],
            [3, 3, 1, 4, 1, 2],
        ],
        "data_offsets": [
            [0, 2**63],
            [-1, 3],
            [5, 3],
            "0,8",
            [0],
            [0, 8, 9],
            [1.0, 8.0],
            None,
            [True, 8],
            [2**64, 2**64 + 4],
        ],
    }
    for key, values in lies.items():
        for value in values:
            target = rng.choice(names)
            h = json.loads(json.dumps(header))
            h[target][key] = value
            add(
                f"safetensors {target} {key}={str(value)[:40]}",
                safetensors_bytes(h, body),
                "s.safetensors",
                "load_model" if len(cases) % 2 else "cnn",
            )
    for extra_key in ("extra", "__proto__"):
        h = json.loads(json.dumps(header))
        h[names[0]][extra_key] = 1
        add(
            f"safetensors entry with key {extra_key}",
            safetensors_bytes(h, body),
            "s.safetensors",
            "cnn",
        )
    length_lies = [
        0,
        1,
        7,
        2**63,
        2**64 - 1,
        100_000_001,
        len(json.dumps(header)) + 1,
        len(json.dumps(header)) - 1,
    ]
    for n in length_lies:
        text = json.dumps(header).encode()
        add(
            f"safetensors header length {n}",
            n.to_bytes(8, "little") + text + body,
            "s.safetensors",
            "cnn",
        )
    raw_headers = [
        ("not JSON", b"{{{{"),
        ("a JSON list", b"[1,2,3]"),
        ("a number", b"12"),
        ("null", b"null"),
        (
            "non-UTF-8",
            json.dumps(header).encode().replace(b"conv2d", b"conv\xff\xfe", 1),
        ),
        ("deep nesting", b"[" * 100000 + b"]" * 100000),
        (
            "duplicate key",
            json.dumps(header).encode()[:-1]
            + b', "'
            + names[0].encode()
            + b'": '
            + json.dumps(header[names[0]]).encode()
            + b"}",
        ),
        ("NaN offsets", json.dumps(header).replace("[0, ", "[NaN, ", 1).encode()),
    ]
    for label, raw in raw_headers:
        add(
            f"safetensors header {label}",
            safetensors_bytes(None, body, raw=raw),
            "s.safetensors",
            "cnn",
        )
    for label, h, b in [
        ("a tensor missing", {k: v for k, v in header.items() if k != names[-1]}, body),
        ("data longer than the tensors", header, body + b"\x00" * 8),
        ("data shorter than the tensors", header, body[:-4]),
        (
            "an extra tensor",
            {
                **header,
                "evil/x": {
                    "dtype": "F32",
                    "shape": [1],
                    "data_offsets": [len(body), len(body) + 4],
                },
            },
            body + b"\x00" * 4,
        ),
        (
            "tensors renamed",
            {k.replace("conv2d/", "conv2d_9/"): v for k, v in header.items()},
            body,
        ),
    ]:
        add(f"safetensors {label}", safetensors_bytes(h, b), "s.safetensors", "cnn")
    for label, meta in [
        ("metadata not strings", {"format": 1}),
        ("keras_config not JSON", {"keras_config": "{{{"}),
        ("keras_config deep nesting", {"keras_config": "[" * 100000 + "]" * 100000}),
        ("keras_config a list", {"keras_config": "[]"}),
        (
            "keras_config with an evil module",
            {
                "keras_config": json.dumps(
                    {
                        "module": EVIL_MODULE,
                        "class_name": "Sequential",
                        "config": {"layers": []},
                    }
                )
            },
        ),
        ("metadata a list", ["x"]),
        ("no metadata", None),
    ]:
        h = {k: v for k, v in header.items() if k != "__metadata__"}
        if meta is not None:
            h["__metadata__"] = meta
        add(
            f"safetensors {label}",
            safetensors_bytes(h, body),
            "m.safetensors",
            "load_model",
        )
    decoder_cases(add, workdir)
    return cases


def decoder_cases(add, workdir):
    """The transposed/depthwise/separable model: wrong weight shapes, nonsense arguments."""
    model = decoder_model()
    rng = np.random.default_rng(1)
    model.train_on_batch(
        rng.random((4, 4, 4, 2)).astype("float32"), rng.integers(0, 2, 4)
    )
    paths = {
        ext: os.path.join(workdir, f"base_decoder{ext}")
        for ext in (".keras", ".weights.h5")
    }
    model.save(paths[".keras"])
    model.save_weights(paths[".weights.h5"])
    data = {ext: open(path, "rb").read() for ext, path in paths.items()}
    # kernel (3, 3, filters 3, C_in 2); depthwise (3, 3, 3, 2); separable depthwise (3, 3, 6, 1), pointwise (1, 1, 6, 2)
    wrong = [
        (
            "layers/conv2d_transpose/vars/0",
            "in Conv2D's order (C_in, filters swapped)",
            lambda a: a.transpose(0, 1, 3, 2).copy(),
        ),
        (
            "layers/conv2d_transpose/vars/0",
            "one filter short",
            lambda a: a[:, :, :2].copy(),
        ),
        ("layers/conv2d_transpose/vars/0", "a 1-D kernel", lambda a: a[0].copy()),
        (
            "layers/conv2d_transpose/vars/1",
            "bias of C_in entries",
            lambda a: a[:2].copy(),
        ),
        (
            "layers/depthwise_conv2d/vars/0",
            "depth_multiplier 1",
            lambda a: a[..., :1].copy(),
        ),
        (
            "layers/depthwise_conv2d/vars/1",
            "bias too long",
            lambda a: np.concatenate([a, a]),
        ),
        (
            "layers/separable_conv2d/vars/1",
            "pointwise transposed",
            lambda a: a.transpose(0, 1, 3, 2).copy(),
        ),
        (
            "layers/separable_conv2d/vars/0",
            "depthwise as pointwise",
            lambda a: a[:1, :1].copy(),
        ),
        (
            "layers/p_re_lu/vars/0",
            "alpha not shared",
            lambda a: np.zeros((9, 9, 3), np.float32),
        ),
    ]
    for path, label, make in wrong:

        def edit(f, path=path, make=make):
            value = make(f[path][()])
            del f[path]
            f[path] = value

        add(
            f"decoder h5 {path} {label}",
            h5_edit(data[".weights.h5"], edit),
            "d.weights.h5",
            "decoder",
        )
        keras_file = dict(zip_members(data[".keras"]))
        keras_file["model.weights.h5"] = h5_edit(keras_file["model.weights.h5"], edit)
        add(
            f"decoder .keras {path} {label}",
            make_zip(list(keras_file.items())),
            "d.keras",
            "load_model",
        )

    config = keras_config(data[".keras"])
    layer = {
        entry["config"]["name"]: i for i, entry in enumerate(config["config"]["layers"])
    }
    nonsense = [
        ("conv2d_transpose", "output_padding", [2, 2]),
        ("conv2d_transpose", "output_padding", [-1, 0]),
        ("conv2d_transpose", "output_padding", [1]),
        ("conv2d_transpose", "output_padding", "1"),
        ("conv2d_transpose", "output_padding", [True, 0]),
        ("conv2d_transpose", "padding", "causal"),
        ("conv2d_transpose", "filters", 0),
        ("conv2d_transpose", "dilation_rate", [2, 2]),
        ("conv2d_transpose", "kernel_size", [0, 3]),
        ("conv2d_transpose", "groups", 2),
        ("depthwise_conv2d", "depth_multiplier", -1),
        ("depthwise_conv2d", "depth_multiplier", 0),
        ("depthwise_conv2d", "depth_multiplier", 1.5),
        ("depthwise_conv2d", "depth_multiplier", True),
        ("depthwise_conv2d", "depth_multiplier", "2"),
        ("depthwise_conv2d", "padding", "causal"),
        ("separable_conv2d", "depth_multiplier", -2),
        ("separable_conv2d", "filters", -1),
        ("separable_conv2d", "pointwise_initializer", "no_such_init"),
        (
            "separable_conv2d",
            "pointwise_regularizer",
            {"module": "keras.regularizers", "class_name": "L2", "config": {"l2": 0.1}},
        ),
        ("p_re_lu", "shared_axes", [0]),
        ("p_re_lu", "shared_axes", [4]),
        ("p_re_lu", "shared_axes", "1"),
        ("up_sampling2d", "interpolation", "lanczos5"),
        ("up_sampling2d", "size", [0, 2]),
        ("resizing", "height", -5),
        ("resizing", "pad_to_aspect_ratio", True),
        ("resizing", "antialias", True),
        ("resizing", "fill_mode", "reflect"),
        ("resizing", "interpolation", "area"),
    ]
    for name, key, value in nonsense:
        cfg = json.loads(json.dumps(config))
        cfg["config"]["layers"][layer[name]]["config"][key] = value
        add(
            f"decoder config {name}.{key} = {value!r}",
            with_config(data[".keras"], cfg),
            "dc.keras",
            "load_model",
        )
    for name in ("LSTM", "Embedding", "TextVectorization", "GRU"):
        cfg = json.loads(json.dumps(config))
        cfg["config"]["layers"][layer["p_re_lu"]]["class_name"] = name
        add(
            f"decoder config a {name} layer",
            with_config(data[".keras"], cfg),
            "dr.keras",
            "load_model",
        )


_DELETE = object()


def add_graph_cases(add, data):
    """Cycles, references to layers / calls / outputs that do not exist, inputs and outputs that do not
    connect, thousands of layers, deep nesting: ``load_model`` refuses each before building anything."""
    config = keras_config(data)
    layers = config["config"]["layers"]
    by_name = {e["name"]: e for e in layers}

    def case(label, edit, expect="fail"):
        cfg = json.loads(json.dumps(config))
        edit(cfg["config"], {e["name"]: e for e in cfg["config"]["layers"]})
        add(f"graph: {label}", with_config(data, cfg), "g.keras", "load_model", expect)

    def history(entry, k=0):
        arg = entry["inbound_nodes"][0]["args"][0]
        return (arg[k] if isinstance(arg, list) else arg)["config"]["keras_history"]

    first_conv = [n for n, e in by_name.items() if e["class_name"] == "Conv2D"][0]
    dense = [n for n, e in by_name.items() if e["class_name"] == "Dense"][-1]
    case(
        "a cycle (the first conv reads the Add)",
        lambda c, e: history(e[first_conv]).__setitem__(0, "add"),
    )
    case(
        "a layer reads its own output",
        lambda c, e: history(e[first_conv]).__setitem__(0, first_conv),
    )
    case(
        "a cycle through the nested model",
        lambda c, e: history(e["add"], 1).__setitem__(0, "head"),
    )
    case(
        "a reference to a layer that does not exist",
        lambda c, e: history(e["add"]).__setitem__(0, "no_such_layer"),
    )
    for value in [1, 7, 10**9, -1, True, "0", None, 1.5]:
        case(
            f"node index {value!r}",
            lambda c, e, v=value: history(e["add"]).__setitem__(1, v),
        )
        case(
            f"tensor index {value!r}",
            lambda c, e, v=value: history(e[dense]).__setitem__(2, v),
        )
    case("keras_history of two items", lambda c, e: history(e["add"]).pop())
    case(
        "keras_history a string",
        lambda c, e: e["add"]["inbound_nodes"][0]["args"][0][0]["config"].__setitem__(
            "keras_history", "add"
        ),
    )
    case(
        "a tensor without its class",
        lambda c, e: e["add"]["inbound_nodes"][0]["args"][0][0].pop("class_name"),
    )
    case(
        "two positional arguments",
        lambda c, e: e["add"]["inbound_nodes"][0]["args"].append(1),
    )
    case(
        "an unknown call keyword",
        lambda c, e: e["add"]["inbound_nodes"][0].__setitem__("kwargs", {"scale": 2}),
    )
    case(
        "training= not a boolean",
        lambda c, e: e["add"]["inbound_nodes"][0].__setitem__(
            "kwargs", {"training": "yes"}
        ),
    )
    case(
        "inbound_nodes a dict",
        lambda c, e: e["add"].__setitem__("inbound_nodes", {"0": 1}),
    )
    case(
        "an InputLayer that is called",
        lambda c, e: e["meta"].__setitem__(
            "inbound_nodes", e[first_conv]["inbound_nodes"]
        ),
    )
    case(
        "a layer that is never called",
        lambda c, e: e["add"].__setitem__("inbound_nodes", []),
    )
    case(
        "two layers named alike", lambda c, e: e["add"].__setitem__("name", first_conv)
    )
    case(
        "a layer without a name",
        lambda c, e: (e["add"].pop("name"), e["add"]["config"].pop("name")),
    )
    case(
        "input_layers names a Dense",
        lambda c, e: c.__setitem__("input_layers", [[dense, 0, 0], ["meta", 0, 0]]),
    )
    case("input_layers names nothing", lambda c, e: c.__setitem__("input_layers", []))
    case(
        "input_layers names a missing layer",
        lambda c, e: c.__setitem__("input_layers", [["ghost", 0, 0]]),
    )
    case(
        "an input listed twice",
        lambda c, e: c.__setitem__("input_layers", [["image", 0, 0], ["image", 0, 0]]),
    )
    case(
        "disconnected: an input left out",
        lambda c, e: c.__setitem__("input_layers", [["image", 0, 0]]),
    )
    case(
        "output_layers names a missing layer",
        lambda c, e: c.__setitem__("output_layers", ["ghost", 0, 0]),
    )
    case(
        "output_layers node out of range",
        lambda c, e: c.__setitem__("output_layers", [dense, 3, 0]),
    )
    case("output_layers a number", lambda c, e: c.__setitem__("output_layers", 5))
    case(
        "outputs that do not depend on the inputs",
        lambda c, e: (
            c["layers"].append(
                {
                    **json.loads(json.dumps(e["meta"])),
                    "name": "island",
                    "config": {**e["meta"]["config"], "name": "island"},
                }
            ),
            c.__setitem__("output_layers", ["island", 0, 0]),
        ),
    )
    case(
        "the Add of two shapes that do not fit",
        lambda c, e: history(e["add"], 1).__setitem__(0, "meta"),
    )
    case(
        "the output of the nested Sequential (a smaller graph, valid)",
        lambda c, e: c.__setitem__("output_layers", ["head", 0, 0]),
        "any",
    )
    case(
        "a subclassed model class",
        lambda c, e: e["head"].__setitem__("class_name", "MyModel"),
    )
    case(
        "an unknown functional option",
        lambda c, e: c.__setitem__("some_future_option", {"x": 1}),
    )

    def chain(n, cls="Activation"):
        def edit(c, e):
            prev = dense
            for i in range(n):
                name = f"chain_{i}"
                c["layers"].append(
                    {
                        "module": "keras.layers",
                        "class_name": cls,
                        "registered_name": None,
                        "name": name,
                        "config": {"name": name, "activation": "linear"},
                        "inbound_nodes": [
                            {
                                "args": [
                                    {
                                        "class_name": "__keras_tensor__",
                                        "config": {
                                            "shape": [None, 5],
                                            "dtype": "float32",
                                            "keras_history": [prev, 0, 0],
                                        },
                                    }
                                ],
                                "kwargs": {},
                            }
                        ],
                    }
                )
                prev = name
            c["output_layers"] = [prev, 0, 0]

        return edit

    case("30,000 chained layers (past the limit)", chain(30_000))
    case("300 chained layers (loads)", chain(300), "any")

    def nest(depth):
        def edit(c, e):
            inner = e["head"]
            for _ in range(depth):
                inner = {
                    "module": "keras",
                    "class_name": "Sequential",
                    "registered_name": None,
                    "config": {"name": "wrap", "layers": [inner]},
                    "name": "head",
                    "inbound_nodes": e["head"]["inbound_nodes"],
                }
            c["layers"][c["layers"].index(e["head"])] = inner

        return edit

    case("Sequentials nested 40 deep", nest(40))
    # 3,000 levels: written as text (json.dumps itself would recurse too deep).
    head = json.dumps(by_name["head"])
    nodes = json.dumps(by_name["head"]["inbound_nodes"])
    opening = (
        '{"module": "keras", "class_name": "Sequential", "registered_name": null, "config": {"name": "wrap", '
        '"layers": ['
    )
    closing = ']}, "name": "head", "inbound_nodes": ' + nodes + "}"
    text = json.dumps(config).replace(head, opening * 3000 + head + closing * 3000, 1)
    add(
        "graph: Sequentials nested 3,000 deep",
        with_config(data, text),
        "g.keras",
        "load_model",
    )


def _soft(path):
    import h5py

    return h5py.SoftLink(path)


def _external(filename, path):
    import h5py

    return h5py.ExternalLink(filename, path)


def _set(f, path, value):
    del f[path]
    f[path] = value


def _corrupted_gzip_chunk(data, path):
    """The HDF5 file with ``path`` stored gzip-compressed in one chunk, whose bytes are then mangled."""
    import h5py

    buf = io.BytesIO(data)
    with h5py.File(buf, "r+") as f:
        value = f[path][()]
        del f[path]
        ds = f.create_dataset(path, data=value, compression="gzip", chunks=value.shape)
        f.flush()
        info = ds.id.get_chunk_info(0)
        offset, size = info.byte_offset, info.size
    raw = bytearray(buf.getvalue())
    raw[offset + 2 : offset + size] = bytes(
        (b ^ 0x5A) for b in raw[offset + 2 : offset + size]
    )
    return bytes(raw)


def _external_storage(f, path):
    value = f[path][()]
    del f[path]
    f.create_dataset(
        path,
        shape=value.shape,
        dtype="f4",
        external=[("/etc/hostname", 0, 4 * value.size)],
    )


def _nested_groups(f):
    g = f
    for i in range(50):
        g = g.create_group(f"g{i}")


def _zip_lie(data, member, field, value):
    """The zip with one field of ``member``'s central-directory entry changed."""
    buf = bytearray(data)
    end = buf.rfind(b"PK\x05\x06")
    cd_offset = struct.unpack_from("<I", buf, end + 16)[0]
    pos = cd_offset
    while buf[pos : pos + 4] == b"PK\x01\x02":
        name_len, extra_len, comment_len = struct.unpack_from("<HHH", buf, pos + 28)
        name = bytes(buf[pos + 46 : pos + 46 + name_len]).decode()
        if name == member:
            offsets = {
                "flag_bits": (8, "<H"),
                "compress_type": (10, "<H"),
                "CRC": (16, "<I"),
                "compress_size": (20, "<I"),
                "file_size": (24, "<I"),
                "header_offset": (42, "<I"),
            }
            off, fmt = offsets[field]
            limit = 2 ** (8 * struct.calcsize(fmt)) - 1
            struct.pack_into(fmt, buf, pos + off, min(value, limit))
            return bytes(buf)
        pos += 46 + name_len + extra_len + comment_len
    raise KeyError(member)


def _marshal_code(marker):
    import base64
    import marshal

    code = compile(f"open({marker!r}, 'w')", "<payload>", "exec")
    return base64.b64encode(marshal.dumps(code)).decode()


def _npy_with_object(marker):
    buf = io.BytesIO()
    obj = np.empty(1, dtype=object)
    obj[0] = _Payload(marker)
    np.save(buf, obj, allow_pickle=True)
    return buf.getvalue()


# ---- the worker ---------------------------------------------------------------------------
def run(workdir, seed, start):
    sys.path.insert(0, workdir)  # where the evil module waits to be imported
    with open(os.path.join(workdir, f"{EVIL_MODULE}.py"), "w") as f:
        f.write(
            f"open({os.path.join(workdir, MARKER)!r}, 'w').close()\nclass Evil: pass\nclass Sequential: pass\n"
        )
    from cnnlab import keras

    warnings.simplefilter("ignore")
    cases = generate(seed, workdir)
    print(f"total {len(cases)}", flush=True)
    targets = {}
    marker = os.path.join(workdir, MARKER)
    for i in range(start, len(cases)):
        name, data, filename, loader, expect = cases[i]
        path = os.path.join(workdir, "cases", f"{i:05d}_{filename}")
        os.makedirs(os.path.dirname(path), exist_ok=True)
        with open(path, "wb") as f:
            f.write(data)
        if loader != "load_model" and loader not in targets:
            targets[loader] = fresh_model(loader)
        print(f"begin {i}", flush=True)
        if os.environ.get("HOSTILE_SELFTEST") in (
            f"crash {i}",
            f"hang {i}",
        ):  # to check the parent's watchdog
            if os.environ["HOSTILE_SELFTEST"].startswith("crash"):
                os.abort()
            time.sleep(3600)
        t0 = time.perf_counter()
        try:
            if loader == "load_model":
                model = keras.models.load_model(path)
                model.get_weights()
            else:
                targets[loader].load_weights(path)
            outcome = "loaded"
        except ValueError as e:
            outcome = (
                f"refused:{type(e).__name__}"
                if len(str(e)) >= 20
                else f"OTHER:short-message:{e!r}"
            )
            if os.environ.get("HOSTILE_VERBOSE"):
                print(f"message {i} {str(e)[:240]!r}", flush=True)
        except BaseException as e:  # noqa: BLE001 -- reported, the test fails on it
            outcome = f"OTHER:{type(e).__name__}:{str(e)[:300]!r}"
        elapsed = time.perf_counter() - t0
        if os.path.exists(marker) or EVIL_MODULE in sys.modules:
            outcome = "EXECUTED"
        if outcome == "loaded" and loader != "load_model":
            targets.pop(loader)  # a fresh model for the next case
        os.remove(path)
        print(f"case {i} {outcome} {elapsed:.3f} {expect} {name}", flush=True)
    print("done", flush=True)


if __name__ == "__main__":
    run(sys.argv[1], int(sys.argv[2]), int(sys.argv[3]))
