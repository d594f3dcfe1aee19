"""The screen room the controller asks about, as a stub: a screen on which everything fits."""

from __future__ import annotations


class Room:
    """Both halves of the layers page and every depth panel fit; the loss on a linear axis; 101 chart columns."""

    def layers_fit_both(self) -> bool:
        return True

    def depth_panels_fit(self) -> bool:
        return True

    def loss_on_log_axis(self) -> bool:
        return False

    def chart_columns(self) -> int:
        return 101
