"""Layers: ops wrapped with weights, Keras's names and arguments."""
from .base import Layer, clear_session
from .conv import Conv, Conv1D, Conv2D, Conv3D
from .core import (Activation, Dense, Dropout, Flatten, Input, InputLayer, KerasTensor, LeakyReLU, ReLU,
                   Reshape, Softmax)
from .normalization import BatchNormalization
from .pooling import (AveragePooling1D, AveragePooling2D, AveragePooling3D, GlobalAveragePooling1D,
                      GlobalAveragePooling2D, GlobalAveragePooling3D, GlobalMaxPooling1D, GlobalMaxPooling2D,
                      GlobalMaxPooling3D, MaxPooling1D, MaxPooling2D, MaxPooling3D)

# Keras's aliases.
MaxPool1D, MaxPool2D, MaxPool3D = MaxPooling1D, MaxPooling2D, MaxPooling3D
AvgPool1D, AvgPool2D, AvgPool3D = AveragePooling1D, AveragePooling2D, AveragePooling3D
Convolution1D, Convolution2D, Convolution3D = Conv1D, Conv2D, Conv3D
GlobalMaxPool1D, GlobalMaxPool2D, GlobalMaxPool3D = GlobalMaxPooling1D, GlobalMaxPooling2D, GlobalMaxPooling3D
GlobalAvgPool1D, GlobalAvgPool2D, GlobalAvgPool3D = (GlobalAveragePooling1D, GlobalAveragePooling2D,
                                                     GlobalAveragePooling3D)

#: class name -> class, for configs read from files (never imported by name from the file).
LAYER_CLASSES = {cls.__name__: cls for cls in (
    Conv1D, Conv2D, Conv3D, Dense, Flatten, Reshape, Dropout, Activation, ReLU, LeakyReLU, Softmax, InputLayer,
    MaxPooling1D, MaxPooling2D, MaxPooling3D, AveragePooling1D, AveragePooling2D, AveragePooling3D,
    GlobalMaxPooling1D, GlobalMaxPooling2D, GlobalMaxPooling3D,
    GlobalAveragePooling1D, GlobalAveragePooling2D, GlobalAveragePooling3D, BatchNormalization)}
