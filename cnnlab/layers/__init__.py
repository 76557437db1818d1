"""Layers: ops wrapped with weights, Keras's names and arguments."""

from .activations import ELU, PReLU
from .augmentation import (
    RandomBrightness,
    RandomContrast,
    RandomCrop,
    RandomFlip,
    RandomRotation,
    RandomTranslation,
    RandomZoom,
)
from .base import Layer, clear_session
from .conv import Conv, Conv1D, Conv2D, Conv3D
from .conv_transpose import (
    Conv1DTranspose,
    Conv2DTranspose,
    Conv3DTranspose,
    ConvTranspose,
)
from .core import (
    Activation,
    Dense,
    Dropout,
    Flatten,
    Input,
    InputLayer,
    LeakyReLU,
    ReLU,
    Reshape,
    Softmax,
)
from .depthwise import (
    DepthwiseConv1D,
    DepthwiseConv2D,
    SeparableConv1D,
    SeparableConv2D,
)
from .graph import KerasTensor, Node
from .merging import (
    Add,
    Average,
    Concatenate,
    Dot,
    Maximum,
    Minimum,
    Multiply,
    Subtract,
    add,
    average,
    concatenate,
    dot,
    maximum,
    minimum,
    multiply,
    subtract,
)
from .noise import (
    AlphaDropout,
    GaussianDropout,
    GaussianNoise,
    SpatialDropout1D,
    SpatialDropout2D,
    SpatialDropout3D,
)
from .normalization import BatchNormalization
from .outside import OUTSIDE, NotACnnLayerError, outside_message
from .pooling import (
    AveragePooling1D,
    AveragePooling2D,
    AveragePooling3D,
    GlobalAveragePooling1D,
    GlobalAveragePooling2D,
    GlobalAveragePooling3D,
    GlobalMaxPooling1D,
    GlobalMaxPooling2D,
    GlobalMaxPooling3D,
    MaxPooling1D,
    MaxPooling2D,
    MaxPooling3D,
)
from .preprocessing import Normalization
from .reshaping import (
    CenterCrop,
    Cropping1D,
    Cropping2D,
    Cropping3D,
    Identity,
    Permute,
    RepeatVector,
    Rescaling,
    Resizing,
    UpSampling1D,
    UpSampling2D,
    UpSampling3D,
    ZeroPadding1D,
    ZeroPadding2D,
    ZeroPadding3D,
)

# Keras's aliases.
MaxPool1D, MaxPool2D, MaxPool3D = MaxPooling1D, MaxPooling2D, MaxPooling3D
AvgPool1D, AvgPool2D, AvgPool3D = AveragePooling1D, AveragePooling2D, AveragePooling3D
Convolution1D, Convolution2D, Convolution3D = Conv1D, Conv2D, Conv3D
Convolution1DTranspose, Convolution2DTranspose, Convolution3DTranspose = (
    Conv1DTranspose,
    Conv2DTranspose,
    Conv3DTranspose,
)
SeparableConvolution1D, SeparableConvolution2D = SeparableConv1D, SeparableConv2D
GlobalMaxPool1D, GlobalMaxPool2D, GlobalMaxPool3D = (
    GlobalMaxPooling1D,
    GlobalMaxPooling2D,
    GlobalMaxPooling3D,
)
GlobalAvgPool1D, GlobalAvgPool2D, GlobalAvgPool3D = (
    GlobalAveragePooling1D,
    GlobalAveragePooling2D,
    GlobalAveragePooling3D,
)

#: class name -> class, for configs read from files (never imported by name from the file).
LAYER_CLASSES = {
    cls.__name__: cls
    for cls in (
        Conv1D,
        Conv2D,
        Conv3D,
        Dense,
        Flatten,
        Reshape,
        Dropout,
        Activation,
        ReLU,
        LeakyReLU,
        Softmax,
        InputLayer,
        MaxPooling1D,
        MaxPooling2D,
        MaxPooling3D,
        AveragePooling1D,
        AveragePooling2D,
        AveragePooling3D,
        GlobalMaxPooling1D,
        GlobalMaxPooling2D,
        GlobalMaxPooling3D,
        GlobalAveragePooling1D,
        GlobalAveragePooling2D,
        GlobalAveragePooling3D,
        BatchNormalization,
        Add,
        Subtract,
        Multiply,
        Average,
        Maximum,
        Minimum,
        Concatenate,
        Dot,
    )
}
# Issue 14's layers.
LAYER_CLASSES.update(
    {
        cls.__name__: cls
        for cls in (
            Conv1DTranspose,
            Conv2DTranspose,
            Conv3DTranspose,
            DepthwiseConv1D,
            DepthwiseConv2D,
            SeparableConv1D,
            SeparableConv2D,
            ELU,
            PReLU,
            AlphaDropout,
            GaussianDropout,
            GaussianNoise,
            SpatialDropout1D,
            SpatialDropout2D,
            SpatialDropout3D,
            CenterCrop,
            Cropping1D,
            Cropping2D,
            Cropping3D,
            Identity,
            Permute,
            RepeatVector,
            Rescaling,
            Resizing,
            UpSampling1D,
            UpSampling2D,
            UpSampling3D,
            ZeroPadding1D,
            ZeroPadding2D,
            ZeroPadding3D,
            RandomFlip,
            RandomRotation,
            RandomZoom,
            RandomTranslation,
            RandomContrast,
            RandomBrightness,
            RandomCrop,
        )
    }
)
# keras.applications' layers.
LAYER_CLASSES["Normalization"] = Normalization
#: Keras's other spellings of the same classes (``keras.layers.MaxPool2D`` is ``MaxPooling2D``).
ALIASES = {
    f"{short}{d}D": f"{long}{d}D"
    for d in (1, 2, 3)
    for short, long in (
        ("MaxPool", "MaxPooling"),
        ("AvgPool", "AveragePooling"),
        ("Convolution", "Conv"),
        ("GlobalMaxPool", "GlobalMaxPooling"),
        ("GlobalAvgPool", "GlobalAveragePooling"),
    )
}


_RAISE = object()


def layer_class(name, argument="class_name", missing=_RAISE):
    """The built-in layer class Keras names ``name`` (exact, as Keras; its aliases too); for an
    unknown name a clear error, or ``missing`` when given."""
    from ..registry import find, lookup

    table = {
        **LAYER_CLASSES,
        **{
            alias: LAYER_CLASSES[real]
            for alias, real in ALIASES.items()
            if real in LAYER_CLASSES
        },
    }
    if missing is not _RAISE:
        found = find("layer", name, table)
        return missing if found is None else found
    if name in OUTSIDE:  # recurrent and text layers: not a CNN library's
        raise NotACnnLayerError(outside_message(name))
    return lookup("layer", name, table, argument)
