"""``keras.ops``: the array functions of Keras 3 (``keras.ops.matmul``, ``keras.ops.nn.softmax``...).

Each is an op of ``cnnlab.ops`` with its explicit backward; inside a custom
layer's ``call`` (or a custom loss) the tape records it (``cnnlab.ops.tape``).
"""
from types import SimpleNamespace

from ..ops.functions import (abs, absolute, add, amax, amin, arange, argmax, argmin, average_pool,  # noqa: F401,A004
                             broadcast_to, cast, ceil, clip, concatenate, conv, convert_to_numpy,
                             convert_to_tensor, cos, cumsum, divide, dot, elu, equal, exp, expand_dims, expm1,
                             eye, flip, floor, full, full_like, getitem, greater, greater_equal, isfinite, isnan,
                             leaky_relu, less, less_equal, log, log1p, log_softmax, logical_and, logical_not,
                             logical_or, logsumexp, matmul, max, max_pool, maximum, mean, min, minimum,
                             moveaxis, multiply, ndim, negative, not_equal, one_hot, ones, ones_like, pad, power,
                             prod, ravel, reciprocal, relu, repeat, reshape, round, shape, sigmoid, sign, silu,
                             sin, size, softmax, softplus, sort, split, sqrt, square, squeeze, stack, std,
                             stop_gradient, subtract, sum, swapaxes, swish, take, tanh, tensordot, tile,
                             transpose, true_divide, unstack, var, where, zeros, zeros_like)

#: ``keras.ops.nn``: the neural-network functions under their Keras names.
nn = SimpleNamespace(relu=relu, sigmoid=sigmoid, softplus=softplus, silu=silu, swish=swish, elu=elu,
                     leaky_relu=leaky_relu, softmax=softmax, log_softmax=log_softmax, one_hot=one_hot, conv=conv,
                     max_pool=max_pool, average_pool=average_pool)
#: ``keras.ops.numpy`` and ``keras.ops.math``: the same functions, as Keras also files them.
numpy = SimpleNamespace(**{k: v for k, v in dict(globals()).items() if callable(v) and not k.startswith("_")
                           and k not in ("SimpleNamespace",)})
math = SimpleNamespace(logsumexp=logsumexp)
