"""Several MLPs of one architecture, stacked over a leading run dimension and trained as one computation.

Weights are ``[runs, n_out, n_in]`` (torch's layout per run); one batched matmul per layer serves every run,
and each run may have its own activation. Runs are kept in *stack order*, grouped by activation, so that each
activation is applied once to a contiguous slice.
"""

from __future__ import annotations

import zlib
from collections.abc import Sequence
from dataclasses import dataclass, field

import torch
import torch.nn.functional as F

from inittui.science.activations import Activation, get_activation
from inittui.core.config import ACTIVATION_NAMES, RunSpec
from inittui.science.initializers import get_initializer, lsuv_rescale_, needs_data


def run_seed(seed: int, spec: RunSpec, generation: int) -> int:
    """A run's weights depend on the experiment seed, its spec and how often it was restarted, not on the
    other runs: ``he:relu`` starts from the same weights whatever it is compared with."""
    return zlib.crc32(f"{seed}/{spec.name}/{generation}".encode())


def initial_weights(
    spec: RunSpec, layer_sizes: Sequence[int], seed: int, lsuv_batch: torch.Tensor | None
) -> tuple[list[torch.Tensor], list[torch.Tensor]]:
    """Fresh CPU weights ``[n_out, n_in]`` and zero biases for one run (CPU, so every device gets the same)."""
    generator = torch.Generator().manual_seed(seed)
    activation = get_activation(spec.activation)
    initializer = get_initializer(spec.init)
    weights, biases = [], []
    for n_in, n_out in zip(layer_sizes[:-1], layer_sizes[1:]):
        weight = torch.empty(n_out, n_in)
        initializer.fill(weight, activation, generator)
        weights.append(weight)
        biases.append(torch.zeros(n_out))
    if needs_data(spec.init):
        if lsuv_batch is None:
            raise ValueError("LSUV needs a data batch")
        lsuv_rescale_(weights, biases, activation, lsuv_batch.cpu())
    return weights, biases


@dataclass
class ForwardRecord:
    """What the layer statistics look at, per hidden layer, all ``[runs, ...]`` in stack order.

    The forward pass records the pre-activations and activations ``[runs, batch, width]`` (the activations
    still attached to the autograd graph, so that the loss's gradient with respect to them can be asked
    for); the training step adds that gradient, the weights before its update and their gradients.
    """

    preactivations: list[torch.Tensor] = field(default_factory=list)
    activations: list[torch.Tensor] = field(default_factory=list)
    activation_grads: list[torch.Tensor] = field(default_factory=list)
    weights: list[torch.Tensor] = field(default_factory=list)
    weight_grads: list[torch.Tensor] = field(default_factory=list)


def stack_order(activation_names: Sequence[str], groups: Sequence[int] | None = None) -> list[int]:
    """Positions ordered so that each seed group's runs (``groups``: each run's group, default all in one) are
    one contiguous block, and within a block every activation's runs one contiguous slice (ACTIVATION_NAMES
    order; runs of one activation keep their relative order). A block is then laid out exactly as the
    experiment of that group's seed alone lays out its runs, which the bit-for-bit identity of the two needs."""
    group_of = groups or [0] * len(activation_names)
    return sorted(
        range(len(activation_names)),
        key=lambda position: (group_of[position], ACTIVATION_NAMES.index(activation_names[position])),
    )


class ActivationSlices:
    """Each run's activation, for runs in stack order: every function runs once on each slice of consecutive runs
    that share it (once in all without seed groups; once per seed group with them)."""

    def __init__(self, activation_names: Sequence[str]) -> None:
        self.per_run: list[Activation] = [get_activation(name) for name in activation_names]
        # (activation, number of runs) for each slice, in stack order
        self.slices: list[tuple[Activation, int]] = []
        for activation in self.per_run:
            if self.slices and self.slices[-1][0] is activation:
                self.slices[-1] = (activation, self.slices[-1][1] + 1)
            else:
                self.slices.append((activation, 1))
        self._sizes = [size for _, size in self.slices]

    def apply(self, z: torch.Tensor) -> torch.Tensor:
        if len(self.slices) == 1:
            return self.per_run[0].function(z)
        # split's backward is one cat of the slices' gradients (slicing's would zero-fill a full tensor each)
        parts = z.split(self._sizes)
        return torch.cat([activation.function(part) for (activation, _), part in zip(self.slices, parts)])


def forward(
    x: torch.Tensor,
    weights: Sequence[torch.Tensor],
    biases: Sequence[torch.Tensor],
    activations: ActivationSlices,
    record: ForwardRecord | None = None,
    group_sizes: Sequence[int] | None = None,
) -> torch.Tensor:
    """Logits ``[runs, batch, classes]`` of every run, for ``x [batch, n_in]`` shared by every run or
    ``x [groups, batch, n_in]``, group g's input for the next ``group_sizes[g]`` runs of the stack."""
    runs, width, n_in = weights[0].shape
    sizes = list(group_sizes or [runs])
    inputs = [x] * len(sizes) if x.dim() == 2 else list(x)
    # the runs of a group see the same input: their first layer is one matrix product, [B, n_in] @ [n_in, k·width],
    # the very product their seed's experiment alone computes (a bmm over per-run inputs would round differently)
    blocks = [
        torch.addmm(bias.reshape(-1), group_x, weight.reshape(size * width, n_in).t())
        .view(len(group_x), size, width)
        .transpose(0, 1)
        for group_x, weight, bias, size in zip(inputs, weights[0].split(sizes), biases[0].split(sizes), sizes)
    ]
    z = blocks[0].contiguous() if len(blocks) == 1 else torch.cat(blocks)
    for weight, bias in zip(weights[1:], biases[1:]):
        hidden = activations.apply(z)
        if record is not None:
            record.preactivations.append(z.detach())
            record.activations.append(hidden)
        z = torch.baddbmm(bias.unsqueeze(1), hidden, weight.transpose(1, 2))
    return z


def per_run_loss_and_correct(
    logits: torch.Tensor, labels: torch.Tensor, group_sizes: Sequence[int] | None = None
) -> tuple[torch.Tensor, torch.Tensor]:
    """Mean cross-entropy ``[runs]`` and number of correct predictions ``[runs]``, for ``labels [batch]`` shared
    by every run or ``labels [groups, batch]``, group g's for the next ``group_sizes[g]`` runs."""
    runs, batch, classes = logits.shape
    sizes = list(group_sizes or [runs])
    groups = [labels] * len(sizes) if labels.dim() == 1 else list(labels)
    per_run = torch.cat([group_labels.repeat(size) for group_labels, size in zip(groups, sizes)])
    losses = F.cross_entropy(logits.reshape(runs * batch, classes), per_run, reduction="none")
    correct = (logits.argmax(dim=2) == per_run.view(runs, batch)).sum(dim=1)
    return losses.view(runs, batch).mean(dim=1), correct
