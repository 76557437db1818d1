"""``keras.layers``."""
from ..layers import (Activation, BatchNormalization, AveragePooling1D, AveragePooling2D, AveragePooling3D, AvgPool1D, AvgPool2D,  # noqa: F401
                      AvgPool3D, Conv1D, Conv2D, Conv3D, Convolution1D, Convolution2D, Convolution3D, Dense,
                      Dropout, Flatten, GlobalAveragePooling1D, GlobalAveragePooling2D, GlobalAveragePooling3D,
                      GlobalAvgPool1D, GlobalAvgPool2D, GlobalAvgPool3D, GlobalMaxPool1D, GlobalMaxPool2D,
                      GlobalMaxPool3D, GlobalMaxPooling1D, GlobalMaxPooling2D, GlobalMaxPooling3D, Input,
                      InputLayer, Layer, LeakyReLU, MaxPool1D, MaxPool2D, MaxPool3D, MaxPooling1D, MaxPooling2D,
                      MaxPooling3D, RandomBrightness, RandomContrast, RandomCrop, RandomFlip, RandomRotation,
                      RandomTranslation, RandomZoom, ReLU, Reshape, Softmax)
from ..layers import (Add, Average, Concatenate, Dot, Maximum, Minimum, Multiply, Subtract, add,  # noqa: F401
                      average, concatenate, dot, maximum, minimum, multiply, subtract)
from ..layers import (Conv1DTranspose, Conv2DTranspose, Conv3DTranspose, Convolution1DTranspose,  # noqa: F401,E402
                      Convolution2DTranspose, Convolution3DTranspose, DepthwiseConv1D, DepthwiseConv2D,
                      SeparableConv1D, SeparableConv2D, SeparableConvolution1D, SeparableConvolution2D)
from ..layers import (ELU, AlphaDropout, CenterCrop, Cropping1D, Cropping2D, Cropping3D, GaussianDropout,  # noqa: F401,E402
                      GaussianNoise, Identity, Permute, PReLU, RepeatVector, Rescaling, Resizing, SpatialDropout1D,
                      SpatialDropout2D, SpatialDropout3D, UpSampling1D, UpSampling2D, UpSampling3D, ZeroPadding1D,
                      ZeroPadding2D, ZeroPadding3D)
from ..layers.outside import OUTSIDE as _OUTSIDE  # noqa: E402
from ..layers.outside import NotACnnLayerError as _NotACnnLayerError  # noqa: E402
from ..layers.outside import outside_message as _outside_message  # noqa: E402


def __getattr__(name):
    """``keras.layers.LSTM`` and the other recurrent and text layers: a clear refusal."""
    if name in _OUTSIDE:
        raise _NotACnnLayerError(_outside_message(name))
    raise AttributeError(f"module 'cnnlab.keras.layers' has no attribute {name!r}")
