"""PyTorch twins of keras.applications networks built by cnnlab, holding the same weights.

torchvision's models are not used: the torchvision wheel here does not load with torch 2.13
(``operator torchvision::nms does not exist``), so each network is rebuilt in plain ``torch.nn``
from the cnnlab graph itself: one ``nn.Conv2d``/``nn.BatchNorm2d``/... per Keras layer, run in the
graph's order (the same architecture, layer for layer, as torchvision would have it, with
TensorFlow's asymmetric "same" padding written as an explicit ``F.pad`` where Keras needs it).

``torch_twin(model)`` builds it and copies the weights in (NCHW inside; channels_last optional);
``build_pair(name, size)`` gives a ``keras.applications`` network and both twins, checked to agree
(what applications_speed.py times); ``copy_weights_to_torch`` / ``copy_weights_to_cnnlab`` move
weights either way (Keras layouts: conv kernel ``(kh, kw, in, out)``, depthwise
``(kh, kw, in, multiplier)``, dense ``(in, out)``).
"""

from __future__ import annotations

import operator
from functools import partial

import numpy as np


def _same_padding(size, kernel, stride, dilation=1):
    """TensorFlow's "same": ``(before, after)`` for one axis."""
    k_eff = (kernel - 1) * dilation + 1
    out = -(-size // stride)
    total = max((out - 1) * stride + k_eff - size, 0)
    return total // 2, total - total // 2


def _pads(layer, in_shape):
    """``(top, bottom, left, right)`` for a 2-D conv or pool layer on an NHWC input shape."""
    kernel = getattr(layer, "kernel_size", None) or layer.pool_size
    dilation = getattr(layer, "dilation_rate", (1, 1))
    if layer.padding == "valid":
        return (0, 0, 0, 0)
    (t, b), (lft, r) = (
        _same_padding(in_shape[1 + i], kernel[i], layer.strides[i], dilation[i])
        for i in range(2)
    )
    return (t, b, lft, r)


#: ``--models`` names -> keras.applications functions (those this build has are run).
MODELS = {
    "mobilenet_v2": "MobileNetV2",
    "mobilenet": "MobileNet",
    "resnet50": "ResNet50",
    "resnet50_v2": "ResNet50V2",
    "vgg16": "VGG16",
    "xception": "Xception",
    "densenet121": "DenseNet121",
    "efficientnet_b0": "EfficientNetB0",
}


# The graph's operations in NCHW (module-level functions: the twin holds partials of them).
def _then(first, second, x):
    return second(first(x))


def _identity(x):
    return x


def _add(*xs):
    return sum(xs[1:], xs[0])


def _concatenate_channels(*xs):
    import torch

    return torch.cat(xs, dim=1)


def _global_pool(reduce, keepdims, x):
    return getattr(x, reduce)(dim=(2, 3), keepdim=keepdims)


def _flatten_nhwc(x):
    return (
        x.permute(0, 2, 3, 1).flatten(1) if x.dim() == 4 else x
    )  # Keras flattens (H, W, C) row-major


def _reshape_nhwc(target, x):
    x = x.permute(0, 2, 3, 1) if x.dim() == 4 else x
    x = x.reshape(x.shape[0], *target)
    return x.permute(0, 3, 1, 2) if x.dim() == 4 else x


def _affine(scale, offset, x):
    return x * scale + offset


def torch_twin(model, channels_last=False):
    """The ``torch.nn.Module`` twin of the functional cnnlab ``model`` (inputs NCHW, outputs as the
    model's: class probabilities after a final softmax, feature maps NCHW)."""
    import torch
    import torch.nn.functional as F
    from torch import nn

    class Twin(nn.Module):
        def __init__(self):
            super().__init__()
            self.mods = nn.ModuleDict()
            self.steps = []  # (function, input tensor ids, output tensor id)
            self.pairs = []  # (cnnlab layer, torch module) whose weights are copied
            self.input_ids = [id(t) for t in model._inputs]
            self.output_ids = [id(t) for t in model._outputs]

        def forward(self, x):
            values = {self.input_ids[0]: x}
            for fn, ins, out in self.steps:
                values[out] = fn(*[values[i] for i in ins])
            return values[self.output_ids[0]]

    twin = Twin()

    def add(layer, module):
        twin.mods[layer.name] = module
        return module

    def activation(name):
        table = {
            "linear": lambda x: x,
            "relu": F.relu,
            "relu6": F.relu6,
            "sigmoid": torch.sigmoid,
            "swish": F.silu,
            "silu": F.silu,
            "tanh": torch.tanh,
            "softmax": lambda x: torch.softmax(x, dim=1),
        }
        if name not in table:
            raise ValueError(f"no PyTorch twin for activation {name!r}")
        return table[name]

    def padded(module, pads):
        if pads[0] == pads[1] and pads[2] == pads[3]:
            module.padding = (pads[0], pads[2])
            return module
        return lambda x: module(F.pad(x, (pads[2], pads[3], pads[0], pads[1])))

    for node in model.nodes:
        if node.is_input:
            continue
        layer, kind = node.layer, type(node.layer).__name__
        in_shape = tuple(node.input_tensors[0].shape)
        ins = [id(t) for t in node.input_tensors]
        act = (
            activation(layer.activation_name)
            if kind in ("Conv2D", "DepthwiseConv2D", "Dense", "Activation")
            else None
        )
        if kind in ("Conv2D", "DepthwiseConv2D"):
            kernel = layer.get_weights()[0]
            c_in = in_shape[-1]
            if kind == "Conv2D":
                module = nn.Conv2d(c_in, kernel.shape[3], layer.kernel_size, layer.strides, 0, layer.dilation_rate,
                                   groups=getattr(layer, "groups", 1), bias=layer.use_bias)  # fmt: skip
            else:
                module = nn.Conv2d(c_in, c_in * kernel.shape[3], layer.kernel_size, layer.strides, 0,
                                   layer.dilation_rate, groups=c_in, bias=layer.use_bias)  # fmt: skip
            twin.pairs.append((layer, add(layer, module)))
            conv = padded(module, _pads(layer, in_shape))
            fn = partial(_then, conv, act)
        elif kind == "BatchNormalization":
            # Keras: moving = moving * momentum + batch * (1 - momentum); PyTorch's momentum is the other weight.
            cls = nn.BatchNorm2d if len(in_shape) == 4 else nn.BatchNorm1d
            module = add(
                layer, cls(in_shape[-1], eps=layer.epsilon, momentum=1 - layer.momentum)
            )
            twin.pairs.append((layer, module))
            fn = module
        elif kind == "ReLU":
            if layer.negative_slope or layer.threshold:
                raise ValueError(
                    f"no PyTorch twin for {layer.name}: ReLU with a slope or threshold"
                )
            cap = layer.max_value
            fn = F.relu if cap is None else partial(torch.clamp, min=0, max=cap)
        elif kind == "Activation":
            fn = act
        elif kind == "ZeroPadding2D":
            (t, b), (lft, r) = layer.padding
            fn = partial(F.pad, pad=(lft, r, t, b))
        elif kind == "Add":
            fn = _add
        elif kind == "Multiply":
            fn = operator.mul
        elif kind == "Concatenate":
            fn = _concatenate_channels
        elif kind in ("MaxPooling2D", "AveragePooling2D"):
            pads = _pads(layer, in_shape)
            if pads[0] != pads[1] or pads[2] != pads[3]:
                raise ValueError(
                    f"no PyTorch twin for {layer.name}: asymmetric 'same' pooling"
                )
            cls = nn.MaxPool2d if kind == "MaxPooling2D" else nn.AvgPool2d
            extra = {} if kind == "MaxPooling2D" else {"count_include_pad": False}
            fn = add(
                layer, cls(layer.pool_size, layer.strides, (pads[0], pads[2]), **extra)
            )
        elif kind in ("GlobalAveragePooling2D", "GlobalMaxPooling2D"):
            keep = getattr(layer, "keepdims", False)
            reduce = "mean" if kind == "GlobalAveragePooling2D" else "amax"
            fn = partial(_global_pool, reduce, keep)
        elif kind == "Dense":
            if len(in_shape) != 2:
                raise ValueError(
                    f"no PyTorch twin for {layer.name}: Dense on a rank-{len(in_shape)} input"
                )
            kernel = layer.get_weights()[0]
            module = add(
                layer, nn.Linear(kernel.shape[0], kernel.shape[1], bias=layer.use_bias)
            )
            twin.pairs.append((layer, module))
            fn = partial(_then, module, act)
        elif kind == "Flatten":
            fn = _flatten_nhwc
        elif kind == "Reshape":
            fn = partial(_reshape_nhwc, tuple(layer.target_shape))
        elif kind in ("Dropout", "SpatialDropout2D", "InputLayer"):
            fn = _identity  # (inference)
        elif kind == "Rescaling":
            scale, offset = np.float32(layer.scale), np.float32(layer.offset)
            if (
                scale.ndim or offset.ndim
            ):  # per channel: would broadcast over NCHW's width
                raise ValueError(
                    f"no PyTorch twin for {layer.name}: Rescaling per channel"
                )
            fn = partial(_affine, scale, offset)
        else:
            raise ValueError(f"no PyTorch twin for layer {layer.name} ({kind})")
        if len(node.output_tensors) != 1:
            raise ValueError(f"no PyTorch twin for {layer.name}: several outputs")
        twin.steps.append((fn, ins, id(node.output_tensors[0])))
    copy_weights_to_torch(twin)
    twin.eval()
    if channels_last:
        twin = twin.to(memory_format=torch.channels_last)
    return twin


def _named(layer):
    return dict(zip(layer.weight_names, layer.get_weights()))


def copy_weights_to_torch(twin):
    """Every paired cnnlab layer's current weights into its torch module."""
    import torch

    with torch.no_grad():
        for layer, module in twin.pairs:
            w, kind = _named(layer), type(layer).__name__
            if kind == "Conv2D":
                module.weight.copy_(
                    torch.from_numpy(w["kernel"].transpose(3, 2, 0, 1).copy())
                )
            elif kind == "DepthwiseConv2D":
                k = w[
                    "kernel"
                ]  # (kh, kw, in, multiplier) -> output channel c * multiplier + m
                module.weight.copy_(
                    torch.from_numpy(
                        k.reshape(*k.shape[:2], -1).transpose(2, 0, 1)[:, None].copy()
                    )
                )
            elif kind == "Dense":
                module.weight.copy_(torch.from_numpy(w["kernel"].T.copy()))
            elif kind == "BatchNormalization":
                n = w["moving_mean"].shape[0]
                module.weight.copy_(
                    torch.from_numpy(w.get("gamma", np.ones(n, np.float32)))
                )
                module.bias.copy_(
                    torch.from_numpy(w.get("beta", np.zeros(n, np.float32)))
                )
                module.running_mean.copy_(torch.from_numpy(w["moving_mean"]))
                module.running_var.copy_(torch.from_numpy(w["moving_variance"]))
                continue
            if "bias" in w:
                module.bias.copy_(torch.from_numpy(w["bias"]))


def copy_weights_to_cnnlab(twin):
    """The inverse of :func:`copy_weights_to_torch`: the torch module's weights into each paired layer."""
    for layer, module in twin.pairs:
        kind = type(layer).__name__
        current = _named(layer)
        new = {}
        if kind == "BatchNormalization":
            new = {
                "gamma": module.weight.detach().numpy(),
                "beta": module.bias.detach().numpy(),
                "moving_mean": module.running_mean.numpy(),
                "moving_variance": module.running_var.numpy(),
            }
        else:
            weight = module.weight.detach().numpy()
            if kind == "Conv2D":
                new["kernel"] = weight.transpose(2, 3, 1, 0)
            elif kind == "DepthwiseConv2D":
                kh, kw, c_in, mult = current["kernel"].shape
                new["kernel"] = (
                    weight[:, 0].transpose(1, 2, 0).reshape(kh, kw, c_in, mult)
                )
            else:
                new["kernel"] = weight.T
            if module.bias is not None:
                new["bias"] = module.bias.detach().numpy()
        layer.set_weights(
            [np.ascontiguousarray(new[name], np.float32) for name in layer.weight_names]
        )


def nchw(x, channels_last=False):
    """An NHWC float32 batch as the twin reads it."""
    import torch

    t = torch.from_numpy(
        np.ascontiguousarray(np.asarray(x, np.float32).transpose(0, 3, 1, 2))
    )
    return t.contiguous(memory_format=torch.channels_last) if channels_last else t


def twin_outputs(twin, x, channels_last=False):
    """The twin's outputs for the NHWC batch ``x``, as NHWC / 2-D NumPy arrays."""
    import torch

    with torch.inference_mode():
        y = twin(nchw(x, channels_last)).numpy()
    return y.transpose(0, 2, 3, 1) if y.ndim == 4 else y


def build_pair(name, size, seed=0):
    """``(cnnlab model, {layout: torch twin})`` with the same weights, outputs checked to agree."""
    import common

    from cnnlab import applications, keras

    keras.utils.set_random_seed(seed)
    model = getattr(applications, MODELS[name])(
        weights=None, input_shape=(size, size, 3)
    )
    common.randomize_batchnorm(model, seed=seed)
    twins = {
        "nchw": torch_twin(model),
        "channels_last": torch_twin(model, channels_last=True),
    }
    x = (
        np.random.default_rng(seed)
        .uniform(-1, 1, (2, size, size, 3))
        .astype(np.float32)
    )
    expected = model.predict_on_batch(x)
    for layout, twin in twins.items():
        got = twin_outputs(twin, x, channels_last=layout == "channels_last")
        np.testing.assert_allclose(
            got, expected, atol=2e-5, err_msg=f"{name} twin ({layout}) disagrees"
        )
    return model, twins
