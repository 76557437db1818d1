"""``model.summary()``: the table Keras 3 prints, drawn with ``rich`` when it is
installed (as Keras does), in plain box characters otherwise.

Beyond Keras, ``show_formula=True`` adds each layer's parameter arithmetic
(``3*3*1*32 + 32 = 320``).
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


def layer_rows(model, show_formula=False):
    rows = []
    for layer in model.layers:
        name = f"{layer.name} ({type(layer).__name__})"
        shape = format_shape(layer.output_shape) if layer.built else "?"
        params = f"{layer.count_params():,}" if layer.built else "0 (unbuilt)"
        row = [name, shape, params]
        if show_formula:
            formula = getattr(layer, "param_formula", None)
            row.append(formula() if (formula and layer.built and layer.count_params()) else "-")
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
    t_count, n_count = sum(w.size for w in trainable), sum(w.size for w in non_trainable)
    t_bytes, n_bytes = bytes_of(trainable), bytes_of(non_trainable)
    lines.append(f" Total params: {t_count + n_count + opt_count:,} ({readable_size(t_bytes + n_bytes + opt_bytes)})")
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
    positions = positions or [0.45, 0.80, 1.0]
    default_length = 88
    if show_formula:
        header.append("Formula")
        align.append("left")
        positions = [p * 0.75 for p in positions] + [1.0]
        default_length = 118
    line_length = line_length or min(default_length, shutil.get_terminal_size().columns - 4)
    widths = column_widths(line_length, positions)
    rows = layer_rows(model, show_formula)
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

    columns = [rich.table.Column(h, justify=a, width=w) for h, a, w in zip(header, align, widths)]
    table = rich.table.Table(*columns, width=line_length, show_lines=True)
    for row in rows:
        table.add_row(*(escape(c) for c in row))
    console = rich.console.Console(highlight=False, force_terminal=False, color_system=None,
                                   width=line_length + 4)
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


def _plain_table(header, align, widths, rows):
    """The same box as rich draws (heavy head, lines between rows), without rich."""
    def cells(values, left, sep, right):
        out = []
        for v, a, w in zip(values, align, widths):
            inner = w - 2
            v = v[:inner]
            out.append(" " + (v.ljust(inner) if a == "left" else v.rjust(inner)) + " ")
        return left + sep.join(out) + right

    def rule(left, fill, sep, right):
        return left + sep.join(fill * w for w in widths) + right

    lines = [rule("┏", "━", "┳", "┓"), cells(header, "┃", "┃", "┃"), rule("┡", "━", "╇", "┩")]
    for i, row in enumerate(rows):
        if i:
            lines.append(rule("├", "─", "┼", "┤"))
        lines.append(cells(row, "│", "│", "│"))
    lines.append(rule("└", "─", "┴", "┘"))
    return "\n".join(lines)
