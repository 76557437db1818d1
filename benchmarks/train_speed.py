"""Training and inference speed of the seed-004 model: cnnlab against PyTorch, one process.

    python benchmarks/train_speed.py [--data DIR] [--steps N] [--repeats R] [--threads 2]
                                     [--batch-sizes 32 128] [--out benchmarks/results]

What it does, in one process (the fair set-up of ../shared/PERF-NOTES.md, see common.py):
  1. float32 2048^3 matmul GFLOP/s (NumPy; PyTorch for reference) -> the GEMM-bound floor:
     img/s = GFLOP/s / training FLOPs per image (counted analytically, common.seed004_flops_per_image);
  2. the seed-004 model in cnnlab and its PyTorch twin with the same initial weights
     (checked: same softmax outputs within 1e-4);
  3. for each batch size: R interleaved rounds of N training steps on the same batches of
     full shuffled MNIST (pre-cast float32): cnnlab ``model.train_on_batch`` (public path),
     cnnlab ``model._train_step`` (internal, no input checks or metrics) and PyTorch
     (zero_grad, forward, CrossEntropyLoss, backward, Adam(lr=1e-3, eps=1e-7));
  4. inference at batch 128 over the test set: ``model.predict(x, batch_size=128, verbose=0)``
     against PyTorch ``no_grad`` + softmax; single-image latency: ``model.predict(x[:1], verbose=0)``,
     ``model.predict_on_batch(x[:1])`` and PyTorch ``model(x[:1])`` under ``no_grad``;
  5. peak memory of training, each library in a fresh child process (VmHWM growth over the
     RSS after the model is built; tracemalloc peak for cnnlab).
Prints Markdown tables and writes train_speed.json / train_speed.md into --out.
"""
from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import common  # noqa: E402

common.clean_environment()

import numpy as np  # noqa: E402


def parse_args(argv=None):
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--data", default=common.DEFAULT_DATA, help=f"MNIST folder (default {common.DEFAULT_DATA})")
    p.add_argument("--steps", type=int, default=100, help="training steps per timed round (default 100)")
    p.add_argument("--repeats", type=int, default=5, help="interleaved timed rounds (default 5)")
    p.add_argument("--warmup-steps", type=int, default=10, help="untimed steps per variant first (default 10)")
    p.add_argument("--threads", type=int, default=2, help="threads for every library (default 2)")
    p.add_argument("--batch-sizes", type=int, nargs="+", default=[32, 128], help="default: 32 128")
    p.add_argument("--infer-images", type=int, default=10000, help="test images per inference round (default 10000)")
    p.add_argument("--latency-calls", type=int, default=100, help="single-image calls per round (default 100)")
    p.add_argument("--memory-steps", type=int, default=20, help="steps in each memory probe (default 20)")
    p.add_argument("--no-memory", action="store_true", help="skip the memory probes (child processes)")
    p.add_argument("--seed", type=int, default=0, help="weights and batch order (default 0)")
    p.add_argument("--out", default=common.DEFAULT_OUT, help=f"results folder (default {common.DEFAULT_OUT})")
    p.add_argument("--memory-probe", default=None, help=argparse.SUPPRESS)   # internal: LIB:BATCH
    return p.parse_args(argv)


# ---- training --------------------------------------------------------------------------
def train_round_fns(model, torch_step, xs, ys, xs_t, ys_t, batch, steps):
    """Callables that each run the next ``steps`` training steps of one variant. Every
    variant walks the same batch sequence through the shuffled training set."""
    n_batches = len(xs) // batch
    cursor = {"cnnlab_public": 0, "cnnlab_internal": 0, "torch": 0}

    def batches(name, k):
        start = cursor[name]
        cursor[name] += k
        for s in range(start, start + k):
            i = (s % n_batches) * batch
            yield slice(i, i + batch)

    def cnnlab_public(k=steps):
        for sl in batches("cnnlab_public", k):
            model.train_on_batch(xs[sl], ys[sl])

    def cnnlab_internal(k=steps):
        for sl in batches("cnnlab_internal", k):
            model._train_step(xs[sl], ys[sl])

    def torch_run(k=steps):
        for sl in batches("torch", k):
            torch_step(xs_t[sl], ys_t[sl])

    return {"cnnlab_public": cnnlab_public, "cnnlab_internal": cnnlab_internal, "torch": torch_run}


def bench_training(args, model, torch_model, xs, ys, floor_img_s):
    import torch

    xs_t, ys_t = common.nchw(xs), torch.from_numpy(ys)
    torch_step = common.torch_train_step_fn(torch_model)
    results = []
    for batch in args.batch_sizes:
        fns = train_round_fns(model, torch_step, xs, ys, xs_t, ys_t, batch, args.steps)
        for fn in fns.values():
            fn(args.warmup_steps)
        print(f"batch {batch}: {args.repeats} rounds x {args.steps} steps", flush=True)
        times = common.interleaved(
            fns, args.repeats, warmup=0,
            on_round=lambda r, t: print(f"  round {r + 1}: " + ", ".join(
                f"{n} {args.steps * batch / s:,.0f} img/s" for n, s in t.items()), flush=True))
        img_s = {n: args.steps * batch / common.median(t) for n, t in times.items()}
        results.append({
            "batch": batch,
            "steps": args.steps,
            "img_per_s": img_s,
            "seconds_per_round": times,
            "public_vs_torch": common.ratio_stats(times["cnnlab_public"], times["torch"]),
            "internal_vs_torch": common.ratio_stats(times["cnnlab_internal"], times["torch"]),
            "public_overhead": common.median([a / b for a, b in zip(times["cnnlab_public"],
                                                                    times["cnnlab_internal"])]),
            "fraction_of_floor": {n: v / floor_img_s for n, v in img_s.items()},
        })
    return results


# ---- inference ------------------------------------------------------------------------
def bench_inference(args, model, torch_model, x_test):
    import torch

    x = x_test[:args.infer_images]
    xt = common.nchw(x)
    torch_model.eval()

    def cnnlab_predict():
        model.predict(x, batch_size=128, verbose=0)

    def torch_predict():
        with torch.no_grad():
            torch.cat([torch.softmax(torch_model(xt[i:i + 128]), dim=1) for i in range(0, len(xt), 128)])

    times = common.interleaved({"cnnlab": cnnlab_predict, "torch": torch_predict}, args.repeats, warmup=1)
    infer = {"images": len(x), "batch": 128,
             "img_per_s": {n: len(x) / common.median(t) for n, t in times.items()},
             "seconds_per_round": times, "cnnlab_vs_torch": common.ratio_stats(times["cnnlab"], times["torch"])}

    x1, x1t = x[:1], xt[:1]
    calls = args.latency_calls

    def cnnlab_predict1():
        for _ in range(calls):
            model.predict(x1, verbose=0)

    def cnnlab_pob1():
        for _ in range(calls):
            model.predict_on_batch(x1)

    def torch1():
        with torch.no_grad():
            for _ in range(calls):
                torch_model(x1t)

    times = common.interleaved({"cnnlab_predict": cnnlab_predict1, "cnnlab_predict_on_batch": cnnlab_pob1,
                                "torch": torch1}, args.repeats, warmup=1)
    per_call = {n: [s / calls * 1e3 for s in t] for n, t in times.items()}
    latency = {"calls_per_round": calls, "ms": {n: common.median(v) for n, v in per_call.items()},
               "ms_per_round": per_call,
               "predict_vs_torch": common.ratio_stats(per_call["cnnlab_predict"], per_call["torch"]),
               "predict_on_batch_vs_torch": common.ratio_stats(per_call["cnnlab_predict_on_batch"], per_call["torch"])}
    torch_model.train()
    return infer, latency


# ---- memory (child processes) -------------------------------------------------------------
def memory_probe(args):
    """Child: train ``--memory-steps`` steps of one library at one batch size from a fresh
    model; print one JSON line with the peak RSS growth (and cnnlab's tracemalloc peak)."""
    import gc

    lib, batch = args.memory_probe.split(":")
    batch = int(batch)
    common.setup_threads(args.threads, torch_too=(lib == "torch"))
    (x_train, y_train), _ = common.load_mnist(args.data)
    n = batch * args.memory_steps
    xs = common.as_model_input(x_train[:n])
    ys = y_train[:n].astype(np.int64)
    del x_train, y_train
    gc.collect()
    if lib == "torch":
        import torch
        torch_model = common.torch_twin_class()()
        step = common.torch_train_step_fn(torch_model)
        xs_t, ys_t = common.nchw(xs), torch.from_numpy(ys)

        def run():
            for i in range(0, n, batch):
                step(xs_t[i:i + batch], ys_t[i:i + batch])
    else:
        model = common.build_cnnlab_model(args.seed)

        def run():
            for i in range(0, n, batch):
                model.train_on_batch(xs[i:i + batch], ys[i:i + batch])
    gc.collect()
    reset_ok = common.reset_peak_rss()
    before = common.proc_status_kib("VmRSS", "VmHWM")
    run()
    after = common.proc_status_kib("VmRSS", "VmHWM")
    result = {"lib": lib, "batch": batch, "steps": args.memory_steps, "hwm_reset": reset_ok,
              "rss_before_kib": before["VmRSS"], "rss_after_kib": after["VmRSS"], "hwm_kib": after["VmHWM"],
              "peak_growth_kib": (after["VmHWM"] - before["VmRSS"]) if after["VmHWM"] and before["VmRSS"] else None}
    if lib == "cnnlab":
        import tracemalloc
        tracemalloc.start()
        run()
        result["tracemalloc_peak_kib"] = tracemalloc.get_traced_memory()[1] // 1024
        tracemalloc.stop()
    print("MEMORY-PROBE " + json.dumps(result), flush=True)


def bench_memory(args):
    results = []
    for batch in args.batch_sizes:
        for lib in ("cnnlab", "torch"):
            cmd = [sys.executable, os.path.abspath(__file__), "--memory-probe", f"{lib}:{batch}",
                   "--data", args.data, "--threads", str(args.threads), "--memory-steps", str(args.memory_steps),
                   "--seed", str(args.seed)]
            proc = subprocess.run(cmd, capture_output=True, text=True)
            lines = [ln for ln in proc.stdout.splitlines() if ln.startswith("MEMORY-PROBE ")]
            if proc.returncode != 0 or not lines:
                print(f"  memory probe {lib}:{batch} failed (rc {proc.returncode}): {proc.stderr[-500:]}")
                continue
            results.append(json.loads(lines[-1][len("MEMORY-PROBE "):]))
            r = results[-1]
            print(f"  memory {lib} batch {batch}: peak RSS growth {r['peak_growth_kib'] / 1024:.1f} MiB"
                  + (f", tracemalloc peak {r['tracemalloc_peak_kib'] / 1024:.1f} MiB" if "tracemalloc_peak_kib" in r
                     else ""), flush=True)
    return results


# ---- report -----------------------------------------------------------------------------
def render(args, info, gemm, torch_gemm, flops, floor_img_s, twin, training, infer, latency, memory):
    out = []
    out.append(f"## GEMM-bound floor\n\nfloat32 {gemm['n']}^3 matmul, {args.threads} threads: NumPy "
               f"{gemm['median_gflops']:.0f} GFLOP/s (best {gemm['best_gflops']:.0f}); PyTorch "
               f"{torch_gemm['median_gflops']:.0f} GFLOP/s. Training FLOPs per image (analytic, full 11x11 "
               f"conv2, no conv1 input gradient): {flops['train'] / 1e6:.2f} MFLOP (forward "
               f"{flops['forward'] / 1e6:.2f}). Floor at NumPy's matmul rate: **{floor_img_s:,.0f} img/s** "
               f"({60000 / floor_img_s:.1f} s per 60,000-image epoch).")
    out.append(f"Twin check (same weights, 128 test images): max |softmax difference| "
               f"{twin['max_abs_softmax_diff']:.1e}, argmax agreement {twin['argmax_agreement']:.0%}, loss "
               f"{twin['loss_cnnlab']:.5f} (cnnlab) vs {twin['loss_torch']:.5f} (PyTorch).")
    header = ["batch", "cnnlab img/s (train_on_batch)", "cnnlab img/s (_train_step)", "PyTorch img/s",
              "speed ratio cnnlab/PyTorch (train_on_batch)", "speed ratio cnnlab/PyTorch (_train_step)",
              "train_on_batch overhead", "cnnlab % of floor", "PyTorch % of floor"]
    rows = []
    for r in training:
        s, p = r["img_per_s"], r["public_vs_torch"]
        rows.append([r["batch"], f"{s['cnnlab_public']:,.0f}", f"{s['cnnlab_internal']:,.0f}", f"{s['torch']:,.0f}",
                     f"**{p['speed_ratio']:.2f}** ({p['speed_ratio_min']:.2f}-{p['speed_ratio_max']:.2f})",
                     f"{r['internal_vs_torch']['speed_ratio']:.2f}",
                     f"{(r['public_overhead'] - 1) * 100:+.1f} %",
                     f"{r['fraction_of_floor']['cnnlab_public'] * 100:.0f} %",
                     f"{r['fraction_of_floor']['torch'] * 100:.0f} %"])
    out.append(f"## Training (full MNIST, shuffled, {args.steps} steps x {args.repeats} interleaved rounds per "
               f"batch size)\n\n" + common.markdown_table(header, rows) + "\n\nSpeed ratio = cnnlab img/s / "
               "PyTorch img/s, the median of per-round ratios (range over rounds in brackets); > 1 means cnnlab "
               "is faster. Overhead = time of train_on_batch over _train_step on the same batches.")
    i, lt = infer, latency
    def ratio(r):
        return f"{r['speed_ratio']:.2f} ({r['speed_ratio_min']:.2f}-{r['speed_ratio_max']:.2f})"
    rows = [["inference, batch 128 (img/s)", f"{i['img_per_s']['cnnlab']:,.0f}", f"{i['img_per_s']['torch']:,.0f}",
             ratio(i["cnnlab_vs_torch"])],
            ["1 image: `model.predict(x[:1], verbose=0)` (ms)", f"{lt['ms']['cnnlab_predict']:.3f}",
             f"{lt['ms']['torch']:.3f}", ratio(lt["predict_vs_torch"])],
            ["1 image: `model.predict_on_batch(x[:1])` (ms)", f"{lt['ms']['cnnlab_predict_on_batch']:.3f}",
             f"{lt['ms']['torch']:.3f}", ratio(lt["predict_on_batch_vs_torch"])]]
    out.append(f"## Inference ({i['images']:,} test images; PyTorch: `no_grad`, `model(x)` + softmax)\n\n"
               + common.markdown_table(["", "cnnlab", "PyTorch", "speed ratio cnnlab/PyTorch (>1: cnnlab faster)"],
                                       rows)
               + "\n\nValues are medians over rounds; the speed ratio is the median of per-round ratios (range in "
               "brackets), so on a noisy machine it need not equal the ratio of the medians.")
    if memory:
        rows = []
        for batch in args.batch_sizes:
            by = {m["lib"]: m for m in memory if m["batch"] == batch}
            c, t = by.get("cnnlab", {}), by.get("torch", {})

            def mib(d, key):
                return f"{d[key] / 1024:.1f}" if d.get(key) is not None else "n/a"
            rows.append([batch, mib(c, "peak_growth_kib"), mib(c, "tracemalloc_peak_kib"), mib(t, "peak_growth_kib"),
                         mib(c, "hwm_kib"), mib(t, "hwm_kib")])
        out.append(f"## Peak memory of training ({args.memory_steps} steps from a fresh model, each in its own "
                   f"process)\n\n" + common.markdown_table(
                       ["batch", "cnnlab peak RSS growth MiB", "cnnlab tracemalloc peak MiB",
                        "PyTorch peak RSS growth MiB", "cnnlab process peak RSS MiB", "PyTorch process peak RSS MiB"],
                       rows)
                   + "\n\nPeak RSS growth = VmHWM after training minus VmRSS before it (VmHWM reset to the current "
                   "RSS just before training, after the data and the model are loaded); it includes optimizer state "
                   "and every buffer the steps allocate. Process peak RSS = VmHWM over the same span (libraries "
                   "included: PyTorch's are large). tracemalloc peak: NumPy allocations of a second, warm pass "
                   "over the same steps.")
    return "\n\n".join(out) + "\n"


def main(argv=None):
    args = parse_args(argv)
    if args.memory_probe:
        return memory_probe(args)
    common.setup_threads(args.threads)
    import torch  # noqa: F401

    info = common.machine_info(args.threads)
    print(f"# cnnlab vs PyTorch: seed-004 model on MNIST, {args.threads} threads")
    print(common.machine_markdown(info), flush=True)

    t0 = time.perf_counter()
    (x_train, y_train), (x_test, y_test) = common.load_mnist(args.data)
    rng = np.random.default_rng(args.seed)
    order = rng.permutation(len(x_train))
    xs = common.as_model_input(x_train[order])          # shuffled once; batches are contiguous views
    ys = y_train[order].astype(np.int64)
    xt = common.as_model_input(x_test)
    yt = y_test.astype(np.int64)
    print(f"data: {len(xs):,} training and {len(xt):,} test images from {args.data} "
          f"({time.perf_counter() - t0:.1f} s)", flush=True)

    gemm = common.matmul_gflops(2048)
    torch_gemm = common.matmul_gflops(2048, lib="torch")
    flops = common.seed004_flops_per_image()
    floor_img_s = gemm["median_gflops"] * 1e9 / flops["train"]
    print(f"matmul 2048^3: NumPy {gemm['median_gflops']:.0f} GFLOP/s, PyTorch {torch_gemm['median_gflops']:.0f} "
          f"GFLOP/s; {flops['train'] / 1e6:.2f} MFLOP per training image -> floor {floor_img_s:,.0f} img/s",
          flush=True)

    model = common.build_cnnlab_model(args.seed)
    torch_model = common.build_torch_twin(model)
    twin = common.check_twin(model, torch_model, xt[:128], yt[:128])
    print(f"twin check: max |softmax diff| {twin['max_abs_softmax_diff']:.1e}", flush=True)

    training = bench_training(args, model, torch_model, xs, ys, floor_img_s)
    print("inference ...", flush=True)
    infer, latency = bench_inference(args, model, torch_model, xt)
    memory = []
    if not args.no_memory:
        print("memory probes ...", flush=True)
        memory = bench_memory(args)

    body = render(args, info, gemm, torch_gemm, flops, floor_img_s, twin, training, infer, latency, memory)
    load_end = common.load_average()
    warning = common.load_warning(info["load_average_start"], load_end)
    if warning:
        body = f"**{warning}**\n\n" + body
    md = (f"# Training speed: cnnlab vs PyTorch (seed-004 model, MNIST)\n\nCommand: `{common.command_line()}`\n\n"
          f"{common.machine_markdown(info)}\n\n{body}")
    print()
    print(body)
    data = {"command": common.command_line(), "args": vars(args), "machine": info,
            "gemm": {"numpy": gemm, "torch": torch_gemm}, "flops_per_image": flops, "floor_img_per_s": floor_img_s,
            "twin_check": twin, "load_average_end": load_end, "warning": warning, "training": training,
            "inference": infer, "latency": latency, "memory": memory}
    for path in common.write_results(args.out, "train_speed", data, md):
        print(f"wrote {path}")


if __name__ == "__main__":
    main()
