"""What ``compile`` attaches to each output of a model: its loss, loss weight and metrics.

Keras 3's rules: ``loss`` is one loss (for every output), a list (one per
output) or a dict keyed by output layer name; ``loss_weights`` a list or dict
(1.0 where absent); ``metrics`` a list (single output), a list of lists (one
per output) or a dict. With several outputs the logs name each output's
unweighted loss ``<output>_loss`` and its metrics ``<output>_<metric>``; ``loss``
is the weighted sum.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from ..errors import CnnlabError
from . import losses as losses_mod
from . import metrics as metrics_mod


@dataclass
class OutputHead:
    name: str  # the output layer's name
    loss: object = None  # a Loss, or None: this output takes no part in training
    weight: float = 1.0
    metric_specs: list = field(default_factory=list)
    metrics: list = field(default_factory=list)
    prefix: str = ""  # "" for a single output, "<name>_" for several
    weighted_metric_specs: list = field(default_factory=list)

    def build_metrics(self, y_shape, output_shape):
        """``metrics`` then ``weighted_metrics`` (marked ``weighted``: only they see sample and
        class weights); a weighted metric named like a plain one is ``weighted_<name>``, as in Keras 3."""
        if not self.metrics and (self.metric_specs or self.weighted_metric_specs):
            plain = [
                metrics_mod.get(m, y_shape, output_shape) for m in self.metric_specs
            ]
            weighted = [
                metrics_mod.get(m, y_shape, output_shape)
                for m in self.weighted_metric_specs
            ]
            taken = {m.name for m in plain}
            for m in weighted:
                m.weighted = True
                if m.name in taken:
                    m.name = f"weighted_{m.name}"
            self.metrics = plain + weighted
            if self.prefix:
                for m in self.metrics:
                    m.name = f"{self.prefix}{m.name}"
        return self.metrics


def _per_output(value, names, what, allow_single=True):
    """``value`` spread over the outputs: one for all, a list, or a dict keyed by output name."""
    n = len(names)
    if isinstance(value, dict):
        unknown = sorted(set(value) - set(names))
        if unknown:
            raise CnnlabError(
                f"compile(): `{what}` names outputs {unknown} that the model does not have; its "
                f"outputs are {names}. Received: {what}={value!r}"
            )
        return [value.get(name) for name in names]
    if isinstance(value, (list, tuple)) and not (
        what in ("metrics", "weighted_metrics") and n == 1
    ):
        if len(value) != n:
            raise CnnlabError(
                f"compile(): for a model with {n} outputs ({names}), `{what}` given as a list must "
                f"have {n} entries. Received: {what}={value!r}"
            )
        return list(value)
    if not allow_single and n > 1 and value is not None:
        raise CnnlabError(
            f"compile(): `{what}` for a model with several outputs must be a list or a dict per "
            f"output ({names}). Received: {what}={value!r}"
        )
    return [value] * n


def resolve(output_names, loss, loss_weights, metrics, weighted_metrics=None):
    """One :class:`OutputHead` per output."""
    names = list(output_names)
    prefix = len(names) > 1
    losses = _per_output(loss, names, "loss")
    weights = (
        _per_output(loss_weights, names, "loss_weights")
        if loss_weights is not None
        else [None] * len(names)
    )
    metric_lists = (
        _per_output(metrics, names, "metrics", allow_single=False)
        if metrics is not None
        else [None] * len(names)
    )
    weighted_lists = (
        _per_output(weighted_metrics, names, "weighted_metrics", allow_single=False)
        if weighted_metrics is not None
        else [None] * len(names)
    )
    heads = []
    for name, loss_spec, w, m, wm in zip(
        names, losses, weights, metric_lists, weighted_lists
    ):
        specs = [] if m is None else (list(m) if isinstance(m, (list, tuple)) else [m])
        weighted_specs = (
            [] if wm is None else (list(wm) if isinstance(wm, (list, tuple)) else [wm])
        )
        heads.append(
            OutputHead(
                name,
                losses_mod.get(loss_spec) if loss_spec is not None else None,
                1.0 if w is None else float(w),
                specs,
                prefix=f"{name}_" if prefix else "",
                weighted_metric_specs=weighted_specs,
            )
        )
    return heads
