"""Named experiments: plain data, so adding a preset is adding one entry."""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Any

from inittui.config import ACTIVATION_NAMES, INITIALIZER_NAMES, ConfigError, ExperimentConfig, parse_runs


@dataclass(frozen=True)
class Preset:
    name: str
    title: str
    expected: str  # the outcome it reproduces, in one line
    base: ExperimentConfig

    @property
    def runs(self) -> tuple[str, ...]:
        return tuple(spec.name for spec in self.base.runs)

    def config(self, **overrides: Any) -> ExperimentConfig:
        """The preset's experiment, with any non-None override applied."""
        chosen = {key: value for key, value in overrides.items() if value is not None}
        # --epochs and --steps replace each other rather than combine
        if "epochs" in chosen and "steps" not in chosen:
            chosen["steps"] = None
        if "steps" in chosen and "epochs" not in chosen:
            chosen["epochs"] = None
        return replace(self.base, runs=list(self.base.runs), preset=self.name, **chosen)


def _experiment(runs: str, **settings: Any) -> ExperimentConfig:
    """An experiment on the defaults (5×100, SGD 0.01, batch 128, 10 epochs) but for ``settings``."""
    return ExperimentConfig(runs=parse_runs(runs), **settings)


PRESETS: dict[str, Preset] = {
    preset.name: preset
    for preset in (
        Preset(
            name="compare",
            title="std 0.01, Xavier and He, each with tanh and with ReLU",
            expected="Xavier suits tanh and He suits ReLU; std 0.01 learns slowly or not at all in 5 layers",
            base=_experiment("normal-0.01:tanh,xavier:tanh,he:tanh,normal-0.01:relu,xavier:relu,he:relu"),
        ),
        Preset(
            name="book",
            title='"Deep Learning from Scratch" §6.2: 784-100×4-10 ReLU, SGD 0.01, 2000 random batches',
            expected="normal-0.01 stays at chance (≤ 12 %), xavier 90–93 %, he 92–95 % with the lowest loss",
            base=_experiment(
                "normal-0.01:relu,xavier:relu,he:relu",
                depth=4,
                sampling="random",
                # the book feeds pixels / 255, not standardised ones; with standardised inputs xavier reaches ~94 %
                input_scale="unit",
                epochs=None,
                steps=2000,
            ),
        ),
        Preset(
            name="seed",
            title="the article's claims: Xavier+tanh over 90 %, He+ReLU over 98 %",
            expected="he:relu ≥ 98.0 % and xavier:tanh ≥ 97.5 % test accuracy (Adam 1e-3, cosine decay, 20 epochs)",
            base=_experiment("xavier:tanh,he:relu", optimizer="adam", lr=1e-3, lr_schedule="cosine", epochs=20),
        ),
        Preset(
            name="deep",
            title="He et al. 2015: Xavier-style init stalls a 30-layer ReLU net, He trains it",
            expected="glorot and xavier stall at chance (≤ 15 %), he reaches ≥ 90 % in 3 epochs",
            base=_experiment("glorot:relu,xavier:relu,he:relu", depth=30, epochs=3),
        ),
        Preset(
            name="symmetry",
            title="why weights must be random: one constant for every weight",
            expected="with constant init every unit of a layer stays identical; xavier:tanh learns",
            # 1 epoch of SGD 0.01 leaves xavier:tanh just under 90 % (89.2 %, seed 0); 3 epochs reach ~93 %
            base=_experiment("constant:tanh,xavier:tanh", epochs=3),
        ),
        Preset(
            name="atlas",
            title="every initialiser × every activation: 60 runs of 5×100, SGD 0.01, 3 epochs",
            expected="sigmoid stays near chance under plain SGD; normal-1 diverges with unbounded activations; "
            "constant never breaks symmetry",
            base=_experiment(",".join(f"{i}:{a}" for i in INITIALIZER_NAMES for a in ACTIVATION_NAMES), epochs=3),
        ),
    )
}


def get_preset(name: str) -> Preset:
    try:
        return PRESETS[name]
    except KeyError:
        raise ConfigError(f"unknown preset {name!r}; choose from {', '.join(PRESETS)}") from None
