"""The command line: ``cnnlab train | summary | evaluate | predict``.

Each subcommand is a pair: ``add_<name>(subparsers)`` declares its arguments and
``run_<name>(args)`` does the work; :data:`COMMANDS` lists them in the order
``--help`` shows them (``explain``, ``tune`` and ``lesson`` will join the list).
Errors a user can fix (missing files, bad specs, bad images) print
``error: ...`` on stderr and exit with status 2, without a traceback.
"""
from __future__ import annotations

import argparse
import json
import os
import sys

from . import __version__
from .errors import CnnlabError


# --------------------------------------------------------------------------- shared helpers

def load_mnist(data=None):
    """``(x_train, y_train), (x_test, y_test)`` scaled to [0, 1] with a channel axis:
    the bundled sample, or MNIST from ``data`` (a directory or ``.npz``)."""
    from .data import mnist
    (x, y), (xt, yt) = mnist.load_data(path=data) if data else mnist.load_sample()
    return (x[..., None].astype("float32") / 255, y), (xt[..., None].astype("float32") / 255, yt)


def model_from_args(args):
    """The model named by ``--spec`` (or the seed-004 CNN), compiled."""
    from . import specs
    spec = specs.load_spec(args.spec) if args.spec else specs.default_spec()
    model = specs.build_model(spec, args.spec or "seed-004")
    model.compile(**specs.compile_args(spec, getattr(args, "optimizer", None),
                                       getattr(args, "learning_rate", None)))
    return model


def load_model(path):
    """A model from a ``.keras`` file (needs ``cnnlab.keras.models.load_model``)."""
    from .keras import models
    if not hasattr(models, "load_model"):
        raise CnnlabError("reading .keras files needs cnnlab's saving module, which this build does not "
                          "have yet; use --spec FILE to describe a model instead")
    if not os.path.isfile(path):
        raise CnnlabError(f"no such model file: {path}. Received: {path!r}")
    model = models.load_model(path)
    if not getattr(model, "compiled", False) or model.loss is None:
        model.compile(optimizer="adam", loss="sparse_categorical_crossentropy", metrics=["accuracy"])
    return model


def print_scores(scores):
    accuracy = f"Test accuracy: {scores['accuracy']:.4f}, test loss" if "accuracy" in scores else "Test loss"
    print(f"{accuracy}: {scores['loss']:.4f}")


def save_run(model, history, out):
    """Write the model, ``history.json`` and ``training_curves.png`` into ``out``; print where."""
    os.makedirs(out, exist_ok=True)
    written = []
    if hasattr(model, "save"):
        model.save(os.path.join(out, "model.keras"))
        written.append("model.keras")
    else:
        print("note: model.keras not written: this build cannot save .keras files yet")
    with open(os.path.join(out, "history.json"), "w", encoding="utf-8") as f:
        json.dump({k: [float(v) for v in values] for k, values in history.history.items()}, f, indent=2)
    written.append("history.json")
    try:
        from .plots import plot_history
        plot_history(history.history, os.path.join(out, "training_curves.png"), title="Training curves")
        written.append("training_curves.png")
    except ImportError:
        print("note: training_curves.png not drawn: matplotlib is not installed (pip install 'cnnlab[plots]')")
    print(f"Outputs in {os.path.join(out, '')}: " + ", ".join(written))
    return [os.path.join(out, name) for name in written]


def positive_int(text):
    value = int(text)
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be a positive integer, not {value}")
    return value


def add_model_source(parser):
    parser.add_argument("--spec", metavar="FILE", help="a JSON (or YAML) model spec; default: the seed-004 CNN")


def add_data(parser):
    parser.add_argument("--data", metavar="DIR", help="MNIST directory or .npz (mnist.npz alone: the Keras cache); "
                                                      "default: the sample bundled with cnnlab")


# --------------------------------------------------------------------------- train

def add_train(sub):
    p = sub.add_parser("train", help="train a CNN on MNIST and write the model, history and curves",
                       description="Train the seed-004 CNN (or --spec FILE) on MNIST.")
    add_data(p)
    add_model_source(p)
    p.add_argument("--epochs", type=positive_int, default=2, metavar="N", help="passes over the data (default 2)")
    p.add_argument("--batch-size", type=positive_int, default=32, metavar="N", help="samples per update (default 32)")
    p.add_argument("--optimizer", metavar="NAME", help="adam, sgd, rmsprop, adagrad (default: the spec's, or adam)")
    p.add_argument("--learning-rate", type=float, metavar="X", help="the optimizer's learning rate")
    p.add_argument("--seed", type=int, default=0, metavar="N", help="random seed (default 0)")
    p.add_argument("--validation-split", type=float, default=0.1, metavar="F",
                   help="fraction of the training data held out for validation (default 0.1)")
    p.add_argument("--out", default=os.path.join("runs", "latest"), metavar="DIR",
                   help="output folder (default runs/latest)")
    p.add_argument("--quiet", action="store_true", help="no summary and no progress bar")
    p.add_argument("--resume", metavar="DIR",
                   help="back the training state up into DIR (keras.callbacks.BackupAndRestore) and, if DIR holds "
                        "a backup from an interrupted run, continue it exactly; the backup is deleted at the end")
    p.add_argument("--backup-every", type=positive_int, metavar="N",
                   help="with --resume: back up every N batches instead of at the end of each epoch")
    return p


def backup_callbacks(args):
    """``--resume DIR``: ``BackupAndRestore(DIR)``, and a line saying where a resumed run continues."""
    if not args.resume:
        if args.backup_every:
            raise CnnlabError(f"--backup-every needs --resume DIR (where the backups go). "
                              f"Received: --backup-every {args.backup_every}")
        return []
    from .model.callbacks import BackupAndRestore, LambdaCallback
    backup = BackupAndRestore(args.resume, save_freq=args.backup_every or "epoch")

    def say_where(logs=None):
        point = backup.restored_from
        if point is not None:
            done = f", after {point.step} batches of it" if point.step else ""
            print(f"Resuming from the backup in {args.resume}: epoch {point.epoch + 1}{done}", flush=True)

    return [backup, LambdaCallback(on_train_begin=say_where)]


def run_train(args):
    from .random import set_seed
    set_seed(args.seed)
    model = model_from_args(args)
    (x, y), (xt, yt) = load_mnist(args.data)
    print(f"Data: {len(x):,} training and {len(xt):,} test images "
          f"({args.data or 'the MNIST sample bundled with cnnlab'})")
    if not args.quiet:
        model.summary()
    history = model.fit(x, y, batch_size=args.batch_size, epochs=args.epochs, callbacks=backup_callbacks(args),
                        validation_split=args.validation_split, verbose=0 if args.quiet else 1)
    print_scores(model.evaluate(xt, yt, verbose=0, return_dict=True))
    save_run(model, history, args.out)
    return 0


# --------------------------------------------------------------------------- summary

def add_summary(sub):
    p = sub.add_parser("summary", help="print a model's Keras summary",
                       description="Print model.summary() of a .keras file, a --spec, or the seed-004 CNN.")
    p.add_argument("model", nargs="?", metavar="MODEL.keras", help="a saved model")
    add_model_source(p)
    p.add_argument("--formula", action="store_true", help="add each layer's parameter arithmetic")
    return p


def run_summary(args):
    if args.model and args.spec:
        raise CnnlabError("give either MODEL.keras or --spec FILE, not both")
    model = load_model(args.model) if args.model else model_from_args(args)
    model.summary(show_formula=args.formula, line_length=118 if args.formula else None)
    return 0


# --------------------------------------------------------------------------- evaluate

def add_evaluate(sub):
    p = sub.add_parser("evaluate", help="loss and accuracy of a saved model on the test split",
                       description="Evaluate MODEL.keras on the MNIST test split.")
    p.add_argument("model", metavar="MODEL.keras", help="a saved model")
    add_data(p)
    return p


def run_evaluate(args):
    model = load_model(args.model)
    _, (xt, yt) = load_mnist(args.data)
    print_scores(model.evaluate(xt, yt, return_dict=True))
    return 0


# --------------------------------------------------------------------------- predict

def add_predict(sub):
    p = sub.add_parser("predict", help="classify digit images (PNG, JPEG)",
                       description="Predict the digit in each image with MODEL.keras. Images are made to look "
                                   "like MNIST: greyscale, resized, white digit on black.")
    p.add_argument("model", metavar="MODEL.keras", help="a saved model")
    p.add_argument("images", nargs="+", metavar="IMAGE", help="image files")
    return p


def run_predict(args):
    import numpy as np

    from .faces.images import read_image, to_mnist
    images = [read_image(path) for path in args.images]  # fail on a bad image before loading the model
    model = load_model(args.model)
    if len(model.input_shape or ()) != 4:
        raise CnnlabError(f"predict needs a model of images (None, height, width, channels). "
                          f"Received: input shape {model.input_shape}")
    _, height, width, channels = model.input_shape
    for path, im in zip(args.images, images):
        x, inverted = to_mnist(im, (height, width), channels)
        probs = model.predict(x[None], verbose=0)[0]
        top = np.argsort(probs)[::-1][:3]
        print(f"{path}: {top[0]}   (top 3: " + ", ".join(f"{k} = {probs[k]:.2%}" for k in top) + ")")
        if inverted:
            print("  inverted the image: it looks like a dark digit on a light background, "
                  "and MNIST digits are white on black")
    return 0


# --------------------------------------------------------------------------- entry point

COMMANDS = {"train": (add_train, run_train), "summary": (add_summary, run_summary),
            "evaluate": (add_evaluate, run_evaluate), "predict": (add_predict, run_predict)}

#: Subcommands that live with their own package; each module defines ``add(sub)`` and ``run(args)``.
PACKAGE_COMMANDS = {"explain": "cnnlab.explain.cli", "tune": "cnnlab.tune.cli", "lesson": "cnnlab.lessons.cli"}


def build_parser():
    import importlib
    parser = argparse.ArgumentParser(prog="cnnlab", description="cnnlab: a small, transparent CNN lab on NumPy.")
    parser.add_argument("--version", action="version", version=f"cnnlab {__version__}")
    sub = parser.add_subparsers(dest="command", title="commands", metavar="COMMAND")
    for name, (add, run) in COMMANDS.items():
        add(sub).set_defaults(func=run)
    for name, module_name in PACKAGE_COMMANDS.items():
        try:
            module = importlib.import_module(module_name)
        except ModuleNotFoundError as e:
            if e.name and module_name.startswith(e.name):   # that package is not written yet
                continue
            raise
        module.add(sub).set_defaults(func=module.run)
    return parser


def main(argv=None):
    """Run the command line with ``argv`` (default ``sys.argv[1:]``); returns the exit status."""
    parser = build_parser()
    try:
        args = parser.parse_args(argv)
    except SystemExit as e:  # --help, --version, usage errors: argparse has printed them
        return e.code
    if args.command is None:
        parser.print_help()
        return 2
    try:
        return args.func(args)
    except (CnnlabError, ValueError, OSError) as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
