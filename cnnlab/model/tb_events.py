"""TensorBoard event files written with the ``tensorboard`` package's own writer and protocol buffers
(``pip install cnnlab[tensorboard]``); no TensorFlow needed.

What cnnlab writes, summary by summary: scalars (``simple_value``, which TensorBoard's scalar
dashboard and ``EventAccumulator.Scalars`` read), weight histograms (``HistogramProto``, 30
equal-width buckets between the minimum and the maximum, as ``tf.summary.histogram`` uses),
images (8-bit grayscale PNG, values clipped to [0, 1] as ``tf.summary.image`` converts floats),
and the model's JSON config for the graph dashboard (plugin ``graph_keras_model``).
"""

from __future__ import annotations

import struct
import time
import zlib

import numpy as np

#: tf.summary.histogram's default bucket count.
HISTOGRAM_BUCKETS = 30


def require_tensorboard():
    try:
        from tensorboard.compat.proto import (
            event_pb2,
            summary_pb2,
            tensor_pb2,
            types_pb2,
        )
        from tensorboard.summary.writer.event_file_writer import EventFileWriter
    except ImportError:
        raise ImportError(
            "keras.callbacks.TensorBoard writes event files with the tensorboard package. Install "
            "it with `pip install cnnlab[tensorboard]` (or `pip install tensorboard`)."
        ) from None
    return EventFileWriter, event_pb2, summary_pb2, tensor_pb2, types_pb2


def png_gray(image):
    """A 2-D array in [0, 1] -> the bytes of an 8-bit grayscale PNG (filter 0 on every row)."""
    pixels = np.round(np.clip(image, 0, 1) * 255).astype(np.uint8)
    h, w = pixels.shape
    raw = b"".join(b"\x00" + pixels[row].tobytes() for row in range(h))

    def chunk(kind, data):
        return (
            struct.pack(">I", len(data))
            + kind
            + data
            + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF)
        )

    return (
        b"\x89PNG\r\n\x1a\n"
        + chunk(b"IHDR", struct.pack(">IIBBBBB", w, h, 8, 0, 0, 0, 0))
        + chunk(b"IDAT", zlib.compress(raw))
        + chunk(b"IEND", b"")
    )


class EventWriter:
    """One directory's event file: ``scalar``, ``histogram``, ``images``, ``model_config``; ``close``."""

    def __init__(self, logdir):
        writer_cls, self._event, self._summary, self._tensor, self._types = (
            require_tensorboard()
        )
        self._writer = writer_cls(logdir)

    def _write(self, value, step):
        summary = self._summary.Summary(value=[value])
        self._writer.add_event(
            self._event.Event(wall_time=time.time(), step=int(step), summary=summary)
        )

    def scalar(self, tag, value, step):
        self._write(
            self._summary.Summary.Value(tag=tag, simple_value=float(value)), step
        )

    def histogram(self, tag, values, step):
        values = np.asarray(values, dtype=np.float64).ravel()
        low, high = (
            (float(values.min()), float(values.max())) if values.size else (0.0, 0.0)
        )
        if values.size and high > low:
            counts, edges = np.histogram(
                values, bins=HISTOGRAM_BUCKETS, range=(low, high)
            )
            limits = edges[1:].tolist()
        else:
            counts, limits = np.array([values.size]), [high]
        proto = self._summary.HistogramProto(
            min=low,
            max=high,
            num=float(values.size),
            sum=float(values.sum()),
            sum_squares=float(np.dot(values, values)),
            bucket_limit=limits,
            bucket=counts.astype(float).tolist(),
        )
        self._write(self._summary.Summary.Value(tag=tag, histo=proto), step)

    def images(self, tag, images, step, max_outputs=3):
        """``images (n, h, w)`` in [0, 1]: the first ``max_outputs`` as ``tag/image/i`` (tf.summary.image's 3)."""
        for i, image in enumerate(images[:max_outputs]):
            proto = self._summary.Summary.Image(
                height=image.shape[0],
                width=image.shape[1],
                colorspace=1,
                encoded_image_string=png_gray(image),
            )
            self._write(
                self._summary.Summary.Value(tag=f"{tag}/image/{i}", image=proto), step
            )

    def model_config(self, tag, json_text, step=0):
        metadata = self._summary.SummaryMetadata(
            plugin_data=self._summary.SummaryMetadata.PluginData(
                plugin_name="graph_keras_model", content=b"1"
            )
        )
        tensor = self._tensor.TensorProto(
            dtype=self._types.DT_STRING, string_val=[json_text.encode()]
        )
        self._write(
            self._summary.Summary.Value(tag=tag, metadata=metadata, tensor=tensor), step
        )

    def flush(self):
        self._writer.flush()

    def close(self):
        self._writer.close()
