"""Layers that are outside a CNN library: recurrent and text layers get one clear refusal,
wherever a model names them (``keras.layers.LSTM``, a ``.keras`` file, a model spec)."""

from __future__ import annotations

from ..errors import CnnlabError

RECURRENT = (
    "LSTM",
    "GRU",
    "SimpleRNN",
    "RNN",
    "Bidirectional",
    "ConvLSTM1D",
    "ConvLSTM2D",
    "ConvLSTM3D",
    "LSTMCell",
    "GRUCell",
    "SimpleRNNCell",
    "StackedRNNCells",
    "CuDNNLSTM",
    "CuDNNGRU",
)
TEXT = (
    "Embedding",
    "TextVectorization",
    "StringLookup",
    "IntegerLookup",
    "Hashing",
    "HashedCrossing",
    "CategoryEncoding",
)
OUTSIDE = frozenset(RECURRENT + TEXT)


class NotACnnLayerError(CnnlabError, AttributeError):
    """A recurrent or text layer was asked for. Both a ValueError (cnnlab's errors) and an
    AttributeError (so that ``hasattr(keras.layers, "LSTM")`` is simply False)."""


def outside_message(name: str) -> str:
    kind = "a recurrent layer" if name in RECURRENT else "a text layer"
    return (
        f"{name} is {kind}, and cnnlab is a CNN library: it has convolution, pooling, dense, "
        f"normalization, reshaping and noise layers, but no recurrent or text layers. Model sequences "
        f"with Conv1D (padding='causal' for time series), or use Keras itself for {name}. "
        f"Received: class_name={name!r}"
    )
