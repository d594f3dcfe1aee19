"""Loss and accuracy curves of every run overlaid, drawn with textual-plotext on the UI thread."""

from __future__ import annotations

from dataclasses import dataclass

from textual_plotext import PlotextPlot

from inittui.ui.state import Series


@dataclass
class Curve:
    colour: str  # "#rrggbb", the run's colour
    series: Series
    marker: str = "braille"
    # points only (test accuracy, measured once an epoch), not a line through them
    scatter: bool = False


def _rgb(colour: str) -> tuple[int, int, int]:
    value = colour.lstrip("#")
    return int(value[0:2], 16), int(value[2:4], 16), int(value[4:6], 16)


class CurvePlot(PlotextPlot):
    """Keeps the curves it was last given (plain lists) and plots them when asked to draw."""

    def __init__(
        self, title: str, *, ylim: tuple[float, float] | None = None, ycap: float | None = None, **kwargs
    ) -> None:
        super().__init__(**kwargs)
        self.title = title
        # a fixed y range, or a ceiling so that one exploding run does not flatten the others
        self.ylim = ylim
        self.ycap = ycap
        self.curves: list[Curve] = []

    def show(self, curves: list[Curve], title: str | None = None) -> None:
        self.curves = curves
        if title is not None:
            self.title = title
        self._replot()
        self.refresh()

    def _replot(self) -> None:
        plt = self.plt
        plt.clear_figure()
        plt.title(self.title)
        top = 0.0
        for curve in self.curves:
            if not curve.series.x:
                continue
            top = max(top, max(curve.series.y))
            draw = plt.scatter if curve.scatter else plt.plot
            draw(curve.series.x, curve.series.y, color=_rgb(curve.colour), marker=curve.marker)
        if self.ylim is not None:
            plt.ylim(*self.ylim)
        elif self.ycap is not None and top > 0:
            plt.ylim(0, min(self.ycap, top * 1.05))
