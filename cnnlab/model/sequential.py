"""``Sequential``: a stack of layers, trained by backpropagation.

One training step (DESIGN.md): forward through the layers, the loss and its
gradient, backward through the layers in reverse, then the optimizer::

    y, caches = forward(x)              # each layer keeps what its backward needs
    loss, dy = loss.value_and_grad(t, y)
    grads = backward(dy, caches)        # dW, db per layer, in reverse order
    optimizer.apply(params, grads)

When the last layer ends in softmax (sigmoid) and the loss is (binary)
cross-entropy, the loss reads the layer's pre-activation ``z`` and the
gradient is simply ``softmax(z) - y``, as Keras does during ``fit``.
"""
from __future__ import annotations

import numpy as np

from .. import random as cnn_random
from ..backend import floatx, keep_freed_memory
from ..errors import CnnlabError, ShapeError
from ..layers import InputLayer, KerasTensor, Layer
from ..layers.base import as_float_input, unique_name
from . import losses as losses_mod
from . import metrics as metrics_mod
from . import optimizers as optimizers_mod
from . import summary as summary_mod
from . import files, parallel, training


class Sequential:
    """A linear stack of layers with Keras's ``compile``/``fit``/``evaluate``/``predict``."""

    def __init__(self, layers=None, name=None, trainable=True):
        self.name = name or unique_name("sequential")
        self.trainable = trainable
        self._layers: list[Layer] = []
        self._input_shape = None     # one sample's shape, batch axis excluded
        self.optimizer = None
        self.loss = None
        self.compiled = False
        self.stop_training = False
        self.history = None
        self._metrics = []
        self._params = []
        self._grad_views = []
        self._crops = []
        self._pool_first = []
        self._bias_into_bn = []
        for layer in layers or []:
            self.add(layer)

    # ---- building -----------------------------------------------------
    def add(self, layer):
        if isinstance(layer, KerasTensor):
            layer = layer.input_layer
        if isinstance(layer, InputLayer):
            if self._layers or self._input_shape is not None:
                raise ShapeError(f"Sequential '{self.name}': an Input can only be the first layer.")
            self._input_shape = tuple(layer.shape[1:])
            self._try_build()
            return
        if not isinstance(layer, Layer):
            raise TypeError(f"Sequential.add expects a layer instance. Received: {layer!r} of type {type(layer)}")
        if not self._layers and self._input_shape is None and layer.input_shape_arg is not None:
            self._input_shape = tuple(layer.input_shape_arg)
        names = {l.name for l in self._layers}
        if layer.name in names:
            raise ValueError(f"All layers added to a Sequential model should have unique names. "
                             f"Name '{layer.name}' is already the name of a layer in this model.")
        self._layers.append(layer)
        self._try_build()

    def pop(self):
        layer = self._layers.pop()
        self._try_build()
        return layer

    def _try_build(self):
        if self._input_shape is not None:
            self.build((None, *self._input_shape))

    def build(self, input_shape=None):
        """Build every layer in order for ``input_shape`` (batch axis first), checking
        that each output fits the next layer."""
        if input_shape is None:
            if self._input_shape is None:
                raise ShapeError(f"Sequential '{self.name}' does not know its input shape yet: give the first "
                                 f"layer input_shape=..., start with keras.Input(shape), or call the model on data.")
            input_shape = (None, *self._input_shape)
        shape = (None, *tuple(input_shape)[1:])
        self._input_shape = shape[1:]
        for layer in self._layers:
            try:
                shape = layer.ensure_built(shape)
            except ShapeError as e:
                raise ShapeError(f"Sequential '{self.name}', layer '{layer.name}' ({type(layer).__name__}) "
                                 f"with input shape {shape}: {e}") from None
        self._collect_params()
        self._plan_execution()
        return shape

    def _plan_execution(self):
        """Two exact shortcuts for training and inference, decided once per build:

        * crops: where the next layer reads only part of a layer's output (a valid
          pooling 11 -> 5 reads 10 cells), the layer computes only that part;
        * pooling first: a Conv followed by MaxPooling pools the raw convolution and
          adds the bias and activation afterwards, on the smaller map (see
          ``Conv.bias_activation``).
        One exactness fix, also decided here: a bias feeding BatchNormalization directly
        gets an exactly zero gradient (``bias_feeds_batch_norm``).
        ``layer_outputs`` ignores the plan and computes every full map.
        """
        self._crops = [None] * len(self._layers)
        self._pool_first = [False] * len(self._layers)
        self._bias_into_bn = [False] * len(self._layers)
        for i, (layer, following) in enumerate(zip(self._layers, self._layers[1:])):
            self._bias_into_bn[i] = bias_feeds_batch_norm(layer, following)
            if layer.can_crop:
                used = following.used_input_extent(layer.output_shape)
                if used is not None and tuple(used) != tuple(layer.output_shape[1:-1]):
                    self._crops[i] = tuple(used)
            if (getattr(layer, "defers_to_pooling", None) and layer.defers_to_pooling()
                    and getattr(following, "mode", None) == "max" and following.activation_name == "linear"):
                self._pool_first[i] = True

    @property
    def built(self):
        return self._input_shape is not None and all(layer.built for layer in self._layers)

    def _collect_params(self):
        """Lay every trainable weight out in one flat buffer (layers keep views into
        it), so the optimizer updates all of them in a few passes."""
        sizes = [w.size for layer in self._layers for w in layer.trainable_weights]
        self._flat_params = np.empty(sum(sizes), dtype=floatx)
        self._flat_grads = np.empty_like(self._flat_params)
        offset = 0
        for layer in self._layers:
            for name in layer.trainable_weight_names:
                w = layer._weights[name]
                view = self._flat_params[offset:offset + w.size].reshape(w.shape)
                view[...] = w
                layer._weights[name] = view
                offset += w.size
        self._params = [w for layer in self._layers for w in layer.trainable_weights]
        self._grad_views, offset = [], 0
        for w in self._params:
            self._grad_views.append(self._flat_grads[offset:offset + w.size].reshape(w.shape))
            offset += w.size

    @property
    def layers(self):
        return list(self._layers)

    def get_layer(self, name=None, index=None):
        if index is not None:
            return self._layers[index]
        for layer in self._layers:
            if layer.name == name:
                return layer
        raise ValueError(f"No such layer: {name}. Existing layers are: {[l.name for l in self._layers]}.")

    @property
    def input_shape(self):
        return None if self._input_shape is None else (None, *self._input_shape)

    @property
    def output_shape(self):
        return self._layers[-1].output_shape if self._layers and self._layers[-1].built else None

    # ---- weights ------------------------------------------------------
    @property
    def weights(self):
        return [w for layer in self._layers for w in layer.weights]

    @property
    def trainable_weights(self):
        return [w for layer in self._layers for w in layer.trainable_weights]

    @property
    def non_trainable_weights(self):
        return [w for layer in self._layers for w in layer.non_trainable_weights]

    def get_weights(self):
        return [w.copy() for w in self.weights]

    def set_weights(self, weights):
        weights = list(weights)
        expected = sum(len(layer.weights) for layer in self._layers)
        if len(weights) != expected:
            raise ShapeError(f"Sequential '{self.name}' has {expected} weight arrays but {len(weights)} were given.")
        i = 0
        for layer in self._layers:
            n = len(layer.weights)
            layer.set_weights(weights[i:i + n])
            i += n

    def count_params(self):
        return sum(layer.count_params() for layer in self._layers)

    # ---- computation --------------------------------------------------
    def _check_batch(self, x, where):
        """Cast a batch to float32 and check its shape against the model's input."""
        x = as_float_input(x, f"Sequential '{self.name}' ({where})")
        self._check_shape(x.shape, where)
        return x

    def _check_shape(self, shape, where):
        shape = tuple(shape)
        if len(shape) == 0:
            raise ShapeError(f"Sequential '{self.name}' ({where}): expects a batch of samples, got a scalar.")
        if not self.built:
            self.build((None, *shape[1:]))
        expected = tuple(self._input_shape)
        if shape[1:] != expected:
            hint = ""
            if shape[1:] + (1,) == expected:
                hint = " The channel axis is missing: add it with x[..., None] (or x.reshape(-1, *x.shape[1:], 1))."
            elif shape == expected:
                hint = " This looks like a single sample: add the batch axis with x[None]."
            raise ShapeError(f"Sequential '{self.name}' ({where}): expected input of shape (None, "
                             f"{', '.join(map(str, expected))}), got {shape}.{hint} "
                             f"Received: input shape={shape}")

    def forward(self, x, training=False):
        """``x -> (y, caches)``; ``caches[i]`` is what layer ``i``'s backward needs.
        Follows the execution plan (crops, pooling first)."""
        caches, i = [], 0
        while i < len(self._layers):
            layer = self._layers[i]
            if self._pool_first[i]:
                pool = self._layers[i + 1]
                z, conv_cache = layer.forward_linear(x, self._crops[i])
                pooled, pool_cache = pool.forward(z, training)
                x, act_cache = layer.bias_activation(pooled)
                caches += [(conv_cache, act_cache), pool_cache]
                i += 2
                continue
            x, cache = layer.forward(x, training, self._crops[i])
            caches.append(cache)
            i += 1
        return x, caches

    def backward(self, dy, caches, skip_last_activation=False):
        """``dy`` (gradient of the output, or of the last pre-activation when
        ``skip_last_activation``) -> gradients for ``self.trainable_weights``, in order."""
        grads_per_layer = [[] for _ in self._layers]
        last = len(self._layers) - 1
        i = last
        while i >= 0:
            layer = self._layers[i]
            if i > 0 and self._pool_first[i - 1]:
                conv, (conv_cache, act_cache) = self._layers[i - 1], caches[i - 1]
                dp, dbias = conv.bias_activation_backward(dy, act_cache)
                dz, _ = layer.backward(dp, caches[i])
                dy, dkernel = conv.backward_linear(dz, conv_cache, need_dx=i - 1 > 0)
                grads_per_layer[i - 1] = [dkernel] + ([dbias] if dbias is not None else [])
                i -= 2
                continue
            dy, grads = layer.backward(dy, caches[i], skip_activation=skip_last_activation and i == last,
                                       need_dx=i > 0)
            if self._bias_into_bn[i]:
                grads[-1] = np.zeros_like(grads[-1])
            grads_per_layer[i] = grads
            i -= 1
        return [g for layer, grads in zip(self._layers, grads_per_layer) if layer.trainable for g in grads]

    def layer_outputs(self, x):
        """Every layer's full output for the batch ``x`` (inference mode, no cropping):
        ``(outputs, caches)`` with ``outputs[i]`` the output of ``self.layers[i]``."""
        x = self._check_batch(x, "layer_outputs")
        outputs, caches = [], []
        for layer in self._layers:
            x, cache = layer.forward(x, training=False)
            outputs.append(x)
            caches.append(cache)
        return outputs, caches

    def gradient_at(self, caches, layer_index, top_grad, top_is_logits=True):
        """Backpropagate ``top_grad`` from the last layer down to the output of
        layer ``layer_index`` and return d(score)/d(that output).

        ``top_grad`` is the gradient of a scalar score with respect to the last
        layer's output, or, with ``top_is_logits``, to its pre-activation (the
        class score before softmax, as Grad-CAM uses). ``caches`` come from
        :meth:`layer_outputs`. Weight gradients are discarded.
        """
        grad = top_grad
        last = len(self._layers) - 1
        for i in range(last, layer_index, -1):
            grad, _ = self._layers[i].backward(grad, caches[i], skip_activation=top_is_logits and i == last)
        return grad

    def __call__(self, x, training=False):
        x = self._check_batch(x, "call")
        return self.forward(x, training)[0]

    # ---- training set-up ----------------------------------------------
    def compile(self, optimizer="rmsprop", loss=None, metrics=None, loss_weights=None, **kwargs):
        for key, value in kwargs.items():
            if key not in ("run_eagerly", "jit_compile", "steps_per_execution", "auto_scale_loss") or (
                    key == "steps_per_execution" and value != 1):
                raise ValueError(f"compile(): cnnlab does not support `{key}`. Received: {key}={value!r}")
        if self.built:
            self._collect_params()        # `trainable` may have changed since the build (Keras: recompile)
            self._plan_execution()
        self.optimizer = optimizers_mod.get(optimizer)
        self.loss = losses_mod.get(loss) if loss is not None else None
        self._metric_specs = list(metrics or [])
        self._metrics = []
        self.compiled = True

    def _build_metrics(self, y):
        """Metric objects, created on first use: ``'accuracy'`` depends on the labels' shape."""
        if not self._metrics and self._metric_specs:
            self._metrics = [metrics_mod.get(m, np.shape(y), self.output_shape) for m in self._metric_specs]
        return self._metrics

    @property
    def metrics(self):
        """The compiled metric objects (created when training or evaluation first sees labels)."""
        return list(self._metrics)

    @property
    def metrics_names(self):
        return ["loss"] + [m.name for m in self._metrics]

    def _require_compiled(self, what):
        if not self.compiled or self.loss is None:
            raise CnnlabError(f"You must call `compile()` with a loss before calling `{what}()`.")

    def _loss_and_grad(self, y, out, caches):
        """The loss and the gradient to start backward from; fused with the last
        activation when possible. Returns ``(loss, dy, skip_last_activation)``."""
        last = self._layers[-1]
        if self.loss.fuses_with(last.activation_name) and (last.activation_name != "softmax" or last.ends_in_softmax):
            loss, dz = self.loss.value_and_grad(y, caches[-1].z, from_logits=True)
            return loss, dz, True
        loss, dy = self.loss.value_and_grad(y, out)
        return loss, dy, False

    # ---- one batch ----------------------------------------------------
    def _train_step(self, x, y):
        """One update on the batch ``(x, y)``; returns the batch loss (before the
        update) and the outputs. Large batches are split across threads
        (``cnnlab.model.parallel``); the gradient is the same."""
        keep_freed_memory()
        parts = parallel.split(len(x), whole=any(layer.needs_whole_batch for layer in self._layers))
        if len(parts) > 1 and any(layer.stochastic for layer in self._layers):
            streams = [cnn_random.make_generator() for _ in parts]
        else:
            streams = [None] * len(parts)

        def part_step(index):
            sl = parts[index]
            with cnn_random.thread_stream(streams[index]):
                out, caches = self.forward(x[sl], training=True)
            loss, dy, fused = self._loss_and_grad(y[sl], out, caches)
            share = (sl.stop - sl.start) / len(x)    # each part's loss is its own mean
            if share != 1:
                dy *= dy.dtype.type(share)
            return loss * share, out, self.backward(dy, caches, skip_last_activation=fused)

        results = parallel.run(part_step, list(range(len(parts))))
        loss = sum(r[0] for r in results)
        if not self.optimizer.built:
            self.optimizer.build(self._params)
        # The parts' gradients, summed straight into the flat buffer the optimizer reads.
        for view, *part_grads in zip(self._grad_views, *(r[2] for r in results)):
            if len(part_grads) == 1:
                view[...] = part_grads[0]
            else:
                np.add(part_grads[0], part_grads[1], out=view)
                for more in part_grads[2:]:
                    view += more
        self.optimizer.apply_flat(self._flat_params, self._flat_grads, threads=len(parts))
        out = results[0][1] if len(results) == 1 else np.concatenate([r[1] for r in results])
        return loss, out

    def train_on_batch(self, x, y, return_dict=False):
        self._require_compiled("train_on_batch")
        x, y = training.as_arrays(x, y, "train_on_batch")
        x = self._check_batch(x, "train_on_batch")
        if not np.isfinite(x).all() or not training.finite_labels(y):    # as fit(): never poison the weights
            raise CnnlabError("train_on_batch(): the batch contains NaN or inf (in x or y); the weights were "
                              "not updated. Clean the data before training.")
        loss, out = self._train_step(x, y)
        return self._format_result(loss, [(m, y, out) for m in self._build_metrics(y)], return_dict)

    def test_on_batch(self, x, y, return_dict=False):
        self._require_compiled("test_on_batch")
        x, y = training.as_arrays(x, y, "test_on_batch")
        x = self._check_batch(x, "test_on_batch")
        out, loss = self._infer(x, y)
        return self._format_result(loss, [(m, y, out) for m in self._build_metrics(y)], return_dict)

    def _format_result(self, loss, metric_inputs, return_dict):
        values = {"loss": loss}
        for m, y, out in metric_inputs:
            m.reset_state()
            m.update_state(y, out)
            values[m.name] = m.result()
        if return_dict:
            return values
        return loss if len(values) == 1 else list(values.values())

    def _infer(self, x, y=None):
        """Outputs for the batch ``x`` (split across threads like training), and the
        loss when labels ``y`` are given."""
        keep_freed_memory()
        parts = parallel.split(len(x))

        def part(sl):
            out, caches = self.forward(x[sl])
            loss = None if y is None else self._loss_and_grad(y[sl], out, caches)[0] * (sl.stop - sl.start) / len(x)
            return out, loss

        results = parallel.run(part, parts)
        out = results[0][0] if len(results) == 1 else np.concatenate([r[0] for r in results])
        return out, (None if y is None else sum(r[1] for r in results))

    def predict_on_batch(self, x):
        return self._infer(self._check_batch(x, "predict_on_batch"))[0]

    # ---- whole data sets ----------------------------------------------
    def fit(self, x=None, y=None, batch_size=None, epochs=1, verbose="auto", callbacks=None, validation_split=0.0,
            validation_data=None, shuffle=True, initial_epoch=0, steps_per_epoch=None, class_weight=None,
            sample_weight=None, validation_batch_size=None, validation_freq=1):
        """Train for ``epochs`` passes over ``(x, y)`` in mini-batches of ``batch_size`` (32).

        One epoch is ``ceil(N / batch_size)`` updates (seed 002 calls it one
        update; with mini-batches it is one per batch). Returns a ``History``.
        """
        self._require_compiled("fit")
        if class_weight is not None or sample_weight is not None or steps_per_epoch is not None:
            raise CnnlabError("fit(): class_weight, sample_weight and steps_per_epoch are not supported yet.")
        return training.fit(self, x, y, batch_size, epochs, verbose, callbacks, validation_split, validation_data,
                            shuffle, initial_epoch, validation_batch_size, validation_freq)

    def evaluate(self, x=None, y=None, batch_size=None, verbose="auto", return_dict=False, sample_weight=None,
                 steps=None, callbacks=None):
        """Loss (and metrics) over the whole data: ``[loss, metric...]``, or the loss alone without metrics."""
        self._require_compiled("evaluate")
        return training.evaluate(self, x, y, batch_size, verbose, return_dict)

    def predict(self, x, batch_size=None, verbose="auto", steps=None, callbacks=None):
        """Outputs for every sample, in batches (softmax probabilities for a classifier;
        take ``argmax(-1)`` for the class: Keras 3 has no ``predict_classes``)."""
        return training.predict(self, x, batch_size, verbose)

    # ---- description --------------------------------------------------
    def summary(self, line_length=None, positions=None, print_fn=None, show_formula=False, **kwargs):
        text = summary_mod.render(self, line_length, positions, show_formula)
        if print_fn is None:
            print(text, end="")
        else:
            print_fn(text)

    def get_config(self):
        """Keras 3's config of this model (what ``config.json`` holds under ``"config"``): one
        serializer, ``cnnlab.saving.keras_config``, for files, specs and ``from_config``."""
        return files.saving().keras_config.serialize_model(self, include_compile=False)["config"]

    @classmethod
    def from_config(cls, config, custom_objects=None):
        """The model ``get_config`` describes (new weights), through the same reader as ``load_model``."""
        return files.saving().model_from_config.model_from_config(
            {"class_name": "Sequential", "config": config}, compile=False, custom_objects=custom_objects)

    def __repr__(self):
        return f"<Sequential name={self.name}, built={self.built}>"

    # ---- files (cnnlab.saving, reached through model/files.py) ------------
    def save(self, filepath, overwrite=True, **kwargs):
        """Save the whole model: a Keras 3 ``.keras`` file, or a legacy ``.h5`` file (atomically)."""
        files.saving().save_model(self, filepath, overwrite=overwrite, **kwargs)

    def save_weights(self, filepath, overwrite=True):
        """Save the weights as ``.weights.h5`` (Keras's layout), legacy ``.h5`` or ``.safetensors``."""
        files.saving().save_weights(self, filepath, overwrite=overwrite)

    def load_weights(self, filepath):
        """Load weights from ``.weights.h5``, ``.keras``, legacy ``.h5`` or ``.safetensors``, checked first."""
        files.saving().load_weights(self, filepath)


def bias_feeds_batch_norm(layer, following) -> bool:
    """True when ``layer``'s bias goes straight into a BatchNormalization that uses batch
    statistics over the bias's axis: the BN subtracts the batch mean, so the bias cannot change
    the loss and its gradient is exactly zero. Computed, it is float noise instead, which Adam
    (dividing by its square root) turns into a drift; the backward pass writes an exact zero."""
    cancels = getattr(following, "cancels_channel_bias", None)
    return bool(cancels and cancels() and getattr(layer, "use_bias", False)
                and layer.activation_name == "linear" and "bias" in layer.trainable_weight_names
                and layer.trainable_weight_names[-1] == "bias")
