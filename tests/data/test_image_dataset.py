"""image_dataset_from_directory against real Keras 3 (reference values made by
scripts/make_image_dataset_fixtures.py with Keras 3.15.1 on TensorFlow 2.21), and
its clear errors.

Exact for PNG, BMP and GIF files (class order, file order, labels, split and every
resized pixel). JPEG files agree within 3 levels of 255: TensorFlow's libjpeg
decodes with other settings than Pillow's, and Pillow does not expose them.
Orders that come from TensorFlow's shuffle buffer (random numbers of its own) are
compared as sets; the file lists and the split, which come from NumPy's
RandomState as in Keras, are compared exactly.
"""

import json
import os
import warnings

import numpy as np
import pytest

from cnnlab.data import UnreadableImageWarning, image_dataset_from_directory
from cnnlab.errors import CnnlabError

PIL = pytest.importorskip("PIL")
from PIL import Image  # noqa: E402

FIXTURES = os.path.join(os.path.dirname(__file__), "..", "fixtures", "images")
FOLDER = os.path.join(FIXTURES, "folder")
META = json.load(open(os.path.join(FIXTURES, "keras_reference.json"), encoding="utf-8"))
JPEG_TOLERANCE = 3.0


def reference(name):
    with np.load(
        os.path.join(FIXTURES, "keras_reference.npz"), allow_pickle=False
    ) as f:
        images = f[f"{name}/images"]
        labels = f[f"{name}/labels"] if f"{name}/labels" in f.files else None
    return images, labels


def run_case(name):
    kwargs = dict(META["cases"][name]["kwargs"])
    if "image_size" in kwargs:
        kwargs["image_size"] = tuple(kwargs["image_size"])
    ds = image_dataset_from_directory(FOLDER, verbose=False, **kwargs)
    unbatched = kwargs.get("batch_size", 32) is None
    xs, ys = [], []
    for element in ds:
        x, y = element if isinstance(element, tuple) else (element, None)
        xs.append(x[None] if unbatched else x)
        if y is not None:
            ys.append(y[None] if unbatched else y)
    return ds, np.concatenate(xs), (np.concatenate(ys) if ys else None)


def tolerances(paths):
    return np.array(
        [
            JPEG_TOLERANCE if p.lower().endswith((".jpg", ".jpeg")) else 0.0
            for p in paths
        ]
    )


CASES = [n for n, c in META["cases"].items() if "keras_error" not in c]
ORDERED = [n for n in CASES if not META["cases"][n]["kwargs"].get("shuffle", True)]


@pytest.mark.parametrize("name", CASES)
def test_class_names_file_paths_and_cardinality_match_keras(name):
    case = META["cases"][name]
    ds, x, y = run_case(name)
    assert ds.class_names == case["class_names"]
    assert [os.path.relpath(p, FOLDER) for p in ds.file_paths] == case["file_paths"]
    assert len(ds) == ds.cardinality() == case["cardinality"]
    assert (
        str(x.dtype)
        == case["image_dtype"]
        == ("uint8" if "nearest" in name else "float32")
    )
    assert (None if y is None else str(y.dtype)) == case["label_dtype"]


@pytest.mark.parametrize("name", ORDERED)
def test_pixels_and_labels_match_keras(name):
    ds, x, y = run_case(name)
    ref_x, ref_y = reference(name)
    assert x.shape == ref_x.shape
    worst = np.abs(x - ref_x).reshape(len(x), -1).max(axis=1)
    paths = META["cases"][name]["file_paths"]
    assert (worst <= tolerances(paths)).all(), dict(zip(paths, worst.tolist()))
    assert (worst == 0).sum() >= sum(
        not p.lower().endswith((".jpg", ".jpeg")) for p in paths
    )
    if ref_y is None:
        assert y is None
    else:
        np.testing.assert_array_equal(y, ref_y)
        assert y.shape == ref_y.shape


@pytest.mark.parametrize("name", ["split_training", "split_validation"])
def test_shuffled_split_holds_keras_images(name):
    """The split (which files, which labels) is Keras's exactly; the order within the
    pass comes from a shuffle buffer, so images are matched one to one."""
    ds, x, y = run_case(name)
    ref_x, ref_y = reference(name)
    assert sorted(y.tolist()) == sorted(ref_y.tolist())
    unmatched = list(range(len(ref_x)))
    for image, label in zip(x, y):
        hit = [
            k
            for k in unmatched
            if ref_y[k] == label and np.abs(ref_x[k] - image).max() <= JPEG_TOLERANCE
        ]
        assert hit, "an image cnnlab yields is not in Keras's subset"
        unmatched.remove(hit[0])
    assert not unmatched


def test_training_and_validation_are_disjoint_and_cover_the_folder():
    train, val = image_dataset_from_directory(
        FOLDER,
        image_size=(4, 4),
        seed=7,
        validation_split=0.3,
        subset="both",
        verbose=False,
    )
    assert not set(train.file_paths) & set(val.file_paths)
    assert len(train.file_paths) + len(val.file_paths) == 16
    assert len(val.file_paths) == int(0.3 * 16)


def test_training_set_is_reshuffled_every_pass_and_validation_is_not():
    train, val = image_dataset_from_directory(
        FOLDER,
        image_size=(4, 4),
        seed=7,
        batch_size=2,
        validation_split=0.5,
        subset="both",
        verbose=False,
    )
    passes = [np.concatenate([yb for _, yb in train]).tolist() for _ in range(3)]
    images = [
        np.concatenate([xb for xb, _ in train]).sum(axis=(1, 2, 3)).tolist()
        for _ in range(3)
    ]
    assert len({tuple(p) for p in images}) > 1
    assert all(sorted(p) == sorted(passes[0]) for p in passes)
    first = [np.concatenate([xb for xb, _ in val]) for _ in range(2)]
    np.testing.assert_array_equal(first[0], first[1])


def test_refusals_keras_makes_are_conversions_here():
    """TensorFlow refuses grayscale BMP/GIF and RGBA JPEG; cnnlab converts them (same formula as PNG)."""
    assert "BMP" in META["cases"]["gray_bmp"]["keras_error"]
    ds = image_dataset_from_directory(
        FOLDER, image_size=(5, 8), color_mode="grayscale", shuffle=False, verbose=False
    )
    x = np.concatenate([xb for xb, _ in ds])
    assert x.shape == (16, 5, 8, 1)
    gray_ref, _ = reference("gray_bilinear")
    zebra = [i for i, p in enumerate(ds.file_paths) if os.sep + "zebra" + os.sep in p]
    np.testing.assert_array_equal(x[zebra], gray_ref)


# --------------------------------------------------------------------------- errors


def write_png(path, shape=(6, 6, 3), value=100):
    os.makedirs(os.path.dirname(path), exist_ok=True)
    Image.fromarray(np.full(shape, value, np.uint8).squeeze()).save(path)


def test_empty_folder(tmp_path):
    with pytest.raises(CnnlabError, match="no class sub-folders.*empty"):
        image_dataset_from_directory(tmp_path, verbose=False)


def test_folder_of_loose_images_without_class_folders(tmp_path):
    write_png(str(tmp_path / "a.png"))
    with pytest.raises(
        CnnlabError, match="1 image files directly.*sub-folder named after the class"
    ):
        image_dataset_from_directory(tmp_path, verbose=False)
    ds = image_dataset_from_directory(
        tmp_path, labels=None, image_size=(3, 3), verbose=False
    )
    assert next(iter(ds)).shape == (1, 3, 3, 3)


def test_class_folders_without_images(tmp_path):
    (tmp_path / "a").mkdir()
    (tmp_path / "a" / "x.txt").write_text("no image")
    with pytest.raises(CnnlabError, match="No images found.*Allowed formats"):
        image_dataset_from_directory(tmp_path, verbose=False)


def test_not_a_directory(tmp_path):
    with pytest.raises(CnnlabError, match="is not a directory"):
        image_dataset_from_directory(tmp_path / "missing", verbose=False)


def test_unreadable_image_is_skipped_with_a_warning_naming_it(tmp_path):
    for i in range(3):
        write_png(str(tmp_path / "a" / f"{i}.png"))
    broken = tmp_path / "a" / "broken.png"
    broken.write_bytes(b"\x89PNG\r\n\x1a\n this is not a png")
    ds = image_dataset_from_directory(
        tmp_path, image_size=(4, 4), shuffle=False, verbose=False
    )
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        batches = list(ds)
    assert sum(len(xb) for xb, _ in batches) == 3
    messages = [
        str(w.message) for w in caught if issubclass(w.category, UnreadableImageWarning)
    ]
    assert messages and str(broken) in messages[0]


def test_mixed_channel_counts_are_converted_to_color_mode(tmp_path):
    write_png(str(tmp_path / "a" / "gray.png"), (5, 5, 1))
    write_png(str(tmp_path / "a" / "rgba.png"), (5, 5, 4))
    write_png(str(tmp_path / "b" / "rgb.png"), (9, 4, 3))
    ds = image_dataset_from_directory(
        tmp_path, image_size=(4, 4), verbose=False, seed=1
    )
    x, y = next(iter(ds))
    assert x.shape == (3, 4, 4, 3)


def test_mixed_shapes_in_a_batch_are_a_clear_error():
    from cnnlab.data import Dataset

    ds = Dataset.from_generator(
        lambda: iter([np.zeros((2, 2, 3)), np.zeros((2, 2, 1))])
    ).batch(2)
    with pytest.raises(
        CnnlabError,
        match=r"element 1 of a batch has shape \(2, 2, 1\) where the first has \(2, 2, 3\)",
    ):
        list(ds)


@pytest.mark.parametrize(
    "kwargs, message",
    [
        (dict(label_mode="sparse"), "label_mode"),
        (dict(color_mode="cmyk"), "color_mode"),
        (dict(image_size=(0, 4)), "image_size"),
        (
            dict(interpolation="bicubic"),
            "interpolation must be one of bilinear, nearest",
        ),
        (
            dict(validation_split=0.2),
            "If `subset` is set, `validation_split` must be set",
        ),
        (dict(validation_split=0.2, subset="training"), "you must provide a `seed`"),
        (dict(validation_split=1.5, subset="training", seed=1), "between 0 and 1"),
        (dict(subset="test", validation_split=0.2, seed=1), "`subset` must be either"),
        (dict(label_mode="binary"), "exactly 2 class_names"),
        (
            dict(class_names=["cat", "lion"]),
            "did not match the names of the subdirectories",
        ),
        (dict(labels=[0, 1]), "lengths of `labels` to match"),
        (dict(labels="folders"), "should be a list/tuple of integer labels"),
        (dict(crop_to_aspect_ratio=True, pad_to_aspect_ratio=True), "Only one of"),
    ],
)
def test_bad_arguments(kwargs, message):
    with pytest.raises(CnnlabError, match=message):
        image_dataset_from_directory(FOLDER, verbose=False, **kwargs)


def test_validation_split_too_small_for_one_file_is_keras_error():
    # int(0.01 * 16) = 0 validation files; Keras then slices [:-0] and has no training files either
    with pytest.raises(CnnlabError, match="No training images found"):
        image_dataset_from_directory(
            FOLDER, validation_split=0.01, subset="training", seed=1, verbose=False
        )
