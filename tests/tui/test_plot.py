"""The braille line chart used for the loss curve."""

from __future__ import annotations

import math

from tui.widgets.train.plot import Series, braille_plot


def test_plot_has_the_requested_size_and_axis_labels() -> None:
    lines = braille_plot([Series("train", [(1, 3.0), (2, 2.0), (3, 1.0)], "cyan")], width=30, height=5)
    assert len(lines) == 5
    assert all(line.cell_len == 30 for line in lines)
    assert lines[0].plain.startswith("     3│") and lines[-1].plain.startswith("     1│")


def test_falling_loss_starts_top_left_and_ends_bottom_right() -> None:
    lines = braille_plot([Series("train", [(0, 10.0), (100, 0.0)], "cyan")], width=27, height=4)
    plot = [line.plain[7:] for line in lines]
    assert plot[0][0] != " " and plot[0][-1] == " "
    assert plot[-1][-1] != " " and plot[-1][0] == " "


def test_empty_flat_and_nan_series_do_not_crash() -> None:
    assert [line.plain for line in braille_plot([], 10, 2)] == [" " * 10] * 2
    flat = braille_plot([Series("s", [(0, 1.0), (5, 1.0)], "red")], 20, 3)
    assert any(ch != " " for ch in flat[1].plain[7:])
    with_nan = braille_plot([Series("s", [(0, 1.0), (1, math.nan), (2, 0.5)], "red")], 20, 3)
    assert len(with_nan) == 3


def test_later_series_own_shared_cells() -> None:
    train = Series("train", [(0, 1.0), (1, 1.0)], "cyan")
    evals = Series("eval", [(0, 1.0), (1, 1.0)], "magenta")
    lines = braille_plot([train, evals], 20, 3)
    styles = {str(span.style) for line in lines for span in line.spans}
    assert "magenta" in styles and "cyan" not in styles
