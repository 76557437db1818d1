"""``keras.metrics``."""
from ..model.losses import (binary_crossentropy, categorical_crossentropy, categorical_hinge, hinge,  # noqa: F401
                            huber, kl_divergence, log_cosh, mean_absolute_error, mean_absolute_percentage_error,
                            mean_squared_error, mean_squared_logarithmic_error, poisson,
                            sparse_categorical_crossentropy, squared_hinge)
from ..model.metrics import (AUC, BinaryAccuracy, BinaryCrossentropy, CategoricalAccuracy,  # noqa: F401
                             CategoricalCrossentropy, CategoricalHinge, F1Score, FBetaScore, Hinge, KLDivergence,
                             LogCoshError, Mean, MeanAbsoluteError, MeanAbsolutePercentageError, MeanIoU,
                             MeanMetricWrapper, MeanSquaredError, MeanSquaredLogarithmicError, Metric, Poisson,
                             Precision, Recall, RootMeanSquaredError, SparseCategoricalAccuracy,
                             SparseCategoricalCrossentropy, SparseTopKCategoricalAccuracy, SquaredHinge,
                             TopKCategoricalAccuracy, get)
