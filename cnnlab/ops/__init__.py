"""Pure functions on arrays: every operation a CNN is made of, forward beside backward.

No state, no Keras names; layers (``cnnlab.layers``) wrap them.
"""

from . import activations, shapes
from .activations import ACTIVATIONS
from .batchnorm import batch_norm_backward, batch_norm_forward, moving_average
from .conv import conv_backward, conv_forward, im2col
from .dense import (
    dense_backward,
    dense_forward,
    flatten_backward,
    flatten_forward,
    reshape_backward,
    reshape_forward,
)
from .dropout import dropout_backward, dropout_forward
from .losses import (
    binary_crossentropy,
    categorical_crossentropy,
    mean_absolute_error,
    mean_squared_error,
    sparse_categorical_crossentropy,
)
from .pool import (
    avg_pool_backward,
    avg_pool_forward,
    global_avg_pool_backward,
    global_avg_pool_forward,
    global_max_pool_backward,
    global_max_pool_forward,
    max_pool_backward,
    max_pool_forward,
)
from .shapes import output_size, param_count, param_formula, same_padding
from .warp import warp_backward, warp_forward
