"""Several MLPs of one architecture, stacked over a leading run dimension and trained as one computation.

Weights are ``[runs, n_out, n_in]`` (torch's layout per run); one batched matmul per layer serves every run,
and each run may have its own activation.
"""

from __future__ import annotations

import zlib
from collections.abc import Sequence
from dataclasses import dataclass, field

import torch
import torch.nn.functional as F

from inittui.activations import Activation, get_activation
from inittui.config import RunSpec
from inittui.initializers import get_initializer, lsuv_rescale_, needs_data


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
    """Per hidden layer, what the statistics look at: pre-activations and activations ``[runs, batch, width]``."""

    preactivations: list[torch.Tensor] = field(default_factory=list)
    activations: list[torch.Tensor] = field(default_factory=list)


class ActivationGroups:
    """Each run's activation, applied with one call per distinct function over the whole stack."""

    def __init__(self, activation_names: Sequence[str], device: torch.device) -> None:
        self.per_run: list[Activation] = [get_activation(name) for name in activation_names]
        names = list(dict.fromkeys(activation_names))
        self.first = get_activation(names[0])
        # masks [runs, 1, 1] selecting the runs of every further activation
        self.others: list[tuple[Activation, torch.Tensor]] = [
            (
                get_activation(name),
                torch.tensor([n == name for n in activation_names], device=device).view(-1, 1, 1),
            )
            for name in names[1:]
        ]

    def apply(self, z: torch.Tensor) -> torch.Tensor:
        # elementwise functions on a few thousand values cost less than gathering each group's slice
        out = self.first.function(z)
        for activation, mask in self.others:
            out = torch.where(mask, activation.function(z), out)
        return out


def forward(
    x: torch.Tensor,
    weights: Sequence[torch.Tensor],
    biases: Sequence[torch.Tensor],
    groups: ActivationGroups,
    record: ForwardRecord | None = None,
) -> torch.Tensor:
    """Logits ``[runs, batch, classes]`` of every run for the shared input ``x [batch, n_in]``."""
    hidden = x.unsqueeze(0)
    last = len(weights) - 1
    for index, (weight, bias) in enumerate(zip(weights, biases)):
        # [R, B, n_in] @ [R, n_in, n_out]: broadcasting the shared input costs no copy on the first layer
        z = torch.matmul(hidden, weight.transpose(1, 2)) + bias.unsqueeze(1)
        if index == last:
            return z
        hidden = groups.apply(z)
        if record is not None:
            record.preactivations.append(z.detach())
            record.activations.append(hidden.detach())
    raise ValueError("a network needs at least one layer")


def per_run_loss_and_correct(logits: torch.Tensor, labels: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """Mean cross-entropy ``[runs]`` and number of correct predictions ``[runs]``."""
    runs, batch, classes = logits.shape
    losses = F.cross_entropy(logits.reshape(runs * batch, classes), labels.repeat(runs), reduction="none")
    correct = (logits.argmax(dim=2) == labels).sum(dim=1)
    return losses.view(runs, batch).mean(dim=1), correct
