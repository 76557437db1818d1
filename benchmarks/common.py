"""Shared parts of the benchmark scripts: a fair thread set-up, the seed-004 model
in cnnlab and its PyTorch twin (weights copied from cnnlab's Keras layouts),
timing helpers, FLOP counting and machine information.

Fair comparison (../shared/PERF-NOTES.md): both libraries in the same process,
PyTorch given its best CPU set-up (``torch.set_num_threads(n)`` and no
``OMP_NUM_THREADS`` in the environment), NumPy's BLAS limited to the same ``n``
threads with threadpoolctl, cnnlab's batch split set to ``n`` threads, the
libraries' timed runs interleaved (A B A B ...) after a warm-up, and medians of
times and of per-round ratios reported.

Call :func:`clean_environment` before anything imports NumPy or PyTorch: it
re-executes the script without the thread variables when they are set.
"""

from __future__ import annotations

import os
import sys

#: Variables that cap a library's threads behind its back; PERF-NOTES measured
#: OMP_NUM_THREADS slowing PyTorch's training by about a third.
THREAD_VARS = ("OMP_NUM_THREADS", "MKL_NUM_THREADS", "OPENBLAS_NUM_THREADS")
_REEXEC_MARK = "CNNLAB_BENCH_REEXEC"
REMOVED_VARS: dict = {}


def clean_environment() -> None:
    """Re-execute this process without :data:`THREAD_VARS` if any is set.

    Must run before NumPy or PyTorch is imported: their thread pools read the
    variables once, at import. The removed values are kept in
    ``CNNLAB_BENCH_REEXEC`` so that the report can say what was removed.
    """
    present = {k: os.environ[k] for k in THREAD_VARS if k in os.environ}
    if present:
        if "numpy" in sys.modules or "torch" in sys.modules:
            raise RuntimeError(
                f"{', '.join(present)} must be removed before numpy/torch are imported: "
                f"call benchmarks.common.clean_environment() first"
            )
        if os.environ.get(_REEXEC_MARK):
            raise RuntimeError(f"thread variables still set after re-exec: {present}")
        env = {k: v for k, v in os.environ.items() if k not in THREAD_VARS}
        env[_REEXEC_MARK] = ";".join(f"{k}={v}" for k, v in present.items())
        argv = list(getattr(sys, "orig_argv", [])) or [sys.executable, *sys.argv]
        sys.stdout.flush()
        sys.stderr.flush()
        os.execve(sys.executable, [sys.executable, *argv[1:]], env)
    mark = os.environ.pop(_REEXEC_MARK, "")
    REMOVED_VARS.update(dict(item.split("=", 1) for item in mark.split(";") if item))


# ---- threads ------------------------------------------------------------------
_limits = {}


def setup_threads(n: int, torch_too: bool = True) -> None:
    """Give both libraries ``n`` threads: PyTorch's intra-op pool, NumPy's BLAS
    (threadpoolctl, kept for the whole process) and cnnlab's batch split."""
    from threadpoolctl import threadpool_limits

    import cnnlab.model.parallel as parallel

    _limits["blas"] = threadpool_limits(limits=n, user_api="blas")
    parallel.set_num_threads(n)
    if torch_too:
        import torch

        torch.set_num_threads(n)
        # Inter-op threads only matter for graph-level parallelism; leave torch's default.


def thread_report() -> dict:
    from threadpoolctl import threadpool_info

    import cnnlab.model.parallel as parallel

    report = {
        "cnnlab_threads": parallel.get_num_threads(),
        "blas": [
            {
                k: info.get(k)
                for k in ("internal_api", "num_threads", "version", "filepath")
            }
            for info in threadpool_info()
            if info.get("user_api") == "blas"
        ],
        "removed_env": dict(REMOVED_VARS),
    }
    if "torch" in sys.modules:
        import torch

        report["torch_threads"] = torch.get_num_threads()
        report["torch_interop_threads"] = torch.get_num_interop_threads()
    return report


# ---- data -----------------------------------------------------------------------
REPO_ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
DEFAULT_DATA = os.path.normpath(
    os.path.join(REPO_ROOT, "..", "shared", "data", "mnist")
)
DEFAULT_OUT = os.path.join(REPO_ROOT, "benchmarks", "results")


def load_mnist(path):
    """``((x_train, y_train), (x_test, y_test))`` as uint8, read by cnnlab's loader."""
    from cnnlab.data.mnist import load_data

    return load_data(path, progress=False)


def as_model_input(images):
    """uint8 (N, 28, 28) -> float32 (N, 28, 28, 1) in [0, 1], the seed's ``x / 255.0`` cast once."""
    import numpy as np

    return (images.reshape(-1, 28, 28, 1) / np.float32(255.0)).astype(np.float32)


# ---- the seed-004 model -----------------------------------------------------------
def build_cnnlab_model(seed=None, metrics=("accuracy",)):
    """The seed-004 program's model and compile call, ``from cnnlab import keras``."""
    from cnnlab import keras

    if seed is not None:
        keras.utils.set_random_seed(seed)
    model = keras.Sequential(
        [
            keras.Input(shape=(28, 28, 1)),
            keras.layers.Conv2D(32, (3, 3), activation="relu"),
            keras.layers.MaxPooling2D((2, 2)),
            keras.layers.Conv2D(64, (3, 3), activation="relu"),
            keras.layers.MaxPooling2D((2, 2)),
            keras.layers.Flatten(),
            keras.layers.Dense(128, activation="relu"),
            keras.layers.Dense(10, activation="softmax"),
        ]
    )
    model.compile(
        optimizer="adam",
        loss="sparse_categorical_crossentropy",
        metrics=list(metrics or []),
    )
    return model


def build_cifar_model(seed=None, metrics=("accuracy",)):
    """The second benchmark model: a small CIFAR-style CNN of Conv-BN-ReLU blocks with
    ``same`` padding on 32x32x3 input (two blocks of two convolutions, each block
    ending in a 2x2 max pooling, then Dense 64 and a 10-way softmax). The convolutions
    have no bias (BatchNormalization's beta replaces it), as such networks are written."""
    from cnnlab import keras

    if seed is not None:
        keras.utils.set_random_seed(seed)
    L = keras.layers

    def block(filters):
        return [
            L.Conv2D(filters, 3, padding="same", use_bias=False),
            L.BatchNormalization(),
            L.ReLU(),
        ]

    model = keras.Sequential(
        [
            keras.Input(shape=(32, 32, 3)),
            *block(16),
            *block(16),
            L.MaxPooling2D(2),
            *block(32),
            *block(32),
            L.MaxPooling2D(2),
            L.Flatten(),
            L.Dense(64, activation="relu"),
            L.Dense(10, activation="softmax"),
        ]
    )
    model.compile(
        optimizer="adam",
        loss="sparse_categorical_crossentropy",
        metrics=list(metrics or []),
    )
    return model


def randomize_batchnorm(cnnlab_model, seed=0):
    """Give every BatchNormalization layer random gamma, beta and moving statistics, so
    that the twin check compares them too (the initial 1, 0, 0, 1 would hide a swap)."""
    import numpy as np

    rng = np.random.default_rng(seed)
    for layer in cnnlab_model.layers:
        if type(layer).__name__ == "BatchNormalization":
            gamma, beta, mean, var = layer.get_weights()
            c = gamma.shape
            layer.set_weights(
                [
                    rng.uniform(0.5, 1.5, c).astype(np.float32),
                    rng.normal(0, 0.1, c).astype(np.float32),
                    rng.normal(0, 0.1, c).astype(np.float32),
                    rng.uniform(0.5, 2.0, c).astype(np.float32),
                ]
            )


def build_torch_twin(cnnlab_model, channels_last=False):
    """The PyTorch twin of a Sequential cnnlab model of Conv2D, BatchNormalization, ReLU,
    MaxPooling2D, Flatten and Dense layers, holding copies of its current weights.

    NCHW inside (``channels_last=True`` converts the module to PyTorch's channels-last
    memory format, same maths); flattens in NHWC order (permute first) so Keras-layout
    dense weights fit; returns logits (a final softmax lives in the loss, as a PyTorch
    user writes it)."""
    import torch
    from torch import nn

    class FlattenNHWC(nn.Module):
        def forward(self, x):
            return torch.flatten(x.permute(0, 2, 3, 1), 1)

    def activation(layer, last):
        name = getattr(layer, "activation_name", "linear")
        if name == "relu":
            return [nn.ReLU()]
        if name == "linear" or (name == "softmax" and last):
            return []
        raise ValueError(f"no PyTorch twin for activation {name!r} in {layer.name}")

    modules, pairs = [], []
    layers = cnnlab_model.layers
    for i, layer in enumerate(layers):
        kind, last = type(layer).__name__, i == len(layers) - 1
        if kind == "Conv2D":
            kernel = layer.get_weights()[0]
            module = nn.Conv2d(
                kernel.shape[2],
                kernel.shape[3],
                kernel.shape[:2],
                stride=layer.strides,
                padding=layer.padding,
                bias=layer.use_bias,
            )
            modules += [module, *activation(layer, last)]
        elif kind == "Dense":
            kernel = layer.get_weights()[0]
            module = nn.Linear(kernel.shape[0], kernel.shape[1], bias=layer.use_bias)
            modules += [module, *activation(layer, last)]
        elif kind == "BatchNormalization":
            # Keras: moving = moving * momentum + batch * (1 - momentum); PyTorch's momentum is the other weight.
            module = nn.BatchNorm2d(
                layer.get_weights()[0].shape[0],
                eps=layer.epsilon,
                momentum=1 - layer.momentum,
            )
            modules.append(module)
        elif kind == "ReLU":
            module = nn.ReLU()
            modules.append(module)
        elif kind == "MaxPooling2D":
            module = nn.MaxPool2d(layer.pool_size, layer.strides)
            modules.append(module)
        elif kind == "Flatten":
            module = FlattenNHWC()
            modules.append(module)
        else:
            raise ValueError(f"no PyTorch twin for layer {layer.name} ({kind})")
        pairs.append((layer, module))
    model = nn.Sequential(*modules)
    model.cnnlab_pairs = pairs
    copy_weights_to_torch(cnnlab_model, model)
    if channels_last:
        model = model.to(memory_format=torch.channels_last)
    return model


def copy_weights_to_torch(cnnlab_model, torch_model):
    """Keras layouts -> PyTorch: conv kernel (kh, kw, cin, cout) -> (cout, cin, kh, kw);
    dense kernel (in, out) -> (out, in); biases and BatchNormalization's gamma, beta,
    moving mean and variance unchanged."""
    import numpy as np
    import torch

    for layer, module in torch_model.cnnlab_pairs:
        weights = layer.get_weights()
        kind = type(layer).__name__
        if kind == "Conv2D":
            targets = [module.weight] + ([module.bias] if layer.use_bias else [])
            weights[0] = weights[0].transpose(3, 2, 0, 1)
        elif kind == "Dense":
            targets = [module.weight] + ([module.bias] if layer.use_bias else [])
            weights[0] = weights[0].T
        elif kind == "BatchNormalization":
            targets = [
                module.weight,
                module.bias,
                module.running_mean,
                module.running_var,
            ]
        else:
            continue
        with torch.no_grad():
            for param, value in zip(targets, weights, strict=True):
                if tuple(param.shape) != value.shape:
                    raise ValueError(
                        f"weight shape mismatch in {layer.name}: torch {tuple(param.shape)} "
                        f"vs cnnlab {value.shape}"
                    )
                param.copy_(
                    torch.from_numpy(np.ascontiguousarray(value, dtype=np.float32))
                )


def nchw(x, channels_last=False):
    """float32 NHWC numpy batch -> NCHW torch tensor (no copy for one channel); with
    ``channels_last`` PyTorch's channels-last memory format (the NHWC bytes, viewed as NCHW)."""
    import numpy as np
    import torch

    if channels_last:
        return torch.from_numpy(np.ascontiguousarray(x)).permute(0, 3, 1, 2)
    if x.shape[-1] == 1:
        return torch.from_numpy(
            np.ascontiguousarray(x).reshape(x.shape[0], 1, *x.shape[1:3])
        )
    return torch.from_numpy(np.ascontiguousarray(x.transpose(0, 3, 1, 2)))


def check_twin(cnnlab_model, torch_model, x, y, atol=1e-4):
    """Same weights -> the same softmax outputs (max abs difference <= ``atol``)
    and the same loss. Raises AssertionError otherwise; returns the differences."""
    import numpy as np
    import torch

    probs_c = cnnlab_model.predict_on_batch(x)
    torch_model.eval()
    with torch.inference_mode():
        logits = torch_model(nchw(x))
        probs_t = torch.softmax(logits, dim=1).numpy()
        loss_t = float(
            torch.nn.functional.cross_entropy(
                logits, torch.from_numpy(np.asarray(y, dtype=np.int64))
            )
        )
    torch_model.train()
    loss_c = float(
        np.mean(
            -np.log(
                np.clip(
                    probs_c[np.arange(len(y)), np.asarray(y, dtype=np.int64)], 1e-7, 1
                )
            )
        )
    )
    diff = float(np.max(np.abs(probs_c - probs_t)))
    agree = float(np.mean(probs_c.argmax(1) == probs_t.argmax(1)))
    if not diff <= atol:
        raise AssertionError(
            f"cnnlab and its PyTorch twin disagree: max |softmax difference| = {diff:.3g} > {atol}"
        )
    return {
        "max_abs_softmax_diff": diff,
        "argmax_agreement": agree,
        "loss_cnnlab": loss_c,
        "loss_torch": loss_t,
    }


def torch_train_step_fn(torch_model):
    """The PyTorch twin's training step, as a PyTorch user writes it (Keras's Adam defaults)."""
    import torch

    opt = torch.optim.Adam(torch_model.parameters(), lr=1e-3, eps=1e-7)
    loss_fn = torch.nn.CrossEntropyLoss()
    torch_model.train()

    def step(xb, yb):
        opt.zero_grad(set_to_none=True)
        loss = loss_fn(torch_model(xb), yb)
        loss.backward()
        opt.step()
        return loss

    return step


# ---- FLOPs -------------------------------------------------------------------
def seed004_flops_per_image():
    """Training FLOPs per image, counted analytically on the Keras model (full
    11x11 conv2 output, as PyTorch computes it). Forward: 2 * MACs of the convs and
    dense layers. Backward: 2x forward (input and weight gradients), except the first
    layer's input gradient, which is not needed. Pooling, activations, the loss and
    the optimizer are left out (not GEMM work)."""
    macs = {
        "conv1": 26 * 26 * 32 * (3 * 3 * 1),
        "conv2": 11 * 11 * 64 * (3 * 3 * 32),
        "dense1": 1600 * 128,
        "dense2": 128 * 10,
    }
    forward = {k: 2 * v for k, v in macs.items()}
    backward = {k: 2 * v for k, v in forward.items()}
    backward["conv1"] = forward["conv1"]  # dW only; dx of the input is skipped
    return {
        "forward": sum(forward.values()),
        "backward": sum(backward.values()),
        "train": sum(forward.values()) + sum(backward.values()),
        "per_layer_forward": forward,
    }


def matmul_gflops(n=2048, repeats=5, lib="numpy"):
    """Median float32 ``n^3`` matmul GFLOP/s under the current thread settings."""
    import time

    import numpy as np

    rng = np.random.default_rng(0)
    a = rng.standard_normal((n, n), dtype=np.float32)
    b = rng.standard_normal((n, n), dtype=np.float32)
    if lib == "torch":
        import torch

        a, b = torch.from_numpy(a), torch.from_numpy(b)
        mm = torch.mm
    else:
        mm = np.matmul
    out = mm(a, b)  # warm-up
    times = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        out = mm(a, b)
        times.append(time.perf_counter() - t0)
    del out
    flop = 2.0 * n**3
    return {
        "n": n,
        "median_gflops": flop / median(times) / 1e9,
        "best_gflops": flop / min(times) / 1e9,
        "times_s": times,
    }


# ---- timing ----------------------------------------------------------------------
def median(values):
    values = sorted(values)
    n = len(values)
    if n == 0:
        return float("nan")
    return values[n // 2] if n % 2 else 0.5 * (values[n // 2 - 1] + values[n // 2])


def interleaved(runs: dict, rounds: int, warmup: int = 1, on_round=None):
    """Time each callable in ``runs`` (name -> fn taking no argument) once per round,
    in turn (A B A B ...), after ``warmup`` untimed rounds. The order inside a round
    alternates (A B, then B A, ...) so that neither library always goes first.
    Returns name -> list of seconds, one per round."""
    import gc
    import time

    names = list(runs)
    for _ in range(warmup):
        for name in names:
            runs[name]()
    times = {name: [] for name in names}
    for r in range(rounds):
        order = names if r % 2 == 0 else names[::-1]
        for name in order:
            gc.collect()
            t0 = time.perf_counter()
            runs[name]()
            times[name].append(time.perf_counter() - t0)
        if on_round:
            on_round(r, {n: times[n][-1] for n in names})
    return times


def warm_until_stable(fn, tolerance=0.05, cap=10, min_rounds=2):
    """Call ``fn`` (one round) until two consecutive round times differ by less than
    ``tolerance`` (relative to the smaller), at most ``cap`` times. PyTorch's first calls
    are much slower than its later ones (allocator, oneDNN kernels chosen on first use),
    and so are cnnlab's (buffers, plan). Returns ``(times, stable)``."""
    import time

    times = []
    for _ in range(cap):
        t0 = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t0)
        if len(times) >= min_rounds and abs(times[-1] - times[-2]) < tolerance * min(
            times[-2:]
        ):
            return times, True
    return times, False


def spread(times):
    """(max - min) / median of a list of round times."""
    return (max(times) - min(times)) / median(times) if times else float("nan")


def ratio_stats(times_a, times_b):
    """Per-round comparison of A (cnnlab) with B (torch) from paired times:
    ``time_ratio`` = median over rounds of t_A / t_B (> 1: A slower),
    ``speed_ratio`` = median over rounds of t_B / t_A (> 1: A faster)."""
    pairs = list(zip(times_a, times_b))
    return {
        "time_ratio": median([a / b for a, b in pairs]),
        "speed_ratio": median([b / a for a, b in pairs]),
        "speed_ratio_min": min(b / a for a, b in pairs),
        "speed_ratio_max": max(b / a for a, b in pairs),
        "per_round": [b / a for a, b in pairs],
    }


# ---- memory -----------------------------------------------------------------------
def proc_status_kib(*fields):
    """Fields of /proc/self/status in KiB (VmRSS, VmHWM, ...); None where unavailable."""
    values = dict.fromkeys(fields)
    try:
        with open("/proc/self/status") as f:
            for line in f:
                key, _, rest = line.partition(":")
                if key in values:
                    values[key] = int(rest.split()[0])
    except OSError:
        pass
    return values


def reset_peak_rss() -> bool:
    """Reset VmHWM to the current RSS (Linux >= 4.0: write 5 to clear_refs)."""
    try:
        with open("/proc/self/clear_refs", "w") as f:
            f.write("5")
        return True
    except OSError:
        return False


# ---- machine -----------------------------------------------------------------------
def machine_info(threads) -> dict:
    import platform

    import numpy as np

    cpu = None
    flags = set()
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                key, _, value = line.partition(":")
                key = key.strip()
                if key == "model name" and cpu is None:
                    cpu = value.strip()
                elif key == "flags" and not flags:
                    flags = set(value.split())
    except OSError:
        pass
    try:
        cpus_allowed = len(os.sched_getaffinity(0))
    except AttributeError:
        cpus_allowed = os.cpu_count()
    info = {
        "cpu_model": cpu or platform.processor() or "unknown",
        "cpu_flags": sorted(f for f in flags if f.startswith(("avx", "fma", "amx"))),
        "cpus_online": os.cpu_count(),
        "cpus_allowed": cpus_allowed,
        "python": platform.python_version(),
        "numpy": np.__version__,
        "threads": threads,
        "platform": platform.platform(),
        "load_average_start": load_average(),
    }
    try:
        import cnnlab

        info["cnnlab"] = getattr(cnnlab, "__version__", "unknown")
    except ImportError:
        pass
    if "torch" in sys.modules:
        import torch

        info["torch"] = torch.__version__
    info.update(thread_report())
    return info


def load_average():
    """(1, 5, 15)-minute load averages, or None. Other processes competing for the cores
    make timings noisy (and can collapse OpenMP-style thread pools); the report shows it."""
    try:
        with open("/proc/loadavg") as f:
            return [float(v) for v in f.read().split()[:3]]
    except (OSError, ValueError):
        return None


def load_warning(start, end=None):
    """A line for the report when other work was running: the 1-minute load average read
    before the benchmark started (the one at the end includes this process itself)."""
    if not start or start[0] < 1.0:
        return ""
    return (
        f"WARNING: the machine was busy before the run (1-minute load average {start[0]:.2f}"
        + (f", {end[0]:.2f} at the end" if end else "")
        + "): other processes competed for the cores, "
        "so these timings are noisy (OpenMP-style thread pools such as PyTorch's suffer most)."
    )


def command_line() -> str:
    import shlex

    return " ".join(shlex.quote(a) for a in ["python", *sys.argv])


def markdown_table(header, rows) -> str:
    lines = [
        "| " + " | ".join(header) + " |",
        "|" + "|".join("---" if i == 0 else "---:" for i in range(len(header))) + "|",
    ]
    lines += ["| " + " | ".join(str(c) for c in row) + " |" for row in rows]
    return "\n".join(lines)


def machine_markdown(info) -> str:
    blas = ", ".join(
        f"{b['internal_api']} {b['version']} ({b['num_threads']} threads)"
        for b in info.get("blas", [])
    )
    lines = [
        f"- CPU: {info['cpu_model']} ({info['cpus_allowed']} CPUs usable; {' '.join(info['cpu_flags'])})",
        f"- Python {info['python']}, NumPy {info['numpy']} (BLAS: {blas or 'n/a'})"
        + (f", PyTorch {info['torch']}" if "torch" in info else "")
        + f", cnnlab {info.get('cnnlab', '?')}",
        f"- Threads: {info['threads']} ({'torch.set_num_threads, ' if 'torch' in info else ''}"
        f"threadpoolctl BLAS limit, cnnlab.model.parallel.set_num_threads); removed from the environment: "
        f"{', '.join(f'{k}={v}' for k, v in info['removed_env'].items()) or 'nothing (none was set)'}",
    ]
    if info.get("load_average_start"):
        lines.append(
            "- Load average before the run (1/5/15 min): "
            + " / ".join(f"{v:.2f}" for v in info["load_average_start"])
        )
    return "\n".join(lines)


def write_results(out_dir, stem, data, markdown):
    """Write ``stem.json`` and ``stem.md`` into ``out_dir`` atomically."""
    import json
    import tempfile

    os.makedirs(out_dir, exist_ok=True)
    paths = []
    for ext, text in (
        ("json", json.dumps(data, indent=2, default=_json_default) + "\n"),
        ("md", markdown),
    ):
        path = os.path.join(out_dir, f"{stem}.{ext}")
        fd, tmp = tempfile.mkstemp(dir=out_dir, prefix=f".{stem}.", suffix=f".{ext}")
        with os.fdopen(fd, "w") as f:
            f.write(text)
        os.replace(tmp, path)
        paths.append(path)
    return paths


def _json_default(obj):
    try:
        import numpy as np

        if isinstance(obj, np.generic):
            return obj.item()
        if isinstance(obj, np.ndarray):
            return obj.tolist()
    except ImportError:
        pass
    return str(obj)
