"""Lines drawn in braille dots, for every chart: one decimation and one rasteriser.

A character cell holds 2 × 4 dots. Each line is first reduced to one vertical span per dot column (the lowest
and highest value it takes there: its points and where its segments cross the column's edges), so the cost
is that of the points and of the columns, never a Python loop per point, and a spike survives however many
points share a column. The spans then become braille cells, the last line drawn owning a cell it touches.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

BRAILLE_BASE = 0x2800
# the bit of each dot of a cell, indexed [dot row from the top][dot column]
DOT_BITS = np.array([[0x01, 0x08], [0x02, 0x10], [0x04, 0x20], [0x40, 0x80]], dtype=np.int64)
# the character of each pattern; pattern 0 is a space, so an empty cell is blank
BRAILLE = np.array([" "] + [chr(BRAILLE_BASE + code) for code in range(1, 256)], dtype=object)
# _SPAN_BITS[dot column, first dot row, last dot row]: the dots of rows first..last in that column
_SPAN_BITS = np.array(
    [[[int(DOT_BITS[a : b + 1, column].sum()) for b in range(4)] for a in range(4)] for column in range(2)],
    dtype=np.int64,
)


def column_spans(
    lines: Sequence[tuple[np.ndarray, np.ndarray]], x_range: tuple[float, float], columns: int
) -> tuple[np.ndarray, np.ndarray]:
    """For every line (x, y), the lowest and highest y it reaches in each of ``columns`` dot columns.

    ``x_range`` maps onto the centres of the first and last column. Returns two ``[lines, columns]`` arrays,
    +inf/-inf where a line has nothing. Points that fall in one column give their minimum and maximum; the
    segment joining two columns adds its values at the edges of every column it crosses, so the line stays
    connected. A NaN y is a gap: the line is not joined across it. ±inf y is a value beyond any axis.
    """
    count = len(lines)
    low = np.full((count, columns), np.inf)
    high = np.full((count, columns), -np.inf)
    if count == 0 or columns <= 0:
        return low, high
    x = np.concatenate([points_x for points_x, _ in lines])
    y = np.concatenate([points_y for _, points_y in lines])
    line = np.repeat(np.arange(count), [points_x.size for points_x, _ in lines])
    keep = np.isfinite(x)
    x, y, line = x[keep], y[keep], line[keep]
    if np.any((x[1:] < x[:-1]) & (line[1:] == line[:-1])):  # a line not in order of x: sort it
        order = np.lexsort((x, line))
        x, y, line = x[order], y[order], line[order]
    # the gaps before each point, counted along all lines; then the gaps themselves go
    gaps_before = np.cumsum(np.isnan(y))
    present = ~np.isnan(y)
    x, y, line, gaps_before = x[present], y[present], line[present], gaps_before[present]
    if x.size == 0:
        return low, high
    x0, x1 = x_range
    scale = (columns - 1) / (x1 - x0) if x1 > x0 else 0.0
    with np.errstate(over="ignore", invalid="ignore"):
        position = np.nan_to_num((x - x0) * scale, nan=0.0)
    column = np.clip(np.rint(position), 0, columns - 1).astype(np.int64)

    key = line * columns + column  # nondecreasing: by line, then by column
    starts = np.flatnonzero(np.diff(key, prepend=-1))
    ends = np.append(starts[1:], y.size) - 1
    group_line, group_column = line[starts], column[starts]
    first, last = y[starts], y[ends]
    low[group_line, group_column] = np.minimum.reduceat(y, starts)
    high[group_line, group_column] = np.maximum.reduceat(y, starts)

    # segments from one occupied column of a line to its next, unless a gap lies between: their values at
    # the edges of every column they cross
    joined = np.flatnonzero(
        (group_line[1:] == group_line[:-1]) & (gaps_before[starts[1:]] == gaps_before[ends[:-1]])
    )
    if joined.size:
        left, right = group_column[joined], group_column[joined + 1]
        start, end = last[joined], first[joined + 1]
        lengths = right - left + 1
        segment = np.repeat(np.arange(joined.size), lengths)
        offsets = np.arange(segment.size) - np.repeat(np.cumsum(lengths) - lengths, lengths)
        at_column = left[segment] + offsets
        span = np.maximum(right - left, 1)[segment].astype(np.float64)
        # in order of line and column, so equal cells are neighbours: reduce each run of them at once
        cells = group_line[joined][segment] * columns + at_column
        runs = np.flatnonzero(np.diff(cells, prepend=-1))
        flat_low, flat_high = low.reshape(-1), high.reshape(-1)
        for edge in (-0.5, 0.5):
            at = np.clip(at_column + edge, left[segment], right[segment])
            with np.errstate(over="ignore", invalid="ignore"):
                value = start[segment] + (end - start)[segment] * (at - left[segment]) / span
            value = np.where(np.isnan(value), start[segment], value)  # inf - inf: the line stays put
            flat_low[cells[runs]] = np.minimum(flat_low[cells[runs]], np.minimum.reduceat(value, runs))
            flat_high[cells[runs]] = np.maximum(flat_high[cells[runs]], np.maximum.reduceat(value, runs))
    return low, high


def pixel_rows(values: np.ndarray, y_range: tuple[float, float], pixels: int) -> np.ndarray:
    """Dot rows counted from the top of a plot ``pixels`` dots high, clipped to it (±inf to the edges).

    Rounded as dot rows counted from the bottom, as the axes that label them count."""
    low, high = y_range
    with np.errstate(invalid="ignore", over="ignore"):
        rows = (values - low) / (high - low) * (pixels - 1)
    rows = np.nan_to_num(rows, nan=0.0, posinf=pixels - 1, neginf=0.0)
    return (pixels - 1 - np.clip(np.rint(rows), 0, pixels - 1)).astype(np.int64)


def rasterise(
    low: np.ndarray, high: np.ndarray, y_range: tuple[float, float], width: int, height: int
) -> tuple[np.ndarray, np.ndarray]:
    """Spans (``[lines, 2 * width]``, from :func:`column_spans`) to braille cells.

    Returns (code, owner), each ``[height, width]`` with row 0 at the top: the braille pattern (0: empty) of the
    line that owns the cell, and that line's index (-1: none). The last line with a dot in a cell owns it and
    only its dots are shown, so a cell has one colour. The work is bounded by lines × width × height.
    """
    code = np.zeros((height, width), dtype=np.int64)
    owner = np.full((height, width), -1, dtype=np.int64)
    line, pixel_column = np.nonzero(low <= high)
    if line.size == 0 or width <= 0 or height <= 0:
        return code, owner
    top = pixel_rows(high[line, pixel_column], y_range, height * 4)  # top <= bottom
    bottom = pixel_rows(low[line, pixel_column], y_range, height * 4)
    # one entry per cell row a span touches: its dots in that cell
    first_row, last_row = top // 4, bottom // 4
    count = last_row - first_row + 1
    entry = np.repeat(np.arange(line.size), count)
    cell_row = first_row[entry] + np.arange(entry.size) - np.repeat(np.cumsum(count) - count, count)
    dots = _SPAN_BITS[
        pixel_column[entry] % 2,
        np.clip(top[entry] - 4 * cell_row, 0, 3),
        np.clip(bottom[entry] - 4 * cell_row, 0, 3),
    ]
    cell = cell_row * width + pixel_column[entry] // 2
    # the two dot columns of a cell hold different bits, so adding them is or-ing them
    cells = height * width
    lines = low.shape[0]
    codes = np.bincount(line[entry] * cells + cell, weights=dots, minlength=lines * cells).astype(np.int64)
    flat_owner = owner.reshape(-1)
    np.maximum.at(flat_owner, cell, line[entry])
    owned = np.flatnonzero(flat_owner >= 0)
    code.reshape(-1)[owned] = codes[flat_owner[owned] * cells + owned]
    return code, owner
