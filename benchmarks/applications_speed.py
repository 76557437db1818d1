"""Inference speed of keras.applications networks, cnnlab against PyTorch, in one process.

    python benchmarks/applications_speed.py [--models mobilenet_v2 resnet50 ...] [--batch-sizes 1 32]
                                            [--rounds 5] [--threads 2] [--size 224] [--out benchmarks/results]

Each network is built by cnnlab (``keras.applications``, ``weights=None``, with the top, 1000
classes; BN statistics randomized so that they matter) and rebuilt in plain ``torch.nn`` with the
same weights copied in (``application_twins.py``: torchvision does not load with this torch; the
twin is the same architecture layer for layer). The outputs are checked to agree before timing.
The fair set-up of ``train_speed.py`` (common.py): both libraries in this process with the same
threads (``torch.set_num_threads(n)``, NumPy's BLAS limited with threadpoolctl, cnnlab's batch
split; OMP_NUM_THREADS and friends removed first), PyTorch under ``torch.inference_mode()`` in its
faster memory format (NCHW or channels_last, both warmed), each side warmed until two rounds agree
within 5 %, then ``--rounds`` timed rounds in alternating order; the ratio is PyTorch's time over
cnnlab's per round (> 1: cnnlab faster), median and range. Prints the CPU and a Markdown table and
writes applications_speed.json / .md into --out.
"""

from __future__ import annotations

import argparse
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import common  # noqa: E402

common.clean_environment()

import numpy as np  # noqa: E402
from application_twins import MODELS, build_pair  # noqa: E402


def parse_args(argv=None):
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument(
        "--models",
        nargs="+",
        default=["mobilenet_v2", "resnet50"],
        choices=sorted(MODELS),
    )
    p.add_argument("--batch-sizes", nargs="+", type=int, default=[1, 32])
    p.add_argument("--rounds", type=int, default=5)
    p.add_argument("--threads", type=int, default=2)
    p.add_argument(
        "--size", type=int, default=224, help="image height and width (default 224)"
    )
    p.add_argument(
        "--warmup-cap", type=int, default=6, help="most warm-up rounds per side"
    )
    p.add_argument("--out", default=common.DEFAULT_OUT)
    return p.parse_args(argv)


def bench_batch(name, model, twins, batch, args):
    """One batch size: both sides warmed, then alternating timed rounds; a result row."""
    import torch
    from application_twins import nchw

    x = (
        np.random.default_rng(1)
        .uniform(-1, 1, (batch, args.size, args.size, 3))
        .astype(np.float32)
    )
    inputs = {layout: nchw(x, layout == "channels_last") for layout in twins}

    def run_cnnlab():
        model.predict_on_batch(x)

    def torch_fn(layout):
        def run():
            with torch.inference_mode():
                twins[layout](inputs[layout])

        return run

    warm = {"cnnlab": common.warm_until_stable(run_cnnlab, cap=args.warmup_cap)}
    for layout in twins:
        warm[layout] = common.warm_until_stable(torch_fn(layout), cap=args.warmup_cap)
    layout = min(twins, key=lambda k: common.median(warm[k][0][-2:]))
    times = common.interleaved(
        {"cnnlab": run_cnnlab, "torch": torch_fn(layout)}, args.rounds, warmup=0
    )
    stats = common.ratio_stats(times["cnnlab"], times["torch"])
    row = {
        "model": name,
        "batch": batch,
        "cnnlab_images_per_s": batch / common.median(times["cnnlab"]),
        "torch_images_per_s": batch / common.median(times["torch"]),
        "torch_layout": layout,
        "stats": stats,
        "times": times,
        "not_stable_after_warmup": [k for k, (_, stable) in warm.items() if not stable],
    }
    print(
        f"  {name} batch {batch}: cnnlab {row['cnnlab_images_per_s']:.1f} images/s, PyTorch "
        f"{row['torch_images_per_s']:.1f} ({layout}); cnnlab/PyTorch speed {stats['speed_ratio']:.2f} "
        f"({stats['speed_ratio_min']:.2f}-{stats['speed_ratio_max']:.2f})",
        flush=True,
    )
    return row


def bench(name, args):
    model, twins = build_pair(name, args.size)
    return [bench_batch(name, model, twins, batch, args) for batch in args.batch_sizes]


def render(args, info, rows):
    table = common.markdown_table(
        [
            "model",
            "batch",
            "cnnlab images/s",
            "PyTorch images/s",
            "speed ratio (median, range)",
        ],
        [
            [
                r["model"],
                r["batch"],
                f"{r['cnnlab_images_per_s']:.1f}",
                f"{r['torch_images_per_s']:.1f} ({r['torch_layout']})",
                f"{r['stats']['speed_ratio']:.2f} ({r['stats']['speed_ratio_min']:.2f}-"
                f"{r['stats']['speed_ratio_max']:.2f})",
            ]
            for r in rows
        ],
    )
    warning = common.load_warning(info["load_average_start"], common.load_average())
    return (
        f"# keras.applications inference speed, cnnlab vs PyTorch\n\n`{common.command_line()}`\n\n"
        f"{common.machine_markdown(info)}\n- Input {args.size}x{args.size}x3, include_top=True (1000 classes), "
        f"{args.rounds} alternating rounds; ratio = PyTorch time / cnnlab time (> 1: cnnlab faster)\n\n"
        f"{table}\n" + (f"\n{warning}\n" if warning else "")
    )


def main(argv=None):
    args = parse_args(argv)
    import torch  # noqa: F401  (before the thread set-up, which sets its pool)

    from cnnlab import applications

    common.setup_threads(args.threads)
    info = common.machine_info(args.threads)
    print(
        f"CPU: {info['cpu_model']} ({info['cpus_allowed']} usable), {args.threads} threads each",
        flush=True,
    )
    missing = [m for m in args.models if not hasattr(applications, MODELS[m])]
    if missing:
        print(
            f"note: not in this build's keras.applications, skipped: {', '.join(missing)}"
        )
    rows = []
    for name in args.models:
        if name not in missing:
            rows += bench(name, args)
    markdown = render(args, info, rows)
    print(markdown)
    common.write_results(
        args.out, "applications_speed", {"machine": info, "results": rows}, markdown
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
