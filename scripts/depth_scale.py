"""The measured depth scale of correlations beside the mean field's, from a run log's spectrum at initialisation.

The correlation c_l of two images' pre-activations approaches its fixed point c* as |c_l - c*| ∝ exp(-l / xi)
(Poole et al. 2016). xi is fitted, by least squares of ln |c_l - c*| against l, to three curves per run of the
log's first spectrum event (step 0: the weights as initialised):

- measured: the correlation the engine measured on its 32 spectrum images;
- c-map: the mean-field correlation map iterated from the same images (the event's predicted correlation);
- xi_c: the asymptotic depth scale -1/ln chi_c at c* (inf at the edge of chaos), as the event logs it.

c* is the predicted one; the fit is inittui.science.spectrum.fitted_depth_scale.

    inittui train --headless --preset isometry --steps 1 --seeds 0-9 --log-dir DIR
    python3 scripts/depth_scale.py DIR/<run> [--json]
"""

from __future__ import annotations

import argparse
import json
import math
from collections import defaultdict
from pathlib import Path

from inittui.core.events import ExperimentStarted, JacobianSpectra, RunSpectrum
from inittui.runlog.reader import read_events
from inittui.science.spectrum import fitted_depth_scale


def depth_scales(spectrum: RunSpectrum) -> dict[str, float | None]:
    """The three depth scales of one run's spectrum (see the module's docstring)."""
    if spectrum.c_star is None:
        return {"measured": None, "c-map": None, "xi_c": spectrum.xi_c}
    return {"measured": fitted_depth_scale(spectrum.correlation, spectrum.c_star),
            "c-map": fitted_depth_scale(spectrum.predicted_correlation, spectrum.c_star),
            "xi_c": spectrum.xi_c}


def by_run(run_dir: Path) -> dict[str, list[tuple[int, RunSpectrum]]]:
    """(seed, spectrum at initialisation) of every run of the log, grouped by init:activation."""
    events = read_events(run_dir)
    started = next(event for event in events if isinstance(event, ExperimentStarted))
    first = next(event for event in events if isinstance(event, JacobianSpectra))
    if first.step != 0:
        raise SystemExit(f"{run_dir}: its first spectrum is of step {first.step}, not of the initial weights")
    records = {record.id: record for record in started.runs}
    seed = int(started.config.get("seed", 0))
    grouped: dict[str, list[tuple[int, RunSpectrum]]] = defaultdict(list)
    for run_id, spectrum in zip(first.run_ids, first.spectra):
        grouped[records[run_id].name].append((records[run_id].seed_or(seed), spectrum))
    return grouped


def _number(value: float | None) -> str:
    return "–" if value is None else "inf" if math.isinf(value) else f"{value:.3g}"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("run_dir", type=Path)
    parser.add_argument("--json", action="store_true", help="one JSON object: run -> seed -> the three scales")
    args = parser.parse_args()
    grouped = by_run(args.run_dir)
    if args.json:
        print(json.dumps({name: {str(seed): {**depth_scales(spectrum), "c_star": spectrum.c_star,
                                             "correlation_last": spectrum.correlation[-1]}
                                 for seed, spectrum in runs} for name, runs in grouped.items()}))
        return
    for name, runs in grouped.items():
        print(f"{name}: c* {_number(runs[0][1].c_star)}, xi_c {_number(runs[0][1].xi_c)}")
        for seed, spectrum in runs:
            scales = depth_scales(spectrum)
            print(f"  seed {seed}: measured {_number(scales['measured'])}  c-map {_number(scales['c-map'])}  "
                  f"(c at layer {len(spectrum.correlation)}: {_number(spectrum.correlation[-1])} measured, "
                  f"{_number(spectrum.predicted_correlation[-1] if spectrum.predicted_correlation else None)} c-map)")


if __name__ == "__main__":
    main()
