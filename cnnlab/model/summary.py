"""``model.summary()``: the table Keras 3 prints, drawn with ``rich`` when it is
installed (as Keras does), in plain box characters otherwise.

Beyond Keras, ``show_formula=True`` adds each layer's parameter arithmetic
(``3*3*1*32 + 32 = 320``).

A functional model is summarized as Keras 3 does it (keras/src/utils/summary_utils.py): its
layers in ``model.layers`` order, the InputLayers included, a nested model as one row, and,
unless the graph is a plain chain ("sequential-like": one node per depth, each with at most
one input, no layer called twice), a fourth column ``Connected to`` listing each input as
``layer[node][tensor]``, 108 columns wide by default.
"""

from __future__ import annotations

import shutil


def readable_size(num_bytes):
    """``900136`` -> ``"879.04 KB"`` (powers of 1024, two decimals, as Keras)."""
    for unit in ["B", "KB", "MB", "GB", "TB"]:
        if num_bytes / 1024 < 1:
            return f"{num_bytes:.2f} {unit}"
        num_bytes /= 1024
    return f"{num_bytes:.2f} PB"


def format_shape(shape):
    return "(" + ", ".join(str(s) for s in shape) + ")"


def _is_graph(model):
    """A functional model (``Model(inputs, outputs)``): Sequential and subclassed models are
    summarized as a plain list of layers, as Keras does."""
    if any(c.__name__ == "Sequential" for c in type(model).__mro__):
        return False
    nodes = getattr(model, "_nodes", None)
    return bool(nodes) and any(node.is_input for node in nodes)


def _sequential_like(model):
    """Keras's test: one node per depth (the longest path to an output), each with at most one input
    tensor, and no layer called twice inside the model."""
    nodes = model.nodes
    ids = {id(n) for n in nodes}
    depth = {}
    for node in reversed(nodes):  # outputs first: a node's depth exceeds its users'
        d = depth.setdefault(id(node), 0)
        for t in node.input_tensors:
            parent = t.node
            if parent is not None and id(parent) in ids:
                depth[id(parent)] = max(depth.get(id(parent), 0), d + 1)
    per_depth = {}
    for node in nodes:
        per_depth.setdefault(depth[id(node)], []).append(node)
    if any(len(v) > 1 or len(v[0].input_tensors) > 1 for v in per_depth.values()):
        return False
    layers = [id(n.layer) for n in nodes]
    return len(layers) == len(set(layers))


def _graph_output_shape(layer):
    """The shape of the layer's last call (Keras reads its last inbound node), several as a list."""
    nodes = getattr(layer, "_inbound_nodes", None)
    if not nodes:
        return (
            format_shape(layer.output_shape) if getattr(layer, "built", False) else "?"
        )
    shapes = [format_shape(t.shape) for t in nodes[-1].output_tensors]
    return shapes[0] if len(shapes) == 1 else "[" + ", ".join(shapes) + "]"


def _connections(model, layer):
    own = {id(n) for n in model.nodes}
    parts = [
        f"{t._keras_history[0].name}[{t._keras_history[1]}][{t._keras_history[2]}]"
        for node in layer._inbound_nodes
        if id(node) in own
        for t in node.input_tensors
    ]
    return ", ".join(parts) or "-"


def graph_rows(model, connected):
    rows = []
    for layer in model.layers:
        if not getattr(layer, "built", True):
            params = "0 (unbuilt)"
        else:
            params = f"{layer.count_params():,}"
        row = [
            f"{layer.name} ({layer.keras_class_name})",
            _graph_output_shape(layer),
            params,
        ]
        if connected:
            row.append(_connections(model, layer))
        rows.append(row)
    return rows


def layer_rows(model, show_formula=False):
    rows = []
    for layer in model.layers:
        name = f"{layer.name} ({type(layer).__name__})"
        shape = format_shape(layer.output_shape) if layer.built else "?"
        params = f"{layer.count_params():,}" if layer.built else "0 (unbuilt)"
        row = [name, shape, params]
        if show_formula:
            formula = getattr(layer, "param_formula", None)
            row.append(
                formula() if (formula and layer.built and layer.count_params()) else "-"
            )
        rows.append(row)
    return rows


def footer_lines(model):
    def bytes_of(arrays):
        return sum(a.size * a.dtype.itemsize for a in arrays)

    trainable = model.trainable_weights
    non_trainable = model.non_trainable_weights
    lines = []
    opt = model.optimizer if model.compiled else None
    opt_vars = opt.variables if (opt is not None and opt.built) else []
    # Keras stores `iterations` as int64 and `learning_rate` (absent under a schedule) as float32.
    opt_count = sum(int(v.size) for v in opt_vars)
    opt_bytes = bytes_of(opt_vars)
    t_count, n_count = (
        sum(w.size for w in trainable),
        sum(w.size for w in non_trainable),
    )
    t_bytes, n_bytes = bytes_of(trainable), bytes_of(non_trainable)
    lines.append(
        f" Total params: {t_count + n_count + opt_count:,} ({readable_size(t_bytes + n_bytes + opt_bytes)})"
    )
    lines.append(f" Trainable params: {t_count:,} ({readable_size(t_bytes)})")
    lines.append(f" Non-trainable params: {n_count:,} ({readable_size(n_bytes)})")
    if opt_vars:
        lines.append(f" Optimizer params: {opt_count:,} ({readable_size(opt_bytes)})")
    return lines


def column_widths(line_length, positions):
    widths, current = [], 0
    for pos in positions:
        width = int(pos * line_length) - current
        if width < 4:
            raise ValueError("Insufficient console width to print summary.")
        widths.append(width)
        current += width
    return widths


def render(model, line_length=None, positions=None, show_formula=False):
    """The summary as text."""
    header = ["Layer (type)", "Output Shape", "Param #"]
    align = ["left", "left", "right"]
    graph = _is_graph(model)
    connected = graph and not _sequential_like(model)
    default_length = 88
    if connected:
        header.append("Connected to")
        align.append("left")
        positions = positions or [0.3, 0.56, 0.74, 1.0]
        default_length = 108
    positions = positions or [0.45, 0.80, 1.0]
    if show_formula and not graph:
        header.append("Formula")
        align.append("left")
        positions = [p * 0.75 for p in positions] + [1.0]
        default_length = 118
    line_length = line_length or min(
        default_length, shutil.get_terminal_size().columns - 4
    )
    widths = column_widths(line_length, positions)
    rows = graph_rows(model, connected) if graph else layer_rows(model, show_formula)
    title = f'Model: "{model.name}"'
    try:
        table = _rich_table(header, align, widths, rows, line_length)
    except ImportError:
        table = _plain_table(header, align, _fit_widths(widths, line_length), rows)
    return "\n".join([title, table, *footer_lines(model)]) + "\n"


def _rich_table(header, align, widths, rows, line_length):
    import rich.console
    import rich.table
    from rich.markup import escape

    columns = [
        rich.table.Column(h, justify=a, width=w)
        for h, a, w in zip(header, align, widths)
    ]
    table = rich.table.Table(*columns, width=line_length, show_lines=True)
    for row in rows:
        table.add_row(*(escape(c) for c in row))
    console = rich.console.Console(
        highlight=False, force_terminal=False, color_system=None, width=line_length + 4
    )
    with console.capture() as capture:
        console.print(table)
    return capture.get().rstrip("\n")


def _fit_widths(widths, line_length):
    """Shrink the columns so that they and the borders fit ``line_length``,
    spreading the excess as rich does (so both renderings are identical)."""
    excess = sum(widths) + len(widths) + 1 - line_length
    widths = list(widths)
    remaining_ratio = len(widths)
    for i, width in enumerate(widths):
        if excess <= 0:
            break
        cut = min(width, round(excess / remaining_ratio))
        widths[i] -= cut
        excess -= cut
        remaining_ratio -= 1
    return widths


def _wrap(text, width):
    """Break ``text`` into lines of at most ``width`` at spaces, as rich folds a cell; a word longer
    than the cell is cut with an ellipsis."""
    lines, line = [], ""
    for word in text.split(" "):
        candidate = f"{line} {word}" if line else word
        if len(candidate) <= width:
            line = candidate
            continue
        if line:
            lines.append(line)
        line = word if len(word) <= width else word[: width - 1] + "…"
    lines.append(line)
    return lines


def _plain_table(header, align, widths, rows):
    """The same box as rich draws (heavy head, lines between rows), without rich."""

    def cells(values, left, sep, right):
        columns = [_wrap(v, w - 2) for v, w in zip(values, widths)]
        out_lines = []
        for k in range(max(len(c) for c in columns)):
            out = []
            for column, a, w in zip(columns, align, widths):
                inner = w - 2
                v = column[k] if k < len(column) else ""
                out.append(
                    " " + (v.ljust(inner) if a == "left" else v.rjust(inner)) + " "
                )
            out_lines.append(left + sep.join(out) + right)
        return "\n".join(out_lines)

    def rule(left, fill, sep, right):
        return left + sep.join(fill * w for w in widths) + right

    lines = [
        rule("┏", "━", "┳", "┓"),
        cells(header, "┃", "┃", "┃"),
        rule("┡", "━", "╇", "┩"),
    ]
    for i, row in enumerate(rows):
        if i:
            lines.append(rule("├", "─", "┼", "┤"))
        lines.append(cells(row, "│", "│", "│"))
    lines.append(rule("└", "─", "┴", "┘"))
    return "\n".join(lines)
