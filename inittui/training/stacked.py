"""The runs of an experiment as one stack of tensors on the training device, and the training step over it.

:class:`StackedRuns` owns every run's weights, biases and optimiser state, stacked on a leading run
dimension, with the buffers each step writes its losses and accuracies into. Runs are kept in *stack order*,
by seed group, then by activation (see :func:`inittui.training.model.stack_order`); callers name runs by id and keep their own
order. On CUDA the step can be captured once as a CUDA graph and replayed: one launch instead of dozens of
small kernels, each of which costs more to dispatch from Python than to compute.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
import torch

from inittui.training import devices
from inittui.core.config import ExperimentConfig
from inittui.core.events import RunRecord
from inittui.training.model import (
    ActivationSlices,
    ForwardRecord,
    forward,
    initial_weights,
    per_run_loss_and_correct,
    run_seed,
    stack_order,
)
from inittui.training.optim import BatchedOptimizer

# a graph's first replay must match an eager step from the same state this closely
GRAPH_CHECK_RTOL = 1e-3
GRAPH_CHECK_ATOL = 1e-5


class GraphCaptureFailed(RuntimeError):
    """A CUDA graph of the training step could not be captured, or its first replay did not reproduce the
    eager step; the step was trained eagerly."""


class StackedRuns:
    """Every run's parameters and optimiser state, and the buffers its training steps write to.

    ``losses`` and ``accuracies`` (``[capacity, runs]``) receive one row per step at the device-side
    ``slot``; rows of runs that did not train at a step (diverged, or done before the others) hold NaN.
    """

    def __init__(
        self,
        config: ExperimentConfig,
        runs: Sequence[RunRecord],
        device: torch.device,
        lsuv_batch: torch.Tensor,
        total_steps: int,
        buffer_steps: int,
    ) -> None:
        self.config = config
        self.device = device
        self.lsuv_batch = lsuv_batch
        self.buffer_steps = buffer_steps
        self.runs = self._ordered(runs)
        sizes = config.layer_sizes
        weights = [torch.empty(len(self.runs), n_out, n_in) for n_in, n_out in zip(sizes[:-1], sizes[1:])]
        biases = [torch.empty(len(self.runs), n_out) for n_out in sizes[1:]]
        for position, run in enumerate(self.runs):
            run_weights, run_biases = self._fresh(run)
            for stacked, fresh in zip(weights + biases, run_weights + run_biases):
                stacked[position] = fresh
        self.weights = [w.to(device).requires_grad_() for w in weights]
        self.biases = [b.to(device).requires_grad_() for b in biases]
        self.optimizer = BatchedOptimizer(config.optimizer, config.lr, config.lr_schedule, total_steps, self.parameters)
        self.active = torch.ones(len(self.runs), device=device)
        # every run trains and every loss so far was finite: the step may skip masking frozen runs
        self.all_active = True
        self._replay: Callable[[], None] | None = None
        self._replay_batch: tuple[torch.Tensor | None, torch.Tensor | None] = (None, None)
        self._arranged()

    # ------------------------------------------------------------------ the run set
    @property
    def parameters(self) -> list[torch.Tensor]:
        return [*self.weights, *self.biases]

    @property
    def ids(self) -> list[int]:
        """Run ids in stack order."""
        return [run.id for run in self.runs]

    def position(self, run_id: int) -> int:
        return self._positions[run_id]

    def positions(self, run_ids: Sequence[int]) -> list[int]:
        return [self._positions[run_id] for run_id in run_ids]

    def _group(self, run: RunRecord) -> int:
        """Which seed group a run trains in: its seed's place in the experiment's seeds."""
        return self.config.run_seeds.index(run.seed_or(self.config.seed))

    def _ordered(self, runs: Sequence[RunRecord]) -> list[RunRecord]:
        order = stack_order([run.spec.activation for run in runs], [self._group(run) for run in runs])
        return [runs[p] for p in order]

    def _fresh(self, run: RunRecord) -> tuple[list[torch.Tensor], list[torch.Tensor]]:
        seed = run_seed(run.seed_or(self.config.seed), run.spec, run.draw)
        return initial_weights(run.spec, self.config.layer_sizes, seed, self.lsuv_batch)

    def _index(self, positions: Sequence[int]) -> torch.Tensor:
        # through pinned memory: building an index on CUDA must not wait for the GPU
        return devices.to_device(torch.tensor(positions, dtype=torch.long), self.device)

    def _state_tensors(self) -> list[torch.Tensor]:
        """Everything with a run dimension first."""
        return [*self.weights, *self.biases, *self.optimizer.state_tensors(), self.active]

    def _set_state_tensors(self, tensors: Sequence[torch.Tensor]) -> None:
        layers = len(self.weights)
        self.weights = [t.detach().requires_grad_() for t in tensors[:layers]]
        self.biases = [t.detach().requires_grad_() for t in tensors[layers : 2 * layers]]
        self.optimizer.set_state_tensors(tensors[2 * layers : -1])
        self.active = tensors[-1]

    @property
    def mask_every_step(self) -> bool:
        # on CUDA, asking whether every loss is finite would wait for the GPU: frozen runs are masked at every step
        return self.device.type == "cuda"

    def _arranged(self) -> None:
        """Everything derived from the stack order; the step buffers start empty, and a captured graph
        (which refers to the old tensors) is dropped."""
        self._replay = None
        self._positions = {run.id: position for position, run in enumerate(self.runs)}
        self.activations = ActivationSlices([run.spec.activation for run in self.runs])
        # runs per seed group, each group a block of the stack; a group may have lost all its runs
        groups = [self._group(run) for run in self.runs]
        self.group_sizes = [groups.count(group) for group in range(len(self.config.run_seeds))]
        runs = len(self.runs)
        self.losses = torch.full((self.buffer_steps, runs), torch.nan, device=self.device)
        self.accuracies = torch.full((self.buffer_steps, runs), torch.nan, device=self.device)
        self.slot = torch.zeros(1, dtype=torch.long, device=self.device)

    @torch.no_grad()
    def _rearrange(self, runs: list[RunRecord]) -> None:
        """Adopt ``runs`` (the same run ids), moving state so that the stack stays grouped by activation."""
        ordered = self._ordered(runs)
        keep = self.positions([d.id for d in ordered])
        if keep != list(range(len(ordered))):
            index = self._index(keep)
            self._set_state_tensors([t.detach().index_select(0, index) for t in self._state_tensors()])
        self.runs = ordered
        self._arranged()

    @torch.no_grad()
    def reinitialise(self, runs: Sequence[RunRecord]) -> None:
        """Fresh weights and optimiser state for these runs (their next draw, or a new spec); the others are
        untouched. A run whose activation changed moves to its activation's slice."""
        by_id = {run.id: run for run in runs}
        self._rearrange([by_id.get(run.id, run) for run in self.runs])
        positions = self.positions(list(by_id))
        for position in positions:
            weights, biases = self._fresh(self.runs[position])
            for stacked, fresh in zip(self.parameters, weights + biases):
                stacked[position].copy_(fresh)
        index = self._index(positions)
        self.optimizer.reset_runs(index)
        self.active.index_fill_(0, index, 1.0)
        self._refresh_all_active()

    @torch.no_grad()
    def add(self, run: RunRecord) -> None:
        weights, biases = self._fresh(run)
        fresh = [t.unsqueeze(0).to(self.device) for t in weights + biases]
        zeros = [torch.zeros_like(t[:1]) for t in self.optimizer.state_tensors()]
        one = torch.ones(1, device=self.device)
        self._set_state_tensors(
            [torch.cat([t.detach(), extra]) for t, extra in zip(self._state_tensors(), [*fresh, *zeros, one])]
        )
        self.runs.append(run)
        self._positions[run.id] = len(self.runs) - 1
        self._rearrange(list(self.runs))

    @torch.no_grad()
    def remove(self, run_id: int) -> None:
        keep = [p for p in range(len(self.runs)) if p != self.position(run_id)]
        index = self._index(keep)
        self._set_state_tensors([t.detach().index_select(0, index) for t in self._state_tensors()])
        self.runs = [self.runs[p] for p in keep]
        self._arranged()
        self._refresh_all_active()

    @torch.no_grad()
    def deactivate(self, run_ids: Sequence[int]) -> None:
        """These runs stop training (done, or diverged) and keep their weights as they are."""
        if run_ids:
            self.active.index_fill_(0, self._index(self.positions(run_ids)), 0.0)
            self.all_active = False
            self._replay = None

    def _refresh_all_active(self) -> None:
        self.all_active = bool((self.active != 0).all())

    def to(self, device: torch.device) -> None:
        """Move every tensor to ``device``, keeping weights and optimiser state."""
        self._set_state_tensors([t.detach().to(device) for t in self._state_tensors()])
        self.device = device
        self._arranged()
        self._refresh_all_active()

    def run_weights(self, run_id: int) -> tuple[list[torch.Tensor], list[torch.Tensor]]:
        """CPU copies of one run's weights and biases."""
        position = self.position(run_id)
        return (
            [w[position].detach().cpu().clone() for w in self.weights],
            [b[position].detach().cpu().clone() for b in self.biases],
        )

    # ------------------------------------------------------------------ computing
    def forward(self, x: torch.Tensor, record: ForwardRecord | None = None) -> torch.Tensor:
        """Logits of every run for ``x [batch, n_in]`` shared by all, or ``x [groups, batch, n_in]``, one per seed group."""
        return forward(x, self.weights, self.biases, self.activations, record, self.group_sizes)

    def train_step(self, x: torch.Tensor, y: torch.Tensor, record: ForwardRecord | None = None) -> None:
        """One step of every run on the batch ``(x, y)`` (``[groups, batch, …]``, each seed group's own, or shared
        ``[batch, …]``): forward, backward, update, and the step's losses and
        accuracies written at ``slot`` (which moves on by one). A run whose loss is not finite is frozen where
        it stands. With ``record``, also what the layer statistics need."""
        logits = self.forward(x, record)
        losses, correct = per_run_loss_and_correct(logits, y, self.group_sizes)
        losses_seen = losses.detach()
        self.active.mul_(torch.isfinite(losses_seen))
        if self.mask_every_step:
            guard = True
        else:
            self.all_active = self.all_active and bool(self.active.all())
            guard = not self.all_active
        wanted = self.parameters + (record.activations if record is not None else [])
        grads = torch.autograd.grad(losses.sum(), wanted)
        grads, activation_grads = list(grads[: len(self.parameters)]), grads[len(self.parameters) :]
        if record is not None:
            hidden = len(self.weights) - 1
            record.activation_grads = list(activation_grads)
            record.weights = [w.detach().clone() for w in self.weights[:hidden]]
            # as computed: a guarded update zeroes frozen runs' gradients in place
            record.weight_grads = [g.clone() if guard else g for g in grads[:hidden]]
        self.optimizer.step(self.parameters, grads, self.active, guard)
        accuracy = correct / y.shape[-1]
        if guard:
            trained = self.active != 0
            losses_seen = torch.where(trained, losses_seen, torch.nan)
            accuracy = torch.where(trained, accuracy, torch.nan)
        self.losses.index_copy_(0, self.slot, losses_seen.unsqueeze(0))
        self.accuracies.index_copy_(0, self.slot, accuracy.unsqueeze(0))
        self.slot.add_(1)

    @torch.no_grad()
    def take_progress(self, steps: int) -> devices.HostCopy:
        """The first ``steps`` rows of losses and accuracies, each run's step count and which runs are still
        active, on their way to the host; the buffers start again at row 0."""
        taken = devices.HostCopy([self.losses[:steps], self.accuracies[:steps], self.optimizer.steps, self.active])
        self.slot.zero_()
        return taken

    @torch.no_grad()
    def evaluate(self, images: torch.Tensor, labels: torch.Tensor, chunk: int) -> tuple[torch.Tensor, torch.Tensor]:
        """Accuracy and mean loss ``[runs]`` of every run on ``images``, in chunks of ``chunk`` samples."""
        correct = torch.zeros(len(self.runs), device=self.device)
        loss_sum = torch.zeros(len(self.runs), device=self.device)
        for start in range(0, len(labels), chunk):
            batch = labels[start : start + chunk]
            losses, hits = per_run_loss_and_correct(self.forward(images[start : start + chunk]), batch, self.group_sizes)
            loss_sum += losses * len(batch)
            correct += hits
        return correct / len(labels), loss_sum / len(labels)

    # ------------------------------------------------------------------ CUDA graphs
    def graph_step(self, x: torch.Tensor, y: torch.Tensor) -> None:
        """:meth:`train_step` on the batch in ``(x, y)``, replayed from a CUDA graph captured (and checked) at
        the first call after any change to the run set. Raises as :meth:`capture` does."""
        if self._replay is None or self._replay_batch[0] is not x or self._replay_batch[1] is not y:
            self._replay = self.capture(x, y)
            self._replay_batch = (x, y)
        else:
            self._replay()

    def capture(self, x: torch.Tensor, y: torch.Tensor) -> Callable[[], None]:
        """Train one step on the batch in ``(x, y)`` and return a CUDA graph that replays that step.

        Before the graph is trusted, its first replay is checked against an eager step from the same state:
        losses, accuracies, parameters and optimiser state must agree. If capture raises or the check fails,
        the state is left as the eager step made it and GraphCaptureFailed is raised: either way exactly one
        step was trained. Refill ``x`` and ``y`` in place before every replay.
        """
        state = [*self._state_tensors(), self.losses, self.accuracies, self.slot]
        before = [t.detach().clone() for t in state]

        def step() -> None:
            self.train_step(x, y)

        # the eager reference, also the warm-up capture needs
        devices.run_on_side_stream(step)
        reference = [t.detach().clone() for t in state]
        try:
            _restore(state, before)
            replay = devices.capture_graph(step)
            replay()
            differing = [name for name, got, want in zip(_state_names(self), state, reference) if not _close(got, want)]
        except Exception as error:
            _restore(state, reference)
            raise GraphCaptureFailed(f"capture failed ({type(error).__name__}: {error})") from error
        if differing:
            _restore(state, reference)
            raise GraphCaptureFailed(f"a replay gave other {', '.join(dict.fromkeys(differing))} than an eager step")
        return replay


@torch.no_grad()
def _restore(state: Sequence[torch.Tensor], values: Sequence[torch.Tensor]) -> None:
    # in place: a graph reads and writes these very tensors
    for tensor, value in zip(state, values):
        tensor.detach().copy_(value)


def _close(got: torch.Tensor, want: torch.Tensor) -> bool:
    got = got.detach()
    if not got.is_floating_point():
        return torch.equal(got, want)
    return torch.allclose(got, want, rtol=GRAPH_CHECK_RTOL, atol=GRAPH_CHECK_ATOL, equal_nan=True)


def _state_names(stack: StackedRuns) -> list[str]:
    layers = len(stack.weights)
    optimizer = ["step counts", *["optimiser state"] * (len(stack.optimizer.state_tensors()) - 1)]
    return [*["weights"] * layers, *["biases"] * layers, *optimizer, "active runs", "losses", "accuracies", "buffer slot"]
