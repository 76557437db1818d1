"""``keras.layers``."""
from ..layers import (Activation, BatchNormalization, AveragePooling1D, AveragePooling2D, AveragePooling3D, AvgPool1D, AvgPool2D,  # noqa: F401
                      AvgPool3D, Conv1D, Conv2D, Conv3D, Convolution1D, Convolution2D, Convolution3D, Dense,
                      Dropout, Flatten, GlobalAveragePooling1D, GlobalAveragePooling2D, GlobalAveragePooling3D,
                      GlobalAvgPool1D, GlobalAvgPool2D, GlobalAvgPool3D, GlobalMaxPool1D, GlobalMaxPool2D,
                      GlobalMaxPool3D, GlobalMaxPooling1D, GlobalMaxPooling2D, GlobalMaxPooling3D, Input,
                      InputLayer, Layer, LeakyReLU, MaxPool1D, MaxPool2D, MaxPool3D, MaxPooling1D, MaxPooling2D,
                      MaxPooling3D, ReLU, Reshape, Softmax)
from ..layers import (Add, Average, Concatenate, Dot, Maximum, Minimum, Multiply, Subtract, add,  # noqa: F401
                      average, concatenate, dot, maximum, minimum, multiply, subtract)
