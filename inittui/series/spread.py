"""Which few of many items to show: indices spread evenly, the first and the last always among them."""

from __future__ import annotations


def spread(count: int, room: int, first: int = 0) -> list[int]:
    """At most ``room`` of the ``count`` indices from ``first`` on, evenly spread, the first and the last
    included (only the last where there is room for one or none)."""
    if count <= 0:
        return []
    if count <= room:
        return list(range(first, first + count))
    if room <= 1:
        return [first + count - 1]
    return sorted({first + round(i * (count - 1) / (room - 1)) for i in range(room)})
