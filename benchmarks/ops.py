"""Forward + backward time of the seed-004 convolutions: cnnlab's ops against PyTorch.

    python benchmarks/ops.py [--threads 2] [--calls 20] [--rounds 7] [--batch 128] [--out DIR]

Cases, at batch 128 (float32):
  conv1: (128, 28, 28, 1) -> 32 @ 3x3, without the input gradient (as in the model,
         where conv1 is the first layer) and with it;
  conv2: (128, 13, 13, 32) -> 64 @ 3x3, full 11x11 output, and with the model's
         crop to 10x10 (the following 2x2 valid pooling reads only 10 rows and columns;
         cnnlab then does 17 % less work than PyTorch, so that row is not like for like);
  forward alone for both.
cnnlab: ``cnnlab.ops.conv_forward`` / ``conv_backward`` (NHWC). PyTorch: ``F.conv2d`` with
autograd, NCHW and channels_last. All in one process, interleaved, medians reported.
"""

from __future__ import annotations

import argparse
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import common  # noqa: E402

common.clean_environment()

import numpy as np  # noqa: E402


def parse_args(argv=None):
    p = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    p.add_argument(
        "--threads", type=int, default=2, help="threads for every library (default 2)"
    )
    p.add_argument("--batch", type=int, default=128, help="batch size (default 128)")
    p.add_argument(
        "--calls", type=int, default=20, help="calls per timed run (default 20)"
    )
    p.add_argument(
        "--rounds", type=int, default=7, help="interleaved timed rounds (default 7)"
    )
    p.add_argument(
        "--warmup", type=int, default=1, help="untimed warm-up rounds (default 1)"
    )
    p.add_argument(
        "--out", default=None, help="also write ops.json / ops.md into this folder"
    )
    return p.parse_args(argv)


def make_cases(batch, rng):
    """(name, x NHWC, kernel, bias, need_dx, crop_to, backward?)"""
    x1 = rng.random((batch, 28, 28, 1), dtype=np.float32)
    k1 = rng.standard_normal((3, 3, 1, 32), dtype=np.float32) * 0.3
    b1 = rng.standard_normal(32, dtype=np.float32) * 0.1
    x2 = np.maximum(rng.standard_normal((batch, 13, 13, 32), dtype=np.float32), 0)
    k2 = rng.standard_normal((3, 3, 32, 64), dtype=np.float32) * 0.08
    b2 = rng.standard_normal(64, dtype=np.float32) * 0.1
    return [
        ("conv1 fwd+bwd, no dx (as in the model)", x1, k1, b1, False, None, True),
        ("conv1 fwd+bwd, with dx", x1, k1, b1, True, None, True),
        ("conv2 fwd+bwd", x2, k2, b2, True, None, True),
        (
            "conv2 fwd+bwd, cnnlab cropped to 10x10 (less work)",
            x2,
            k2,
            b2,
            True,
            (10, 10),
            True,
        ),
        ("conv1 forward", x1, k1, b1, False, None, False),
        ("conv2 forward", x2, k2, b2, False, None, False),
    ]


def cnnlab_fn(x, k, b, need_dx, crop_to, backward, dy, calls):
    from cnnlab.ops import conv_backward, conv_forward

    def run():
        for _ in range(calls):
            y, cache = conv_forward(x, k, b, crop_to=crop_to)
            if backward:
                conv_backward(dy, cache, need_dx=need_dx)

    return run


def torch_fn(x, k, b, need_dx, backward, dy, calls, channels_last):
    import torch
    import torch.nn.functional as F

    fmt = torch.channels_last if channels_last else torch.contiguous_format
    xt = (
        common.nchw(x)
        .contiguous(memory_format=fmt)
        .requires_grad_(need_dx and backward)
    )
    wt = torch.from_numpy(np.ascontiguousarray(k.transpose(3, 2, 0, 1))).contiguous(
        memory_format=fmt
    )
    wt.requires_grad_(backward)
    bt = torch.from_numpy(b.copy()).requires_grad_(backward)
    dyt = common.nchw(dy).contiguous(memory_format=fmt)

    if not backward:

        def run():
            with torch.no_grad():
                for _ in range(calls):
                    F.conv2d(xt, wt, bt)

        return run

    def run():
        for _ in range(calls):
            wt.grad = bt.grad = xt.grad = None
            F.conv2d(xt, wt, bt).backward(dyt)

    return run


def check_case(x, k, b, dy, need_dx):
    """cnnlab's output and gradients agree with PyTorch autograd (float32)."""
    import torch
    import torch.nn.functional as F

    from cnnlab.ops import conv_backward, conv_forward

    y, cache = conv_forward(x, k, b)
    dx, dk, db = conv_backward(dy, cache, need_dx=need_dx)
    xt = common.nchw(x).clone().requires_grad_(True)
    wt = torch.from_numpy(np.ascontiguousarray(k.transpose(3, 2, 0, 1))).requires_grad_(
        True
    )
    bt = torch.from_numpy(b.copy()).requires_grad_(True)
    yt = F.conv2d(xt, wt, bt)
    yt.backward(common.nchw(dy))

    def rel(a, ref):
        return float(np.max(np.abs(a - ref)) / (np.max(np.abs(ref)) + 1e-30))

    errs = {
        "y": rel(y, yt.detach().permute(0, 2, 3, 1).numpy()),
        "dkernel": rel(dk, wt.grad.permute(2, 3, 1, 0).numpy()),
        "dbias": rel(db, bt.grad.numpy()),
    }
    if need_dx:
        errs["dx"] = rel(dx, xt.grad.permute(0, 2, 3, 1).numpy())
    bad = {k_: v for k_, v in errs.items() if not v < 1e-4}
    if bad:
        raise AssertionError(f"cnnlab conv disagrees with PyTorch: {bad}")
    return errs


def main(argv=None):
    args = parse_args(argv)
    common.setup_threads(args.threads)
    import torch

    from cnnlab.ops import conv_forward

    info = common.machine_info(args.threads)
    print(
        f"# cnnlab conv ops vs PyTorch, batch {args.batch}, {args.threads} threads, "
        f"{args.calls} calls x {args.rounds} rounds (interleaved, medians)"
    )
    print(common.machine_markdown(info))
    print()

    rng = np.random.default_rng(0)
    cases = make_cases(args.batch, rng)
    checks = {}
    for name, x, k, b, need_dx, crop_to, backward in cases:
        if backward and crop_to is None:
            y, _ = conv_forward(x, k, b)
            dy = rng.standard_normal(y.shape, dtype=np.float32)
            checks[name] = check_case(x, k, b, dy, need_dx)
    print(
        "Correctness (max relative error vs PyTorch autograd): "
        + "; ".join(
            f"{n.split(',')[0]}{' dx' if 'dx' in e else ''}: "
            + ", ".join(f"{k_} {v:.1e}" for k_, v in e.items())
            for n, e in checks.items()
        )
    )
    print()

    results = []
    for name, x, k, b, need_dx, crop_to, backward in cases:
        y_full, _ = conv_forward(x, k, b)
        dy_full = rng.standard_normal(y_full.shape, dtype=np.float32)
        dy_c = (
            dy_full
            if crop_to is None
            else np.ascontiguousarray(dy_full[:, : crop_to[0], : crop_to[1]])
        )
        runs = {
            "cnnlab": cnnlab_fn(x, k, b, need_dx, crop_to, backward, dy_c, args.calls),
            "torch_nchw": torch_fn(
                x, k, b, need_dx, backward, dy_full, args.calls, channels_last=False
            ),
            "torch_channels_last": torch_fn(
                x, k, b, need_dx, backward, dy_full, args.calls, channels_last=True
            ),
        }
        times = common.interleaved(runs, args.rounds, warmup=args.warmup)
        per_call = {n: [t / args.calls * 1e3 for t in ts] for n, ts in times.items()}
        best_torch = [
            min(a, c)
            for a, c in zip(per_call["torch_nchw"], per_call["torch_channels_last"])
        ]
        row = {
            "case": name,
            "ms": {n: common.median(v) for n, v in per_call.items()},
            "ms_per_round": per_call,
            "vs_torch_nchw": common.ratio_stats(
                per_call["cnnlab"], per_call["torch_nchw"]
            ),
            "vs_best_torch": common.ratio_stats(per_call["cnnlab"], best_torch),
        }
        results.append(row)
        print(
            f"  {name}: cnnlab {row['ms']['cnnlab']:.2f} ms, torch {row['ms']['torch_nchw']:.2f} ms "
            f"(channels_last {row['ms']['torch_channels_last']:.2f} ms)",
            flush=True,
        )

    header = [
        "case",
        "cnnlab ms/call",
        "torch NCHW ms/call",
        "torch channels_last ms/call",
        "time ratio cnnlab/torch NCHW (>1: cnnlab slower)",
        "time ratio cnnlab/best torch",
        "speed ratio cnnlab/best torch (>1: cnnlab faster)",
    ]
    rows = [
        [
            r["case"],
            f"{r['ms']['cnnlab']:.2f}",
            f"{r['ms']['torch_nchw']:.2f}",
            f"{r['ms']['torch_channels_last']:.2f}",
            f"{r['vs_torch_nchw']['time_ratio']:.2f}",
            f"{r['vs_best_torch']['time_ratio']:.2f}",
            f"{r['vs_best_torch']['speed_ratio']:.2f}",
        ]
        for r in results
    ]
    table = common.markdown_table(header, rows)
    load_end = common.load_average()
    warning = common.load_warning(info["load_average_start"], load_end)
    note = (
        "Ratios are medians of per-round ratios; 'best torch' is the faster of NCHW and channels_last "
        "in each round. ms are medians over rounds of (run time / calls)."
    )
    if warning:
        note = f"**{warning}**\n\n{note}"
    print()
    print(table)
    print()
    print(note)
    if args.out:
        md = (
            "\n\n".join(
                [
                    f"# cnnlab conv ops vs PyTorch (batch {args.batch}, {args.threads} threads)",
                    f"Command: `{common.command_line()}`",
                    common.machine_markdown(info),
                    table,
                    note,
                ]
            )
            + "\n"
        )
        data = {
            "command": common.command_line(),
            "args": vars(args),
            "machine": info,
            "correctness": checks,
            "load_average_end": load_end,
            "warning": warning,
            "results": results,
        }
        for path in common.write_results(args.out, "ops", data, md):
            print(f"wrote {path}")
    _ = torch
    return results


if __name__ == "__main__":
    main()
