"""Every key of the dashboard, once: the bindings, the Footer's labels, the help screen, the command palette
and the README's key table are all made from :data:`KEYS`.

A key either asks the view model for an :class:`~inittui.dashboard.controller.Action` (bound as
``do('name')``, handled by the controller) or does what only the screen can (focus the filter, open a screen,
save a screenshot, quit), bound to the app's action of that name.
"""

from __future__ import annotations

from dataclasses import dataclass

from textual.binding import Binding

from inittui.dashboard.controller import PAGE_ACTIONS, Action


# where a key is bound: on every screen, only on the dashboard's own, or only in the full-screen chart
ANYWHERE, DASHBOARD, CHART = "anywhere", "dashboard", "chart"


@dataclass(frozen=True)
class Key:
    """One key binding and everything said about it."""

    keys: str  # Textual key names, comma-separated: "down,j"
    action: Action | str  # the controller's Action, or the name of one of the app's own actions
    label: str  # the Footer's short label
    help: str  # what it does, for the help screen, the palette and the README
    display: str = ""  # how the keys are written for people; default: ``keys`` as they are
    title: str = ""  # the command palette's entry; empty: not in the palette
    group: str = ""  # keys of one group share a place in the Footer
    # in the Footer: the keys needed to find the rest (every key is in the help, the palette and the README), so
    # that the Footer fits 80 columns
    show: bool = True
    # checked before the focused widget sees the key: for a key that moves the focus, so that the keys typed
    # right after it (already queued) go where the focus now is
    priority: bool = False
    # where it is bound: ANYWHERE, DASHBOARD or CHART
    where: str = ANYWHERE

    @property
    def shown(self) -> str:
        return self.display or " / ".join(self.keys.split(","))

    @property
    def action_text(self) -> str:
        """The action as Textual runs it."""
        return f"do('{self.action.value}')" if isinstance(self.action, Action) else self.action

    @property
    def name(self) -> str:
        return self.action.value if isinstance(self.action, Action) else self.action

    def binding(self) -> Binding:
        return Binding(
            self.keys,
            self.action_text,
            self.label,
            show=self.show,
            key_display=self.display.replace(" / ", "/") or None,
            id=self.name,
            group=Binding.Group(self.group) if self.group else None,
            priority=self.priority,
        )

# (page, its number key, what it shows): the pages the number keys switch between
PAGES = (
    ("overview", "1", "runs table, curves and, where they fit, histograms and the depth view"),
    ("curves", "2", "loss and accuracy curves, large"),
    ("layers", "3", "the selected run's histograms and each layer's distribution over time"),
    ("depth", "4", "the depth view: activation std, backpropagated gradient, update ratio, Jacobian spectrum and "
               "correlation per layer"),
    ("atlas", "5", "the atlas: a sweep's runs as an initialiser × activation matrix"),
)

KEYS: tuple[Key, ...] = (
    # the pages, and what changes a run, belong to the dashboard: the full-screen chart is for reading
    *(Key(number, PAGE_ACTIONS[page], page, f"page {number}: {text}", title=f"Page {number}: {page}",
          group="pages", where=DASHBOARD) for page, number, text in PAGES),
    Key("down,j", Action.SELECT_NEXT, "next run", "select the next run", "↓ / j", group="run"),
    Key("up,k", Action.SELECT_PREVIOUS, "previous run", "select the previous run", "↑ / k", group="run"),
    # in a seed group the keys that change a run change every seed of its group, also from one seed's row (g):
    # the group is what is compared, and a seed changed alone would be a group of its own
    Key("i", Action.NEXT_INIT, "init",
        "next initialiser for the selected run (it restarts, the others go on); in a seed group all its seeds, from "
        "any seed's row, past a pair another group trains", title="Next initialiser", group="init", where=DASHBOARD),
    Key("I", Action.PREVIOUS_INIT, "previous initialiser", "previous initialiser for the selected run (same)",
        title="Previous initialiser", group="init", show=False, where=DASHBOARD),

    Key("a", Action.NEXT_ACTIVATION, "act",
        "next activation for the selected run (it restarts, the others go on); in a seed group all its seeds, from "
        "any seed's row, past a pair another group trains", title="Next activation", group="act", where=DASHBOARD),
    Key("A", Action.PREVIOUS_ACTIVATION, "previous activation", "previous activation for the selected run (same)",
        title="Previous activation", group="act", show=False, where=DASHBOARD),

    Key("o", Action.SORT_RUNS, "sort", "sort the runs table: by id, best test accuracy, train loss, name",
        title="Sort runs", group="table", show=False),

    Key("g", Action.TOGGLE_SEEDS, "seeds", "runs table: the selected run's seed group as one row of mean ± std "
        "over its seeds, or a row for each seed", title="Expand / fold seed group", group="table", show=False),

    Key("slash", "filter_runs", "filter", "filter the runs table by text (relu, he:, diverged)", "/",
        title="Filter runs", group="table", priority=True, show=False),

    Key("escape", "clear_filter", "clear filter", "clear the runs table's filter", "esc", show=False, priority=True),
    Key("y", Action.TOGGLE_LOG_SCALE, "log y", "loss on a log or a linear scale", title="Log / linear loss scale",
        group="curves", show=False),

    Key("e", Action.TOGGLE_SMOOTHING, "EMA", "smooth the curves (moving average), the raw curves faint behind",
        title="Smooth curves (EMA)", group="curves", show=False),

    Key("f", "open_chart", "chart",
        "the loss chart full screen, or the accuracy chart where it has the focus (tab, a click); esc or f closes "
        "it", title="Chart full screen", show=False, where=DASHBOARD),
    Key("x", Action.TOGGLE_RUN_CURVES, "hide run",
        "hide or show the selected run's curves on every chart (the chart's title says which are hidden)",
        title="Hide / show the selected run's curves", show=False),
    Key("right_square_bracket", Action.ZOOM_IN, "zoom in",
        "full-screen chart: zoom in, half the steps about the value cursor", "]", title="Chart: zoom in",
        group="zoom", where=CHART),
    Key("left_square_bracket", Action.ZOOM_OUT, "zoom out",
        "full-screen chart: zoom out, twice the steps (up to the whole run)", "[", title="Chart: zoom out",
        group="zoom", where=CHART),
    Key("less_than_sign", Action.PAN_BACK, "pan", "full-screen chart: earlier steps, a quarter of the window",
        "<", title="Chart: pan to earlier steps", group="pan", where=CHART),
    Key("greater_than_sign", Action.PAN_FORWARD, "pan",
        "full-screen chart: later steps; at the latest step it follows training again", ">",
        title="Chart: pan to later steps", group="pan", where=CHART),
    Key("0", Action.RESET_ZOOM, "all", "full-screen chart: every step, live, the value cursor on the latest",
        title="Chart: reset zoom", show=False, where=CHART),
    Key("left", Action.CHART_CURSOR_BACK, "cursor",
        "full-screen chart: the value cursor one column back (a zoomed window follows it past its edge); the "
        "lines under the chart read each run's value there", "←", group="values", where=CHART),
    Key("right", Action.CHART_CURSOR_FORWARD, "cursor", "full-screen chart: the value cursor one column on", "→",
        group="values", where=CHART),
    Key("escape,f", "close_chart", "close", "full-screen chart: close it", "esc / f", where=CHART),

    Key("h", Action.HISTOGRAM_SOURCE, "hist", "histogram source: activations, pre-activations, weight gradients, weights",
        title="Histogram source", show=False),

    Key("n", Action.NEXT_SEED, "next seed",
        "seed groups: select the next seed of the selected run's group, whose layers the histograms show",
        title="Next seed of the group", show=False),

    Key("u", Action.TOGGLE_HISTOGRAM_RANGES, "ranges",
        "histograms over one shared range (shows a collapse) or each over its layer's own (shows a deep layer's "
        "shape); the range is written under each", title="Shared / per-layer histogram ranges", show=False),

    Key("c", Action.COMPARE, "compare", "compare mode: one layer of every run in the histograms, every run in the depth view",
        title="Compare mode", show=False),

    Key("l", Action.NEXT_LAYER, "layer", "compare mode: the next layer", title="Next layer", show=False),
    Key("t", Action.TOGGLE_OVER_TIME, "over time",
        "layers page: histograms or distributions over time, where the two do not fit together",
        title="Histograms / distributions over time", show=False),
    Key("b", Action.TOGGLE_BANDS, "bands",
        "layers page: each layer's distribution over time as a heatmap or as percentile bands (0, 7, 16, 50, 84, "
        "93, 100, as TensorBoard's Distributions draws them)", title="Heatmap / percentile bands", show=False),
    Key("v", Action.NEXT_DEPTH_PANEL, "depth panel",
        "depth view: the next panel (activations, gradients, updates, Jacobian spectrum, its histogram, "
        "correlation), where the six do not fit together",
        title="Next depth-view panel", show=False),
    Key("m", Action.NEXT_METRIC, "metric", "atlas: the next metric (test accuracy, train loss, dead %, saturated %)",
        title="Next atlas metric", show=False),
    Key("enter", "confirm", "open run",
        "in the filter: keep it and go back to the table; on the atlas: select the run under the cursor for the "
        "other pages (arrow keys move over the cells)", show=False, priority=True),
    Key("plus", Action.ADD_RUN, "add run", "add a run: a copy of the selected one with the next initialiser (in a seed group, one no group trains)", "+",
        title="Add run", group="add/del", show=False),

    Key("minus", Action.REMOVE_RUN, "remove run", "remove the selected run (asked again first); in a seed group all its "
        "seeds, from any seed's row", "-", title="Remove run", group="add/del", show=False),

    Key("left", Action.CURSOR_BACK, "step back", "time cursor: the previous statistics step (in a log being viewed, or "
        "paused); the histograms, depth view, table and a mark on the curves follow it", "←",
        title="Time cursor: previous step", group="cursor", show=False, where=DASHBOARD),

    Key("right", Action.CURSOR_FORWARD, "step on", "time cursor: the next statistics step; past the latest it is live "
        "again", "→", title="Time cursor: next step", group="cursor", show=False, where=DASHBOARD),

    Key("home", Action.CURSOR_FIRST, "first step", "time cursor: the first statistics step", title="Time cursor: first step",
        group="cursor", show=False),

    Key("end", Action.CURSOR_LIVE, "live", "time cursor: back to live (the latest step)", title="Time cursor: live",
        group="cursor", show=False),

    Key("space", Action.TOGGLE_PAUSE, "pause", "pause / resume training", title="Pause / resume"),
    Key("r", Action.RESTART_RUN, "restart run", "restart the selected run; in a seed group all its seeds, from any seed's row",
        title="Restart run", group="restart", show=False),

    Key("R", Action.RESTART_ALL, "restart all", "restart every run", title="Restart all", group="restart", show=False),

    Key("d", Action.NEXT_DEVICE, "device",
        "move training to the next device (cpu, cuda:0, …), continuing from the current weights and optimiser state",
        title="Next device", show=False),

    Key("p", "choose_preset", "preset", "choose a preset: new training, with the seeds of --seeds", title="Choose preset",
        where=DASHBOARD),
    Key("s", "screenshot", "svg", "save an SVG screenshot into ./screenshots/ and say where",
        title="Save SVG screenshot", show=False),

    Key("question_mark", "help", "help", "help: every key and every initialiser's formula", "?",
        title="Keys and formulas"),
    Key("q", "quit", "quit", "quit (also ctrl+q): training stops and the run log is complete before the process exits"),
)

BINDINGS: list[Binding] = [key.binding() for key in KEYS]
# where each key's action is bound (DASHBOARD, CHART or ANYWHERE), by the name it is checked under
WHERE: dict[str, str] = {key.name: key.where for key in KEYS}


def key_rows() -> list[tuple[str, str]]:
    """(keys as written, what they do), in the table's order."""
    return [(key.shown, key.help) for key in KEYS]


def palette_entries(charting: bool = False) -> list[tuple[str, str, str]]:
    """(title, help, action as Textual runs it) of every key the command palette offers on the dashboard, or
    in the full-screen chart (``charting``)."""
    elsewhere = DASHBOARD if charting else CHART
    return [(key.title, f"{key.help[0].upper()}{key.help[1:]} ({key.shown})", key.action_text)
            for key in KEYS if key.title and key.where != elsewhere]


def markdown_table() -> str:
    """The key table as the README and the help screen print it."""
    lines = ["| key | what it does |", "|---|---|"]
    lines += [f"| {' / '.join(f'`{part}`' for part in shown.split(' / '))} | {text} |" for shown, text in key_rows()]
    return "\n".join(lines)
