"""Training and inference speed, cnnlab against PyTorch, on two models, in one process.

    python benchmarks/train_speed.py [--models seed004 cifar] [--rounds 5] [--threads 2]
                                     [--batch-sizes 32 128] [--data DIR] [--out benchmarks/results]

The fair set-up (../shared/PERF-NOTES.md, common.py):
  * both libraries in this process, ``n`` threads each (``torch.set_num_threads(n)``, NumPy's
    BLAS limited with threadpoolctl, cnnlab's batch split); OMP_NUM_THREADS and friends are
    removed from the environment before NumPy or PyTorch is imported;
  * each measured side is first warmed until two consecutive rounds differ by < 5 % (capped);
  * PyTorch gets its best: for each measurement both memory formats (NCHW and channels_last)
    are warmed and the faster one is timed (the report says which); inference runs under
    ``torch.inference_mode()``;
  * then ``--rounds`` (>= 5) timed rounds, the order of the two sides alternating from
    round to round; per-round speed ratios (cnnlab / PyTorch, > 1: cnnlab faster) with their
    median and range;
  * a warning when the machine was busy: the load average before/after, or a side whose
    round times spread by more than 15 %.

Models:
  * seed004: the seed-004 MNIST model (Conv32-pool-Conv64-pool-Dense128-Dense10), full
    shuffled MNIST from --data;
  * cifar: common.build_cifar_model, Conv-BN-ReLU blocks with ``same`` padding on 32x32x3,
    on synthetic CIFAR-shaped data (random uint8 pixels scaled to [0, 1], random labels:
    speed does not depend on the pixel values).
Each model: its PyTorch twin with the same weights (outputs checked to agree), training at
each batch size (``train_on_batch`` against zero_grad/forward/CrossEntropyLoss/backward/
Adam(lr=1e-3, eps=1e-7)), inference at batch 128 (``model.predict``, softmax included on
both sides), single-image latency (``predict_on_batch(x[:1])`` against ``model(x[:1])``),
and peak training memory of each library in a fresh child process.
Prints Markdown tables and writes train_speed.json / train_speed.md into --out.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import common  # noqa: E402

common.clean_environment()

import numpy as np  # noqa: E402

MODELS = ("seed004", "cifar")
#: A side whose timed rounds spread more than this (max - min over the median) is flagged.
SPREAD_WARNING = 0.15


def parse_args(argv=None):
    p = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    p.add_argument("--models", nargs="+", choices=MODELS, default=list(MODELS))
    p.add_argument(
        "--data",
        default=common.DEFAULT_DATA,
        help=f"MNIST folder (default {common.DEFAULT_DATA})",
    )
    p.add_argument(
        "--rounds",
        type=int,
        default=5,
        help="timed rounds, order alternating (default 5, at least 5)",
    )
    p.add_argument(
        "--warmup-cap",
        type=int,
        default=8,
        help="most warm-up rounds per side (default 8)",
    )
    p.add_argument(
        "--round-images",
        type=int,
        default=2048,
        help="training images per round for seed004 (cifar: a quarter; default 2048)",
    )
    p.add_argument(
        "--threads", type=int, default=2, help="threads for every library (default 2)"
    )
    p.add_argument(
        "--batch-sizes", type=int, nargs="+", default=[32, 128], help="default: 32 128"
    )
    p.add_argument(
        "--latency-calls",
        type=int,
        default=100,
        help="single-image calls per round (default 100)",
    )
    p.add_argument(
        "--memory-steps",
        type=int,
        default=10,
        help="steps in each memory probe (default 10)",
    )
    p.add_argument(
        "--no-memory",
        action="store_true",
        help="skip the memory probes (child processes)",
    )
    p.add_argument(
        "--seed", type=int, default=0, help="weights and batch order (default 0)"
    )
    p.add_argument(
        "--out",
        default=common.DEFAULT_OUT,
        help=f"results folder (default {common.DEFAULT_OUT})",
    )
    p.add_argument(
        "--memory-probe", default=None, help=argparse.SUPPRESS
    )  # internal: MODEL:LIB:BATCH
    args = p.parse_args(argv)
    if args.rounds < 5 and not args.memory_probe:
        p.error(f"--rounds must be at least 5. Received: --rounds {args.rounds}")
    return args


# ---- the two models' data ------------------------------------------------------------------
def model_data(name, args, train_images=None):
    """``(build, x_train, y_train, x_test, y_test, description)`` for one model (float32 NHWC)."""
    rng = np.random.default_rng(args.seed)
    if name == "seed004":
        (x_train, y_train), (x_test, y_test) = common.load_mnist(args.data)
        order = rng.permutation(len(x_train))[:train_images]
        return (
            common.build_cnnlab_model,
            common.as_model_input(x_train[order]),
            y_train[order].astype(np.int64),
            common.as_model_input(x_test),
            y_test.astype(np.int64),
            f"MNIST from {args.data}",
        )
    n = train_images or 8192
    x = (
        rng.integers(0, 256, (n + 1024, 32, 32, 3), dtype=np.uint8) / np.float32(255.0)
    ).astype(np.float32)
    y = rng.integers(0, 10, n + 1024).astype(np.int64)
    return (
        common.build_cifar_model,
        x[:n],
        y[:n],
        x[n:],
        y[n:],
        "synthetic CIFAR-shaped data (random 32x32x3 pixels in [0, 1], random labels)",
    )


# ---- one comparison ---------------------------------------------------------------------------
def compare(cnnlab_fn, torch_fns, rounds, cap, label):
    """Warm cnnlab and both PyTorch layouts until stable, keep PyTorch's faster layout, then
    ``rounds`` alternating timed rounds. Returns a dict with times, ratios and the layout."""
    warm = {"cnnlab": common.warm_until_stable(cnnlab_fn, cap=cap)}
    for layout, fn in torch_fns.items():
        warm[f"torch_{layout}"] = common.warm_until_stable(fn, cap=cap)
    layout = min(torch_fns, key=lambda k: common.median(warm[f"torch_{k}"][0][-2:]))
    times = common.interleaved(
        {"cnnlab": cnnlab_fn, "torch": torch_fns[layout]}, rounds, warmup=0
    )
    stats = common.ratio_stats(times["cnnlab"], times["torch"])
    unstable = [k for k, (_, stable) in warm.items() if not stable]
    spreads = {k: common.spread(t) for k, t in times.items()}
    print(
        f"  {label}: cnnlab/PyTorch speed {stats['speed_ratio']:.2f} "
        f"({stats['speed_ratio_min']:.2f}-{stats['speed_ratio_max']:.2f}); PyTorch {layout}; per round "
        + " ".join(f"{r:.2f}" for r in stats["per_round"]),
        flush=True,
    )
    return {
        "times": times,
        "stats": stats,
        "torch_layout": layout,
        "warmup_seconds": {k: t for k, (t, _) in warm.items()},
        "not_stable_after_warmup": unstable,
        "spread": spreads,
    }


def bench_model(name, args):
    import torch

    round_images = args.round_images if name == "seed004" else args.round_images // 4
    build, xs, ys, xt, yt, described = model_data(name, args)
    model = build(args.seed)
    common.randomize_batchnorm(model, args.seed)
    twins = {
        "NCHW": common.build_torch_twin(model),
        "channels_last": common.build_torch_twin(model, True),
    }
    twin = common.check_twin(model, twins["NCHW"], xt[:128], yt[:128])
    twin_cl = common.check_twin(model, twins["channels_last"], xt[:128], yt[:128])
    print(
        f"{name}: {model.count_params():,} parameters; {described}; twin check max |softmax diff| "
        f"{twin['max_abs_softmax_diff']:.1e} (NCHW), {twin_cl['max_abs_softmax_diff']:.1e} (channels_last)",
        flush=True,
    )
    inputs = {
        "NCHW": common.nchw(xs),
        "channels_last": common.nchw(xs, channels_last=True),
    }
    ys_t = torch.from_numpy(ys)
    result = {
        "model": name,
        "parameters": model.count_params(),
        "data": described,
        "twin_check": twin,
        "twin_check_channels_last": twin_cl,
        "training": [],
        "inference": None,
        "latency": None,
    }

    for batch in args.batch_sizes:
        steps = max(1, round_images // batch)
        n_batches = len(xs) // batch
        cursor = {}

        # The closures take this batch size's values as defaults: each is used within its own iteration.
        def walker(key, cursor=cursor, steps=steps, n_batches=n_batches, batch=batch):
            cursor.setdefault(key, 0)

            def slices():
                for _ in range(steps):
                    i = (cursor[key] % n_batches) * batch
                    cursor[key] += 1
                    yield slice(i, i + batch)

            return slices

        next_c = walker("cnnlab")

        def cnnlab_round(next_c=next_c):
            for sl in next_c():
                model.train_on_batch(xs[sl], ys[sl])

        def torch_round_fn(layout):
            step = common.torch_train_step_fn(twins[layout])
            nxt, xin = walker(layout), inputs[layout]

            def run():
                for sl in nxt():
                    step(xin[sl], ys_t[sl])

            return run

        r = compare(
            cnnlab_round,
            {k: torch_round_fn(k) for k in twins},
            args.rounds,
            args.warmup_cap,
            f"training batch {batch}",
        )
        r.update(
            batch=batch,
            steps=steps,
            img_per_s={
                k: steps * batch / common.median(t) for k, t in r["times"].items()
            },
        )
        result["training"].append(r)

    # Inference at batch 128, softmax on both sides.
    x_inf = xt[: 8 * round_images // 4 if name == "seed004" else round_images]
    xin = {
        "NCHW": common.nchw(x_inf),
        "channels_last": common.nchw(x_inf, channels_last=True),
    }
    for t in twins.values():
        t.eval()

    def torch_infer(layout):
        m, x = twins[layout], xin[layout]

        def run():
            with torch.inference_mode():
                for i in range(0, len(x), 128):
                    torch.softmax(m(x[i : i + 128]), dim=1)

        return run

    r = compare(
        lambda: model.predict(x_inf, batch_size=128, verbose=0),
        {k: torch_infer(k) for k in twins},
        args.rounds,
        args.warmup_cap,
        "inference batch 128",
    )
    r.update(
        images=len(x_inf),
        img_per_s={k: len(x_inf) / common.median(t) for k, t in r["times"].items()},
    )
    result["inference"] = r

    calls = args.latency_calls
    x1 = xt[:1]
    x1t = {
        "NCHW": common.nchw(x1),
        "channels_last": common.nchw(x1, channels_last=True),
    }

    def pob():
        for _ in range(calls):
            model.predict_on_batch(x1)

    def torch1(layout):
        m, x = twins[layout], x1t[layout]

        def run():
            with torch.inference_mode():
                for _ in range(calls):
                    torch.softmax(m(x), dim=1)

        return run

    r = compare(
        pob,
        {k: torch1(k) for k in twins},
        args.rounds,
        args.warmup_cap,
        "one image, predict_on_batch",
    )
    r.update(
        calls=calls,
        ms={k: common.median(t) / calls * 1e3 for k, t in r["times"].items()},
    )
    result["latency"] = r
    return result


# ---- memory (child processes) -------------------------------------------------------------
def memory_probe(args):
    """Child: train ``--memory-steps`` steps of one model in one library at one batch size from
    a fresh model; print one JSON line with the peak RSS growth."""
    import gc

    name, lib, batch = args.memory_probe.split(":")
    batch = int(batch)
    common.setup_threads(args.threads, torch_too=(lib == "torch"))
    n = batch * args.memory_steps
    build, xs, ys, _, _, _ = model_data(name, args, train_images=n)
    gc.collect()
    model = build(args.seed)
    if lib == "torch":
        import torch

        twin = common.build_torch_twin(model)
        del model
        step = common.torch_train_step_fn(twin)
        xs_t, ys_t = common.nchw(xs), torch.from_numpy(ys)

        def run():
            for i in range(0, n, batch):
                step(xs_t[i : i + batch], ys_t[i : i + batch])
    else:

        def run():
            for i in range(0, n, batch):
                model.train_on_batch(xs[i : i + batch], ys[i : i + batch])

    gc.collect()
    reset_ok = common.reset_peak_rss()
    before = common.proc_status_kib("VmRSS", "VmHWM")
    run()
    after = common.proc_status_kib("VmRSS", "VmHWM")
    result = {
        "model": name,
        "lib": lib,
        "batch": batch,
        "steps": args.memory_steps,
        "hwm_reset": reset_ok,
        "rss_before_kib": before["VmRSS"],
        "rss_after_kib": after["VmRSS"],
        "hwm_kib": after["VmHWM"],
        "peak_growth_kib": (after["VmHWM"] - before["VmRSS"])
        if after["VmHWM"] and before["VmRSS"]
        else None,
    }
    print("MEMORY-PROBE " + json.dumps(result), flush=True)


def bench_memory(args):
    results = []
    for name in args.models:
        for batch in args.batch_sizes:
            for lib in ("cnnlab", "torch"):
                cmd = [
                    sys.executable,
                    os.path.abspath(__file__),
                    "--memory-probe",
                    f"{name}:{lib}:{batch}",
                    "--data",
                    args.data,
                    "--threads",
                    str(args.threads),
                    "--memory-steps",
                    str(args.memory_steps),
                    "--seed",
                    str(args.seed),
                ]
                proc = subprocess.run(cmd, capture_output=True, text=True, timeout=600)
                lines = [
                    ln
                    for ln in proc.stdout.splitlines()
                    if ln.startswith("MEMORY-PROBE ")
                ]
                if proc.returncode != 0 or not lines:
                    print(
                        f"  memory probe {name}:{lib}:{batch} failed (rc {proc.returncode}): {proc.stderr[-500:]}"
                    )
                    continue
                r = json.loads(lines[-1][len("MEMORY-PROBE ") :])
                results.append(r)
                print(
                    f"  memory {name} {lib} batch {batch}: peak RSS growth {r['peak_growth_kib'] / 1024:.1f} MiB",
                    flush=True,
                )
    return results


# ---- report -----------------------------------------------------------------------------
def _ratio(stats):
    return f"**{stats['speed_ratio']:.2f}** ({stats['speed_ratio_min']:.2f}-{stats['speed_ratio_max']:.2f})"


def render(args, results, memory):
    out = []
    for res in results:
        rows = []
        for r in res["training"]:
            rows.append(
                [
                    f"training, batch {r['batch']} (img/s)",
                    f"{r['img_per_s']['cnnlab']:,.0f}",
                    f"{r['img_per_s']['torch']:,.0f}",
                    r["torch_layout"],
                    _ratio(r["stats"]),
                    " ".join(f"{v:.2f}" for v in r["stats"]["per_round"]),
                ]
            )
        i, lt = res["inference"], res["latency"]
        rows.append(
            [
                "inference, batch 128 (img/s)",
                f"{i['img_per_s']['cnnlab']:,.0f}",
                f"{i['img_per_s']['torch']:,.0f}",
                i["torch_layout"],
                _ratio(i["stats"]),
                " ".join(f"{v:.2f}" for v in i["stats"]["per_round"]),
            ]
        )
        rows.append(
            [
                "one image, `predict_on_batch` (ms)",
                f"{lt['ms']['cnnlab']:.3f}",
                f"{lt['ms']['torch']:.3f}",
                lt["torch_layout"],
                _ratio(lt["stats"]),
                " ".join(f"{v:.2f}" for v in lt["stats"]["per_round"]),
            ]
        )
        by = {(m["lib"], m["batch"]): m for m in memory if m["model"] == res["model"]}
        for batch in args.batch_sizes:
            c, t = by.get(("cnnlab", batch)), by.get(("torch", batch))
            if c and t and c["peak_growth_kib"] and t["peak_growth_kib"]:
                rows.append(
                    [
                        f"peak training memory, batch {batch} (MiB, RSS growth)",
                        f"{c['peak_growth_kib'] / 1024:.1f}",
                        f"{t['peak_growth_kib'] / 1024:.1f}",
                        "NCHW",
                        f"{t['peak_growth_kib'] / c['peak_growth_kib']:.2f} (PyTorch / cnnlab)",
                        "",
                    ]
                )
        tw = res["twin_check"]
        out.append(
            f"## {res['model']} ({res['parameters']:,} parameters; {res['data']})\n\n"
            f"Twin check, same weights, 128 images: max |softmax difference| {tw['max_abs_softmax_diff']:.1e}, "
            f"argmax agreement {tw['argmax_agreement']:.0%}.\n\n"
            + common.markdown_table(
                [
                    "",
                    "cnnlab",
                    "PyTorch",
                    "PyTorch layout (faster)",
                    "speed ratio cnnlab/PyTorch, median (range)",
                    "per round",
                ],
                rows,
            )
        )
    out.append(
        "Speed ratio: cnnlab's speed over PyTorch's, the median of per-round ratios (range over rounds in "
        "brackets); > 1 means cnnlab is faster. Figures are medians over the timed rounds. PyTorch layout: "
        "the memory format (NCHW or channels_last) that was faster in the warm-up, which is the one timed. "
        "Peak memory: VmHWM after training minus VmRSS before it, each library and batch size in its own "
        "fresh process (optimizer state and every buffer the steps allocate; PyTorch trained NCHW)."
    )
    return "\n\n".join(out) + "\n"


def busy_warnings(args, info, load_end, results):
    warnings = []
    start = info.get("load_average_start")
    if start and max(start[0], (load_end or [0])[0]) >= 1.5:
        warnings.append(
            f"WARNING: the machine was busy (1-minute load average {start[0]:.2f} before the run, "
            f"{load_end[0]:.2f} after; this run itself adds up to about {info['threads']}): other "
            "processes competed for the cores, so the timings and even the ratios are noisy."
        )
    for res in results:
        for label, r in [
            (f"training batch {t['batch']}", t) for t in res["training"]
        ] + [("inference", res["inference"]), ("latency", res["latency"])]:
            wide = {k: v for k, v in r["spread"].items() if v > SPREAD_WARNING}
            if wide:
                warnings.append(
                    f"WARNING: {res['model']} {label}: round times spread by "
                    + ", ".join(f"{k} {v:.0%}" for k, v in wide.items())
                    + f" (over {SPREAD_WARNING:.0%}): the machine was not quiet."
                )
            if r["not_stable_after_warmup"]:
                warnings.append(
                    f"WARNING: {res['model']} {label}: not stable after {args.warmup_cap} warm-up rounds: "
                    + ", ".join(r["not_stable_after_warmup"])
                )
    return warnings


def main(argv=None):
    args = parse_args(argv)
    if args.memory_probe:
        return memory_probe(args)
    common.setup_threads(args.threads)
    import torch  # noqa: F401

    info = common.machine_info(args.threads)
    print(
        f"# cnnlab vs PyTorch, {args.threads} threads, models: {', '.join(args.models)}"
    )
    print(common.machine_markdown(info), flush=True)
    results = [bench_model(name, args) for name in args.models]
    memory = []
    if not args.no_memory:
        print("memory probes ...", flush=True)
        memory = bench_memory(args)
    load_end = common.load_average()
    body = render(args, results, memory)
    warnings = busy_warnings(args, info, load_end, results)
    if warnings:
        body = "\n".join(f"**{w}**\n" for w in warnings) + "\n" + body
    md = (
        f"# Speed: cnnlab vs PyTorch (two models)\n\nCommand: `{common.command_line()}`\n\n"
        f"{common.machine_markdown(info)}\n- Load average after the run (1/5/15 min): "
        + " / ".join(f"{v:.2f}" for v in (load_end or []))
        + f"\n\n{body}"
    )
    print()
    print(md)
    data = {
        "command": common.command_line(),
        "args": vars(args),
        "machine": info,
        "load_average_end": load_end,
        "warnings": warnings,
        "models": results,
        "memory": memory,
    }
    for path in common.write_results(args.out, "train_speed", data, md):
        print(f"wrote {path}")


if __name__ == "__main__":
    main()
