"""The command line: ``cnnlab train | summary | evaluate | predict | samples``.

Each subcommand is a pair: ``add_<name>(subparsers)`` declares its arguments and
``run_<name>(args)`` does the work; :data:`COMMANDS` lists them in the order
``--help`` shows them (``explain``, ``tune`` and ``lesson`` join them from their packages).
Errors a user can fix (missing files, bad specs, bad images) print
``error: ...`` on stderr and exit with status 2, without a traceback; a training
run that diverges prints its error and exits with status 1.
"""

from __future__ import annotations

import argparse
import json
import os
import sys

from . import __version__
from .errors import CnnlabError

# --------------------------------------------------------------------------- shared helpers


def load_mnist(data=None, say=print):
    """``(x_train, y_train), (x_test, y_test)`` scaled to [0, 1] with a channel axis, from
    ``--data``, else ``CNNLAB_DATA``, else the Keras cache, else the bundled sample
    (:func:`cnnlab.data.source.choose_mnist`); ``say`` prints which (``None``: silent)."""
    from .data.source import choose_mnist

    choice = choose_mnist(data)
    if say is not None:
        say(f"Data: {choice.describe()}")
    (x, y), (xt, yt) = choice.train, choice.test
    return (scale_images(x), y), (scale_images(xt), yt)


def scale_images(x):
    """MNIST's ``uint8 (N, 28, 28)`` as the models read it: float32 in [0, 1], ``(N, 28, 28, 1)``."""
    return x[..., None].astype("float32") / 255


#: ``cnnlab train``'s settings when neither an option nor the spec's ``"fit"`` gives them.
FIT_DEFAULTS = {"batch_size": 32, "epochs": 2, "seed": 0}


def spec_from_args(args):
    """The spec named by ``--spec`` (or the seed-004 CNN's). For ``train``, the options left
    out (``--batch-size``, ``--epochs``, ``--seed``) take the spec's ``"fit"`` values
    (``cnnlab tune`` writes them into ``best_spec.json``), else :data:`FIT_DEFAULTS`."""
    from . import specs

    spec = specs.load_spec(args.spec) if args.spec else specs.default_spec()
    for key, default in FIT_DEFAULTS.items():
        if hasattr(args, key) and getattr(args, key) is None:
            setattr(args, key, spec.get("fit", {}).get(key, default))
    return spec


def model_from_args(args, spec=None):
    """The model of ``spec`` (default :func:`spec_from_args`), compiled."""
    from . import specs

    spec = spec_from_args(args) if spec is None else spec
    model = specs.build_model(spec, args.spec or "seed-004")
    model.compile(
        **specs.compile_args(
            spec, getattr(args, "optimizer", None), getattr(args, "learning_rate", None)
        )
    )
    return model


def load_model(path):
    """A model from a ``.keras`` file (needs ``cnnlab.keras.models.load_model``)."""
    from .keras import models

    if not hasattr(models, "load_model"):
        raise CnnlabError(
            "reading .keras files needs cnnlab's saving module, which this build does not "
            "have yet; use --spec FILE to describe a model instead"
        )
    if os.path.isdir(path):
        inside = os.path.join(path, "model.keras")
        hint = f" (it holds one: {inside})" if os.path.isfile(inside) else ""
        raise CnnlabError(
            f"{path} is a directory, not a model file: give the path of a .keras file{hint}. "
            f"Received: {path!r}"
        )
    if not os.path.isfile(path):
        raise CnnlabError(
            f"no such model file: {path} (a .keras file, as cnnlab train writes it, is expected). "
            f"Received: {path!r}"
        )
    model = models.load_model(path)
    if not getattr(model, "compiled", False) or model.loss is None:
        model.compile(
            optimizer="adam",
            loss="sparse_categorical_crossentropy",
            metrics=["accuracy"],
        )
    return model


def print_scores(scores):
    accuracy = (
        f"Test accuracy: {scores['accuracy']:.4f}, test loss"
        if "accuracy" in scores
        else "Test loss"
    )
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
        json.dump(strict_json_history(history.history), f, indent=2, allow_nan=False)
    written.append("history.json")
    try:
        from .plots import plot_history

        plot_history(
            history.history,
            os.path.join(out, "training_curves.png"),
            title="Training curves",
        )
        written.append("training_curves.png")
    except ImportError:
        print(
            "note: training_curves.png not drawn: matplotlib is not installed (pip install 'cnnlab[plots]')"
        )
    print(f"Outputs in {os.path.join(out, '')}: " + ", ".join(written))
    return [os.path.join(out, name) for name in written]


def strict_json_history(history):
    """``history.history`` as strict JSON values: a NaN or infinite value becomes ``null``
    (JSON has no NaN; ``json.dump`` would write a bare ``NaN`` that strict readers refuse)."""
    import math

    return {
        k: [float(v) if math.isfinite(float(v)) else None for v in values]
        for k, values in history.items()
    }


def positive_int(text):
    value = int(text)
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be a positive integer, not {value}")
    return value


def add_model_source(parser):
    parser.add_argument(
        "--spec",
        metavar="FILE",
        help="a JSON (or YAML) model spec; default: the seed-004 CNN",
    )


DATA_HELP = (
    "MNIST directory (mnist.npz or the four IDX files) or .npz file, or a folder of your own images with one "
    "sub-folder per class; default: $CNNLAB_DATA, else the Keras cache (~/.keras/datasets/mnist.npz), else "
    "the sample bundled with cnnlab"
)


def add_data(parser):
    parser.add_argument("--data", metavar="DIR", help=DATA_HELP)


# --------------------------------------------------------------------------- train


def add_train(sub):
    p = sub.add_parser(
        "train",
        help="train a CNN on MNIST and write the model, history and curves",
        description="Train the seed-004 CNN (or --spec FILE) on MNIST.",
    )
    add_data(p)
    add_model_source(p)
    p.add_argument(
        "--epochs",
        type=positive_int,
        metavar="N",
        help='passes over the data (default: the spec\'s "fit", else 2)',
    )
    p.add_argument(
        "--batch-size",
        type=positive_int,
        metavar="N",
        help='samples per update (default: the spec\'s "fit", else 32)',
    )
    p.add_argument(
        "--optimizer",
        metavar="NAME",
        help="adam, sgd, rmsprop, adagrad (default: the spec's, or adam)",
    )
    p.add_argument(
        "--learning-rate", type=float, metavar="X", help="the optimizer's learning rate"
    )
    p.add_argument(
        "--seed",
        type=int,
        metavar="N",
        help='random seed (default: the spec\'s "fit", else 0)',
    )
    p.add_argument(
        "--validation-split",
        type=float,
        default=0.1,
        metavar="F",
        help="fraction of the training data held out for validation (default 0.1)",
    )
    p.add_argument(
        "--out",
        default=os.path.join("runs", "latest"),
        metavar="DIR",
        help="output folder (default runs/latest)",
    )
    p.add_argument(
        "--quiet", action="store_true", help="no summary and no progress bar"
    )
    p.add_argument(
        "--resume",
        metavar="DIR",
        help="back the training state up into DIR (keras.callbacks.BackupAndRestore) and, if DIR holds "
        "a backup from an interrupted run, continue it exactly; the backup is deleted at the end",
    )
    p.add_argument(
        "--backup-every",
        type=positive_int,
        metavar="N",
        help="with --resume: back up every N batches instead of at the end of each epoch",
    )
    g = p.add_argument_group(
        "your own images (--data DIR with one sub-folder per class)"
    )
    g.add_argument(
        "--image-size",
        metavar="N|HxW",
        help="images are resized to this (height x width) as Keras resizes them (default 32; 96 with --base)",
    )
    g.add_argument(
        "--color-mode",
        default="auto",
        choices=["auto", "grayscale", "rgb", "rgba"],
        help="channels to read (default auto: grayscale if every image is, rgb if every image is colour)",
    )
    g.add_argument(
        "--augment",
        action="store_true",
        help="random horizontal flips and small rotations while training (RandomFlip, "
        "RandomRotation(0.1) in front of the model; they pass images through unchanged at inference)",
    )
    t = p.add_argument_group(
        "transfer learning (with --data DIR of your own images): a frozen pretrained base and a new head"
    )
    t.add_argument(
        "--base",
        metavar="NAME",
        help="the base network from keras.applications (include_top=False), frozen and called with "
        "training=False: mobilenet_v2, mobilenet, resnet50, resnet50_v2, vgg16, xception, densenet121, "
        "efficientnet_b0 (those this build has)",
    )
    t.add_argument(
        "--weights",
        metavar="PATH|imagenet",
        help="the base's weights: a Keras weights file (.weights.h5 or the applications' .h5), or imagenet "
        "(Keras's cache ~/.keras/models/, else a download); default: random weights",
    )
    t.add_argument(
        "--alpha",
        type=float,
        metavar="X",
        help="MobileNet's width multiplier (default 1.0, as Keras)",
    )
    t.add_argument(
        "--fine-tune",
        type=positive_int,
        metavar="N",
        help="after training the head, unfreeze the base's top N layers and train --epochs more at a "
        "learning rate 100 times lower (BN layers stay in inference mode)",
    )
    return p


def backup_callbacks(args):
    """``--resume DIR``: ``BackupAndRestore(DIR)``, and a line saying where a resumed run continues."""
    if not args.resume:
        if args.backup_every:
            raise CnnlabError(
                f"--backup-every needs --resume DIR (where the backups go). "
                f"Received: --backup-every {args.backup_every}"
            )
        return []
    from .model.callbacks import BackupAndRestore, LambdaCallback

    backup = BackupAndRestore(args.resume, save_freq=args.backup_every or "epoch")

    def say_where(logs=None):
        point = backup.restored_from
        if point is not None:
            done = f", after {point.step} batches of it" if point.step else ""
            print(
                f"Resuming from the backup in {args.resume}: epoch {point.epoch + 1}{done}",
                flush=True,
            )

    return [backup, LambdaCallback(on_train_begin=say_where)]


def check_train_args(args):
    """Refuse hyper-parameters that cannot train, before any data is loaded or model built
    (argparse's ``float`` takes ``nan``, ``inf`` and negative numbers)."""
    import math

    lr = args.learning_rate
    if lr is not None and not (math.isfinite(lr) and lr > 0):
        raise CnnlabError(
            f"--learning-rate must be a finite number above 0 (e.g. 0.001). Received: --learning-rate {lr}"
        )
    split = args.validation_split
    if not (math.isfinite(split) and 0 <= split < 1):
        raise CnnlabError(
            f"--validation-split must be at least 0 and below 1 (e.g. 0.1). "
            f"Received: --validation-split {split}"
        )


def run_train(args):
    from .faces.image_folder import is_image_folder
    from .model.divergence import StopOnDivergence
    from .random import set_seed

    check_train_args(args)
    if is_image_folder(args.data):
        return run_train_folder(args)
    transfer_options = [
        f"--{k.replace('_', '-')}"
        for k in ("base", "weights", "alpha", "fine_tune")
        if getattr(args, k, None)
    ]
    if transfer_options:
        raise CnnlabError(
            f"{' '.join(transfer_options)} train a pretrained base on a folder of your own images: give --data DIR "
            f"with one sub-folder of images per class. Received: --data {args.data}"
        )
    spec = spec_from_args(
        args
    )  # fills in --batch-size, --epochs, --seed from the spec's "fit"
    set_seed(args.seed)
    model = model_from_args(args, spec)
    (x, y), (xt, yt) = load_mnist(args.data)
    if not args.quiet:
        model.summary()
    guard = StopOnDivergence()
    history = model.fit(
        x,
        y,
        batch_size=args.batch_size,
        epochs=args.epochs,
        callbacks=backup_callbacks(args) + [guard],
        validation_split=args.validation_split,
        verbose=0 if args.quiet else 1,
    )
    if guard.diverged:
        return report_divergence(model, history, args, guard.diverged)
    print_scores(model.evaluate(xt, yt, verbose=0, return_dict=True))
    save_run(model, history, args.out)
    return 0


def run_train_folder(args):
    """``cnnlab train --data DIR``: DIR holds one sub-folder of images per class."""
    from .data.directory import image_dataset_from_directory, index_directory
    from .faces import image_folder
    from .model.divergence import StopOnDivergence
    from .random import set_seed

    transfer = args.base is not None
    if not transfer and (args.weights or args.fine_tune or args.alpha is not None):
        raise CnnlabError(
            "--weights, --alpha and --fine-tune belong to transfer learning: give --base NAME too. "
            "Received: --base None"
        )
    if transfer and args.spec:
        raise CnnlabError(
            f"give either --spec FILE (a model of your own) or --base NAME (a pretrained base and a new head), "
            f"not both. Received: --spec {args.spec} --base {args.base}"
        )
    image_size = image_folder.parse_image_size(
        args.image_size or ("96" if transfer else "32")
    )
    spec = spec_from_args(args)
    set_seed(args.seed)
    paths, _, _ = index_directory(args.data, "inferred", shuffle=False, verbose=False)
    if transfer and args.color_mode in ("grayscale", "rgba"):
        raise CnnlabError(
            f"the pretrained bases read RGB images (3 channels): use --color-mode rgb or auto. "
            f"Received: --color-mode {args.color_mode}"
        )
    color_mode = (
        "rgb" if transfer else image_folder.choose_color_mode(paths, args.color_mode)
    )
    split = args.validation_split
    common = dict(
        image_size=image_size,
        color_mode=color_mode,
        batch_size=args.batch_size,
        seed=args.seed,
        verbose=False,
    )
    if split:
        train, val = image_dataset_from_directory(
            args.data, validation_split=split, subset="both", **common
        )
    else:
        train, val = image_dataset_from_directory(args.data, **common), None
    names = train.class_names
    n_val = len(val.file_paths) if val is not None else 0
    print(
        f"Data: {len(train.file_paths) + n_val:,} images in {len(names)} classes ({', '.join(names)}) from "
        f"{args.data}: {len(train.file_paths):,} for training, {n_val:,} for validation; read as {color_mode} "
        f"{image_size[0]}x{image_size[1]}, streamed from disk"
    )
    if len(names) < 2:
        raise CnnlabError(
            f"{args.data} has {len(names)} class folder; a classifier needs at least 2. "
            f"Received: classes {names}"
        )
    channels = {"grayscale": 1, "rgb": 3, "rgba": 4}[color_mode]
    if transfer:
        from .faces import transfer as transfer_mod

        model, base = transfer_mod.model_for_args(args, spec, image_size, len(names))
        prepare = lambda ds: ds  # noqa: E731  (the model preprocesses raw pixels itself)
    else:
        spec = image_folder.spec_for(
            spec, image_size, channels, len(names), custom=bool(args.spec)
        )
        if args.augment:
            spec = image_folder.with_augmentation(spec)
        model = model_from_args(args, spec)
        prepare = image_folder.scaled
    if not args.quiet:
        model.summary()
    guard = StopOnDivergence()
    history = model.fit(
        prepare(train),
        epochs=args.epochs,
        callbacks=backup_callbacks(args) + [guard],
        validation_data=None if val is None else prepare(val),
        verbose=0 if args.quiet else 1,
    )
    if not guard.diverged and transfer and args.fine_tune:
        history = transfer_mod.fine_tune(
            model,
            base,
            args,
            spec,
            history,
            prepare(train),
            None if val is None else prepare(val),
            guard,
        )
    if guard.diverged:
        return report_divergence(model, history, args, guard.diverged)
    if val is not None:
        scores = model.evaluate(prepare(val), verbose=0, return_dict=True)
        print(
            f"Validation accuracy: {scores['accuracy']:.4f}, validation loss: {scores['loss']:.4f}"
            if "accuracy" in scores
            else f"Validation loss: {scores['loss']:.4f}"
        )
    save_run(model, history, args.out)
    image_folder.write_preprocessing(
        args.out,
        names,
        image_size,
        color_mode,
        scale=1.0 if transfer else image_folder.SCALE,
    )
    print(
        f"Class names and image preparation: {os.path.join(args.out, image_folder.PREPROCESSING_FILE)}"
    )
    return 0


def report_divergence(model, history, args, why):
    """Training diverged: keep the last good weights as ``last_good.keras`` (never as
    ``model.keras``, which would look like a trained model), the history, and fail."""
    os.makedirs(args.out, exist_ok=True)
    with open(os.path.join(args.out, "history.json"), "w", encoding="utf-8") as f:
        json.dump(strict_json_history(history.history), f, indent=2, allow_nan=False)
    kept = ""
    if hasattr(model, "save"):
        path = os.path.join(args.out, "last_good.keras")
        model.save(path)
        kept = f"; the weights from before that batch are in {path}"
    stale = os.path.join(args.out, "model.keras")
    note = (
        f"\nnote: {stale} is from an earlier run, not this one"
        if os.path.isfile(stale)
        else ""
    )
    lr = f" than {args.learning_rate:g}" if args.learning_rate is not None else ""
    print(
        f"error: training diverged: {why}{kept}. No model was saved as model.keras. Train again with a "
        f"smaller learning rate{lr} (--learning-rate), e.g. 10 times smaller.{note}",
        file=sys.stderr,
    )
    return 1


# --------------------------------------------------------------------------- summary


def add_summary(sub):
    p = sub.add_parser(
        "summary",
        help="print a model's Keras summary",
        description="Print model.summary() of a .keras file, a --spec, or the seed-004 CNN.",
    )
    p.add_argument("model", nargs="?", metavar="MODEL.keras", help="a saved model")
    add_model_source(p)
    p.add_argument(
        "--formula", action="store_true", help="add each layer's parameter arithmetic"
    )
    return p


def run_summary(args):
    if args.model and args.spec:
        raise CnnlabError("give either MODEL.keras or --spec FILE, not both")
    model = load_model(args.model) if args.model else model_from_args(args)
    model.summary(show_formula=args.formula, line_length=118 if args.formula else None)
    return 0


# --------------------------------------------------------------------------- evaluate


def add_evaluate(sub):
    p = sub.add_parser(
        "evaluate",
        help="loss and accuracy of a saved model on the test split",
        description="Evaluate MODEL.keras on the MNIST test split.",
    )
    p.add_argument("model", metavar="MODEL.keras", help="a saved model")
    add_data(p)
    return p


def run_evaluate(args):
    from .faces import image_folder

    info = image_folder.read_preprocessing(args.model)
    if info is not None or image_folder.is_image_folder(args.data):
        if info is None:
            raise CnnlabError(
                f"{args.data} is a folder of images, but {args.model} has no "
                f"{image_folder.PREPROCESSING_FILE} beside it (written by cnnlab train --data DIR), so "
                f"its class names and image size are unknown. Received: {args.model!r}"
            )
        if not image_folder.is_image_folder(args.data):
            raise CnnlabError(
                f"this model was trained on an image folder ({', '.join(info['class_names'])}): give "
                f"--data DIR with one sub-folder per class. Received: --data {args.data}"
            )
        model = load_model(args.model)
        ds, n = image_folder.folder_dataset(args.data, info)
        print(f"Data: {n:,} images from {args.data}")
        scores = model.evaluate(ds, return_dict=True)
        print(
            f"Accuracy: {scores['accuracy']:.4f}, loss: {scores['loss']:.4f}"
            if "accuracy" in scores
            else f"Loss: {scores['loss']:.4f}"
        )
        return 0
    model = load_model(args.model)
    _, (xt, yt) = load_mnist(args.data)  # says which data it scores on
    print_scores(model.evaluate(xt, yt, return_dict=True))
    return 0


# --------------------------------------------------------------------------- predict


def add_predict(sub):
    p = sub.add_parser(
        "predict",
        help="classify digit images (PNG, JPEG)",
        description="Predict the digit in each image with MODEL.keras. For a model that reads 28x28x1 "
        "images each picture is prepared as MNIST was made (transparency composited, "
        "a light background inverted, cropped to the ink, fitted into 20x20, placed by "
        "its centre of mass in 28x28); for other models it is converted to their "
        "channels and size. Each step is printed.",
    )
    p.add_argument("model", metavar="MODEL.keras", help="a saved model")
    p.add_argument("images", nargs="+", metavar="IMAGE", help="image files")
    return p


def run_predict_folder_model(args, info):
    """Predict with a model trained on an image folder: each image read as training read it."""
    import numpy as np

    from .faces import image_folder

    xs = [
        image_folder.load_for_model(path, info) for path in args.images
    ]  # a bad image fails first
    model = load_model(args.model)
    names = info["class_names"]
    h, w = info["image_size"]
    for path, x in zip(args.images, xs):
        probs = model.predict(x[None], verbose=0)[0]
        top = np.argsort(probs)[::-1][:3]
        print(
            f"{path}: {names[top[0]]}   (top {len(top)}: "
            + ", ".join(f"{names[k]} = {probs[k]:.2%}" for k in top)
            + f"; read as {info['color_mode']} {h}x{w})"
        )
    return 0


def run_predict(args):
    import numpy as np

    from .faces.image_folder import read_preprocessing
    from .faces.images import prepare, read_image

    info = read_preprocessing(args.model)
    if info is not None:
        return run_predict_folder_model(args, info)
    images = [
        read_image(path) for path in args.images
    ]  # fail on a bad image before loading the model
    model = load_model(args.model)
    if len(model.input_shape or ()) != 4:
        raise CnnlabError(
            f"predict needs a model of images (None, height, width, channels). "
            f"Received: input shape {model.input_shape}"
        )
    for path, im in zip(args.images, images):
        x, notes = prepare(im, model.input_shape[1:])
        probs = model.predict(x[None], verbose=0)[0]
        if not np.isfinite(probs).all():  # never print "nan%" as if it were an answer
            bad = sum(int((~np.isfinite(w)).sum()) for w in model.get_weights())
            raise CnnlabError(
                f"{args.model} gives non-finite outputs ({probs[~np.isfinite(probs)][:1][0]}) for {path}: "
                f"{bad:,} of its weights are NaN or infinite (a training run that diverged?). "
                f"Train it again with a smaller learning rate. Received: {args.model!r}"
            )
        top = np.argsort(probs)[::-1][:3]
        print(
            f"{path}: {top[0]}   (top 3: "
            + ", ".join(f"{k} = {probs[k]:.2%}" for k in top)
            + ")"
        )
        for note in notes:
            print(f"  {note}")
    return 0


# --------------------------------------------------------------------------- samples

#: The sample pictures that ship in ``cnnlab/data/digits/`` (``scripts/make_sample_digits.py``).
SAMPLE_PICTURES = [f"digit_{k}.png" for k in range(10)] + [
    "digit_photo.png",
    "digit_transparent.png",
]


def add_samples(sub):
    p = sub.add_parser(
        "samples",
        help="write sample digit pictures (PNG) to try predict and explain on",
        description="Write the sample pictures that ship with cnnlab: digit_0.png ... digit_9.png "
        "(MNIST test digits), digit_photo.png (a 7 photographed small on paper), "
        "digit_transparent.png (a 7 drawn in the alpha channel), and digit.png (the 7).",
    )
    p.add_argument(
        "--out",
        default=".",
        metavar="DIR",
        help="folder to write them into (default: here)",
    )
    return p


def run_samples(args):
    from importlib import resources

    os.makedirs(args.out, exist_ok=True)
    folder = resources.files("cnnlab.data").joinpath("digits")
    names = [(name, name) for name in SAMPLE_PICTURES] + [("digit_7.png", "digit.png")]
    for source, target in names:
        with open(os.path.join(args.out, target), "wb") as f:
            f.write(folder.joinpath(source).read_bytes())
    print(
        f"Wrote {len(names)} pictures to {os.path.join(args.out, '')}: "
        + ", ".join(t for _, t in names)
    )
    return 0


# --------------------------------------------------------------------------- entry point

COMMANDS = {
    "train": (add_train, run_train),
    "summary": (add_summary, run_summary),
    "evaluate": (add_evaluate, run_evaluate),
    "predict": (add_predict, run_predict),
    "samples": (add_samples, run_samples),
}

#: Subcommands that live with their own package; each module defines ``add(sub)`` and ``run(args)``.
PACKAGE_COMMANDS = {
    "explain": "cnnlab.explain.cli",
    "tune": "cnnlab.tune.cli",
    "lesson": "cnnlab.lessons.cli",
}


def build_parser():
    import importlib

    parser = argparse.ArgumentParser(
        prog="cnnlab", description="cnnlab: a small, transparent CNN lab on NumPy."
    )
    parser.add_argument("--version", action="version", version=f"cnnlab {__version__}")
    sub = parser.add_subparsers(dest="command", title="commands", metavar="COMMAND")
    for add, run in COMMANDS.values():
        add(sub).set_defaults(func=run)
    for module_name in PACKAGE_COMMANDS.values():
        try:
            module = importlib.import_module(module_name)
        except ModuleNotFoundError as e:
            if e.name and module_name.startswith(
                e.name
            ):  # that package is not written yet
                continue
            raise
        module.add(sub).set_defaults(func=module.run)
    return parser


def main(argv=None):
    """Run the command line with ``argv`` (default ``sys.argv[1:]``); returns the exit status."""
    parser = build_parser()
    try:
        args = parser.parse_args(argv)
    except (
        SystemExit
    ) as e:  # --help, --version, usage errors: argparse has printed them
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
