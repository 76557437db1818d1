"""``keras.utils.image_dataset_from_directory``: a folder of images as a streaming
:class:`~cnnlab.data.dataset.Dataset` of ``(images, labels)`` batches.

Keras 3's rules, followed exactly (``keras/src/utils/image_dataset_utils.py`` and
``dataset_utils.py`` are the definition):

* classes are the sorted sub-folders (names starting with ``.`` skipped), or
  ``class_names`` in the order given; files are listed folder by folder, walking
  each class folder recursively in sorted order, keeping the extensions in
  :data:`~cnnlab.data.images.IMAGE_FORMATS` (any case);
* with ``shuffle`` the file list is shuffled once with ``np.random.RandomState(seed)``
  (labels with the same permutation), *then* split: validation is the last
  ``int(validation_split * n)`` files, training the others, so one seed gives two
  disjoint subsets;
* the training set is reshuffled on every pass through a buffer of
  ``8 * batch_size`` files (1024 without batching); the validation set is not;
* images come as float32 ``(batch, height, width, channels)`` with values 0..255
  (uint8 with ``interpolation="nearest"``, as TensorFlow's resize keeps the dtype there),
  labels as int32 ``(batch,)`` (``"int"``), float32 one-hot (``"categorical"``) or
  float32 ``(batch, 1)`` (``"binary"``).

Decoding and resizing run in background threads (``map(..., AUTOTUNE)``) and the
batches are prefetched, as Keras's pipeline does. An image file that cannot be
decoded is **skipped with a warning that names it** (the batch is one image
shorter): one broken photo in a folder of thousands should not stop a training
run, and the warning says which file to fix. Everything else (an empty folder, no
class sub-folders, bad arguments) stops with a clear error.
"""

from __future__ import annotations

import math
import os
import warnings

import numpy as np

from ..errors import CnnlabError
from ..ops.resize import check_interpolation
from .dataset import AUTOTUNE, Dataset
from .images import IMAGE_FORMATS, channels_for, load_and_resize

LABEL_MODES = ("int", "categorical", "binary", None)


class UnreadableImageWarning(UserWarning):
    """An image file could not be decoded and was left out of its batch."""


# --------------------------------------------------------------------------- listing


def _walk_files(directory, follow_links):
    """Image files under ``directory``, as Keras's ``iter_valid_files`` lists them."""
    for root, _, files in sorted(
        os.walk(directory, followlinks=follow_links), key=lambda entry: entry[0]
    ):
        for name in sorted(files):
            if name.lower().endswith(IMAGE_FORMATS):
                yield os.path.join(root, name)


def index_directory(
    directory,
    labels,
    class_names=None,
    shuffle=True,
    seed=None,
    follow_links=False,
    verbose=True,
    where="image_dataset_from_directory",
):
    """``(file_paths, labels, class_names)`` as Keras's ``index_directory`` returns them."""
    directory = os.fspath(directory)
    if not os.path.isdir(directory):
        raise CnnlabError(
            f"{where}: {directory} is not a directory. Give the folder that holds one sub-folder "
            f"per class. Received: directory={directory!r}"
        )
    if labels == "inferred":
        subdirs = [
            d
            for d in sorted(os.listdir(directory))
            if os.path.isdir(os.path.join(directory, d)) and not d.startswith(".")
        ]
        if class_names is not None:
            if not set(class_names).issubset(subdirs):
                raise CnnlabError(
                    f"{where}: The `class_names` passed did not match the names of the "
                    f"subdirectories of the target directory. Expected: {subdirs} (or a subset "
                    f"of it), but received: class_names={class_names}"
                )
            subdirs = list(class_names)
        if not subdirs:
            loose = sum(
                1
                for name in os.listdir(directory)
                if name.lower().endswith(IMAGE_FORMATS)
            )
            hint = (
                f"it holds {loose} image files directly: put each class's images in a sub-folder named "
                f"after the class (DIR/cats/, DIR/dogs/), or pass labels=None for unlabelled images"
                if loose
                else "it is empty"
                if not os.listdir(directory)
                else "it has no sub-folders"
            )
            raise CnnlabError(
                f"{where}: {directory} has no class sub-folders ({hint}). "
                f"Received: directory={directory!r}"
            )
    else:
        if class_names is not None:
            raise CnnlabError(
                f"{where}: When `labels` is not 'inferred', argument `class_names` cannot be "
                f"specified. Received: labels={labels!r}, class_names={class_names}"
            )
        subdirs = [""]
    class_indices = {name: i for i, name in enumerate(subdirs)}
    paths, found_labels = [], []
    for sub in subdirs:
        files = list(_walk_files(os.path.join(directory, sub), follow_links))
        paths += files
        found_labels += [class_indices[sub]] * len(files)
    if labels == "inferred":
        label_array = np.asarray(found_labels, dtype=np.int32)
        names = list(subdirs)
    elif labels is None:
        label_array, names = None, None
    else:
        if len(labels) != len(paths):
            raise CnnlabError(
                f"{where}: Expected the lengths of `labels` to match the number of files in the "
                f"target directory. len(labels) is {len(labels)} while we found {len(paths)} "
                f"files in directory {directory}."
            )
        label_array = np.asarray(labels)
        names = [str(label) for label in sorted(set(np.asarray(labels).tolist()))]
    if verbose:
        print(
            f"Found {len(paths)} files."
            if label_array is None
            else f"Found {len(paths)} files belonging to {len(names)} classes."
        )
    if shuffle:
        order = np.arange(len(paths))
        np.random.RandomState(seed).shuffle(
            order
        )  # Keras shuffles paths and labels with this permutation
        paths = [paths[i] for i in order]
        if label_array is not None:
            label_array = label_array[order]
    return paths, label_array, names


def split(paths, labels, validation_split, subset, verbose=True):
    """Keras's ``get_training_or_validation_split``: the last ``int(split * n)`` files validate."""
    if not validation_split:
        return paths, labels
    n_val = int(validation_split * len(paths))
    if subset == "training":
        if verbose:
            print(f"Using {len(paths) - n_val} files for training.")
        # Keras slices [:-n_val]: with n_val = 0 that is empty, and the caller says so
        return paths[:-n_val], None if labels is None else labels[:-n_val]
    if verbose:
        print(f"Using {n_val} files for validation.")
    return paths[-n_val:] if n_val else [], None if labels is None else (
        labels[-n_val:] if n_val else labels[:0]
    )


# --------------------------------------------------------------------------- the data set


def encode_labels(labels, label_mode, num_classes):
    """Labels as Keras's data sets yield them, one per file."""
    if label_mode == "binary":
        return labels.astype(np.float32)[:, None]
    if label_mode == "categorical":
        out = np.zeros((len(labels), num_classes), dtype=np.float32)
        out[np.arange(len(labels)), labels.astype(np.int64)] = 1.0
        return out
    return labels.astype(np.int32) if labels.dtype.kind in "iub" else labels


def paths_to_dataset(
    paths,
    labels,
    image_size,
    num_channels,
    interpolation="bilinear",
    batch_size=32,
    shuffle=False,
    shuffle_buffer_size=1024,
    seed=None,
    crop_to_aspect_ratio=False,
    pad_to_aspect_ratio=False,
    class_names=None,
):
    """Files (and encoded labels) -> a prefetched Dataset of decoded, resized batches."""
    n = len(paths)
    indices = Dataset.from_tensor_slices(np.arange(n))
    if shuffle:
        indices = indices.shuffle(shuffle_buffer_size, seed=seed)

    def load(i):
        i = int(i)
        try:
            image = load_and_resize(
                paths[i],
                image_size,
                num_channels,
                interpolation,
                crop_to_aspect_ratio,
                pad_to_aspect_ratio,
            )
        except CnnlabError as e:
            warnings.warn(
                f"skipped an image that cannot be read: {paths[i]} ({e})",
                UnreadableImageWarning,
                stacklevel=2,
            )
            return None
        return image if labels is None else (image, labels[i])

    loaded = indices.map(load, num_parallel_calls=AUTOTUNE)
    readable = loaded.filter(lambda *element: element[0] is not None)
    if batch_size is not None:
        readable = readable.batch(batch_size)
    # the data set keeps its announced size (Keras's cardinality): one batch per batch_size files
    sized = Dataset(
        readable._make_iterator, n if batch_size is None else math.ceil(n / batch_size)
    )
    ds = sized.prefetch(AUTOTUNE)
    ds.class_names = class_names
    ds.file_paths = list(paths)
    return ds


def image_dataset_from_directory(
    directory,
    labels="inferred",
    label_mode="int",
    class_names=None,
    color_mode="rgb",
    batch_size=32,
    image_size=(256, 256),
    shuffle=True,
    seed=None,
    validation_split=None,
    subset=None,
    interpolation="bilinear",
    follow_links=False,
    crop_to_aspect_ratio=False,
    pad_to_aspect_ratio=False,
    data_format=None,
    format="tf",
    verbose=True,
):
    """``keras.utils.image_dataset_from_directory`` (see the module docstring for the rules).

    Returns a :class:`Dataset` with ``.class_names`` and ``.file_paths``, or a list
    ``[training, validation]`` for ``subset="both"``.
    """
    where = "image_dataset_from_directory"
    if labels not in ("inferred", None):
        if not isinstance(labels, (list, tuple, np.ndarray)):
            raise CnnlabError(
                f"{where}: `labels` argument should be a list/tuple of integer labels, of the same "
                f"size as the number of image files in the target directory. If you wish to infer "
                f"the labels from the subdirectory names in the target directory, pass "
                f'`labels="inferred"`. If you wish to get a dataset that only contains images (no '
                f"labels), pass `labels=None`. Received: labels={labels}"
            )
        if class_names:
            raise CnnlabError(
                f'{where}: You can only pass `class_names` if `labels="inferred"`. '
                f"Received: labels={labels}, and class_names={class_names}"
            )
    if label_mode not in LABEL_MODES:
        raise CnnlabError(
            f'{where}: `label_mode` argument must be one of "int", "categorical", "binary", '
            f"or None. Received: label_mode={label_mode}"
        )
    if labels is None or label_mode is None:
        labels, label_mode = None, None
    num_channels = channels_for(color_mode, where)
    if isinstance(image_size, int):
        image_size = (image_size, image_size)
    if (
        not isinstance(image_size, (list, tuple))
        or len(image_size) != 2
        or not all(isinstance(s, (int, np.integer)) and s > 0 for s in image_size)
    ):
        raise CnnlabError(
            f"{where}: Invalid `image_size` value. Expected a tuple of 2 positive integers "
            f"(height, width). Received: image_size={image_size}"
        )
    image_size = (int(image_size[0]), int(image_size[1]))
    interpolation = check_interpolation(interpolation, where)
    if crop_to_aspect_ratio and pad_to_aspect_ratio:
        raise CnnlabError(
            f"{where}: Only one of `pad_to_aspect_ratio`, `crop_to_aspect_ratio` can be set to "
            f"`True`. Received: both True"
        )
    if data_format not in (None, "channels_last"):
        raise CnnlabError(
            f"{where}: cnnlab is channels_last only. Received: data_format={data_format!r}"
        )
    if format not in ("tf", "grain"):
        raise CnnlabError(
            f'{where}: `format` should be either "tf" or "grain". Received: format={format}'
        )
    if batch_size is not None and (isinstance(batch_size, bool) or int(batch_size) < 1):
        raise CnnlabError(
            f"{where}: batch_size must be a positive integer or None. Received: batch_size={batch_size}"
        )
    _check_validation_split(validation_split, subset, shuffle, seed, where)
    if seed is None:
        seed = np.random.randint(
            1e6
        )  # Keras draws the seed from NumPy's global generator
    paths, label_array, names = index_directory(
        directory, labels, class_names, shuffle, seed, follow_links, verbose, where
    )
    if not paths:
        raise CnnlabError(
            f"{where}: No images found in directory {directory}. Allowed formats: {IMAGE_FORMATS}. "
            f"Received: directory={os.fspath(directory)!r}"
        )
    if label_mode == "binary" and len(names) != 2:
        raise CnnlabError(
            f'{where}: When passing `label_mode="binary"`, there must be exactly 2 class_names. '
            f"Received: class_names={names}"
        )
    encoded = (
        None
        if label_array is None
        else encode_labels(label_array, label_mode, len(names or ()))
    )
    buffer = batch_size * 8 if batch_size is not None else 1024
    common = dict(
        image_size=image_size,
        num_channels=num_channels,
        interpolation=interpolation,
        batch_size=batch_size,
        crop_to_aspect_ratio=crop_to_aspect_ratio,
        pad_to_aspect_ratio=pad_to_aspect_ratio,
        class_names=names,
    )
    subsets = ["training", "validation"] if subset == "both" else [subset]
    datasets = []
    for part in subsets:
        part_paths, part_labels = split(paths, encoded, validation_split, part, verbose)
        if not part_paths:
            which = {"training": "training ", "validation": "validation "}.get(part, "")
            raise CnnlabError(
                f"{where}: No {which}images found in directory {directory}. Allowed formats: "
                f"{IMAGE_FORMATS}. Received: {len(paths)} files, validation_split={validation_split}"
            )
        # Keras leaves only the validation half of subset="both" unshuffled; a lone subset follows `shuffle`
        datasets.append(
            paths_to_dataset(
                part_paths,
                part_labels,
                shuffle=shuffle and not (subset == "both" and part == "validation"),
                shuffle_buffer_size=buffer,
                seed=seed,
                **common,
            )
        )
    return datasets if subset == "both" else datasets[0]


def _check_validation_split(validation_split, subset, shuffle, seed, where):
    """Keras's ``check_validation_split_arg``."""
    if validation_split and not 0 < validation_split < 1:
        raise CnnlabError(
            f"{where}: `validation_split` must be between 0 and 1, received: {validation_split}"
        )
    if (validation_split or subset) and not (validation_split and subset):
        raise CnnlabError(
            f"{where}: If `subset` is set, `validation_split` must be set, and inversely. "
            f"Received: validation_split={validation_split}, subset={subset!r}"
        )
    if subset not in ("training", "validation", "both", None):
        raise CnnlabError(
            f'{where}: `subset` must be either "training", "validation" or "both", '
            f"received: {subset}"
        )
    if validation_split and shuffle and seed is None:
        raise CnnlabError(
            f"{where}: If using `validation_split` and shuffling the data, you must provide a "
            f"`seed` argument, to make sure that there is no overlap between the training and "
            f"validation subset. Received: seed=None"
        )
