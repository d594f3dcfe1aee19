"""SGD, momentum and Adam over parameters stacked on a leading run dimension.

torch.optim keeps one step count and one state per parameter tensor, but here one tensor holds every run,
and restarting one run must reset only that run's slice (including Adam's step count and the learning-rate
schedule). The update rules are torch's own (SGD with momentum as torch.optim.SGD, Adam as torch.optim.Adam),
so a run trained here follows the trajectory torch.optim would give it alone; tests check that to float
tolerance. Updates use torch's foreach kernels: one call per rule over every parameter tensor.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import torch

MOMENTUM = 0.9
ADAM_BETAS = (0.9, 0.999)
ADAM_EPS = 1e-8


class BatchedOptimizer:
    """The optimiser state of stacked parameters; the parameters themselves are passed to :meth:`step`."""

    def __init__(
        self, kind: str, lr: float, schedule: str, total_steps: int, params: Sequence[torch.Tensor]
    ) -> None:
        self.kind = kind
        self.lr = lr
        self.schedule = schedule
        self.total_steps = total_steps
        # per-run number of updates taken (Adam's bias correction and the lr schedule use it)
        self.steps = torch.zeros(params[0].shape[0], device=params[0].device)
        self.first = [torch.zeros_like(p) for p in params] if kind in ("momentum", "adam") else []
        self.second = [torch.zeros_like(p) for p in params] if kind == "adam" else []

    def state_tensors(self) -> list[torch.Tensor]:
        return [self.steps, *self.first, *self.second]

    def set_state_tensors(self, tensors: Sequence[torch.Tensor]) -> None:
        count = len(self.first)
        self.steps = tensors[0]
        self.first = list(tensors[1 : 1 + count])
        self.second = list(tensors[1 + count :])

    @torch.no_grad()
    def reset_runs(self, index: torch.Tensor) -> None:
        """Fresh optimiser state for the runs at positions ``index`` only."""
        for tensor in self.state_tensors():
            tensor.index_fill_(0, index, 0)

    def _rates(self, active: torch.Tensor | None) -> float | torch.Tensor:
        """The learning rate: one number while every run is active on a constant schedule, else per run
        ``[runs]``, from each run's own step count (a restarted run starts its schedule again), 0 where frozen."""
        if self.schedule == "constant":
            return self.lr if active is None else self.lr * active
        progress = (self.steps / max(self.total_steps, 1)).clamp(max=1.0)
        rates = self.lr * 0.5 * (1.0 + torch.cos(math.pi * progress))
        return rates if active is None else rates * active

    @torch.no_grad()
    def step(
        self,
        params: Sequence[torch.Tensor],
        grads: Sequence[torch.Tensor],
        active: torch.Tensor,
        guard: bool,
    ) -> None:
        """One update of every run. With ``guard``, runs whose ``active`` is 0 do not move, and their gradients
        (which may not be finite: a diverged run) are zeroed in place first; without it, every run is active
        and its gradients finite, and the update skips that masking."""
        # plain SGD on a constant schedule moves a run by its gradient alone: a zeroed one is no update
        stateless = self.kind == "sgd" and self.schedule == "constant"
        rates = self._rates(active if guard and not stateless else None)
        if guard:
            # on the CPU only the frozen runs' slices are written; on an accelerator their positions are not
            # asked for (that would wait for the device), and every slice is masked
            zero_frozen(grads, active, by_position=active.device.type == "cpu")
            self.steps.add_(active)
        else:
            self.steps.add_(1.0)
        if self.kind == "sgd":
            updates = list(grads)
        elif self.kind == "momentum":
            torch._foreach_mul_(self.first, MOMENTUM)
            torch._foreach_add_(self.first, grads)
            updates = self.first
        else:
            beta1, beta2 = ADAM_BETAS
            torch._foreach_lerp_(self.first, grads, 1 - beta1)
            torch._foreach_mul_(self.second, beta2)
            torch._foreach_addcmul_(self.second, grads, grads, value=1 - beta2)
            # clamp keeps runs that have not stepped yet (step 0) finite; their rate is 0 anyway
            steps = self.steps.clamp(min=1)
            bias_correction1 = 1 - beta1**steps
            bias_correction2 = (1 - beta2**steps).sqrt()
            updates = []
            for mean, square in zip(self.first, self.second):
                shape = (-1,) + (1,) * (mean.dim() - 1)
                denominator = (square.sqrt() / bias_correction2.view(shape)).add_(ADAM_EPS)
                updates.append(mean / bias_correction1.view(shape) / denominator)
        if isinstance(rates, float):
            torch._foreach_add_(list(params), updates, alpha=-rates)
        else:
            for param, update in zip(params, updates):
                param.addcmul_(rates.view((-1,) + (1,) * (param.dim() - 1)), update, value=-1.0)


def zero_frozen(grads: Sequence[torch.Tensor], active: torch.Tensor, by_position: bool) -> None:
    """Zero, in place, the gradients of the runs whose ``active`` is 0: ``by_position`` writes only their
    slices, else a mask covers every slice."""
    if by_position:
        frozen = torch.nonzero(active == 0).squeeze(1)
        for grad in grads:
            grad.index_fill_(0, frozen, 0.0)
        return
    frozen_mask = active == 0
    for grad in grads:
        grad.masked_fill_(frozen_mask.view((-1,) + (1,) * (grad.dim() - 1)), 0.0)
