"""``keras.initializers``."""

from ..layers.initializers import (
    Constant,
    GlorotNormal,
    GlorotUniform,
    HeNormal,
    HeUniform,
    Initializer,
    LecunNormal,
    LecunUniform,
    Ones,
    RandomNormal,
    RandomUniform,
    TruncatedNormal,
    VarianceScaling,
    Zeros,
    get,
)

glorot_uniform, glorot_normal, he_normal, he_uniform = (
    GlorotUniform,
    GlorotNormal,
    HeNormal,
    HeUniform,
)
lecun_normal, lecun_uniform, random_normal, random_uniform = (
    LecunNormal,
    LecunUniform,
    RandomNormal,
    RandomUniform,
)
zeros, ones, constant = Zeros, Ones, Constant
