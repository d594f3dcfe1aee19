"""SGD, momentum and Adam over parameters stacked on a leading run dimension.

torch.optim keeps one step count and one state per parameter tensor, but here one tensor holds every run,
and restarting one run must reset only that run's slice (including Adam's step count). The update rules are
torch's own (SGD with momentum as torch.optim.SGD, Adam as torch.optim.Adam), so a run trained here follows
the trajectory torch.optim would give it alone; tests check that to float tolerance.
"""

from __future__ import annotations

import math

import torch

MOMENTUM = 0.9
ADAM_BETAS = (0.9, 0.999)
ADAM_EPS = 1e-8


class BatchedOptimizer:
    def __init__(self, kind: str, params: list[torch.Tensor], runs: int) -> None:
        self.kind = kind
        self.params = params
        device = params[0].device
        # per-run number of updates taken (Adam's bias correction and the lr schedule use it)
        self.steps = torch.zeros(runs, device=device)
        self.first = [torch.zeros_like(p) for p in params] if kind in ("momentum", "adam") else []
        self.second = [torch.zeros_like(p) for p in params] if kind == "adam" else []

    def state_tensors(self) -> list[torch.Tensor]:
        return [self.steps, *self.first, *self.second]

    def set_state_tensors(self, tensors: list[torch.Tensor]) -> None:
        count = len(self.first)
        self.steps = tensors[0]
        self.first = tensors[1 : 1 + count]
        self.second = tensors[1 + count :]

    @torch.no_grad()
    def reset_runs(self, index: torch.Tensor) -> None:
        """Fresh optimiser state for the runs in ``index`` only."""
        for tensor in self.state_tensors():
            tensor.index_fill_(0, index, 0)

    @torch.no_grad()
    def step(self, lr: torch.Tensor, active: torch.Tensor) -> None:
        """One update; ``lr`` is the per-run learning rate ``[runs]``; runs not ``active`` do not move."""
        self.steps += active
        lr = lr * active
        for index, param in enumerate(self.params):
            shape = (-1,) + (1,) * (param.dim() - 1)
            # a frozen (diverged) run may have non-finite gradients: keep them out of the state
            grad = torch.where(active.view(shape).bool(), param.grad, 0.0)
            run_lr = lr.view(shape)
            if self.kind == "sgd":
                param.sub_(run_lr * grad)
            elif self.kind == "momentum":
                buffer = self.first[index]
                buffer.mul_(MOMENTUM).add_(grad)
                param.sub_(run_lr * buffer)
            else:
                beta1, beta2 = ADAM_BETAS
                mean, square = self.first[index], self.second[index]
                mean.lerp_(grad, 1 - beta1)
                square.mul_(beta2).addcmul_(grad, grad, value=1 - beta2)
                # clamp keeps runs that have not stepped yet (step 0) finite; their lr is 0 anyway
                steps = self.steps.clamp(min=1).view(shape)
                bias_correction1 = 1 - beta1**steps
                bias_correction2 = 1 - beta2**steps
                denominator = (square.sqrt() / bias_correction2.sqrt()).add_(ADAM_EPS)
                param.sub_(run_lr / bias_correction1 * mean / denominator)


def scheduled_lr(base_lr: float, schedule: str, steps: torch.Tensor, total_steps: int) -> torch.Tensor:
    """Per-run learning rate for each run's own step count (a restarted run starts its schedule again)."""
    if schedule == "constant":
        return torch.full_like(steps, base_lr)
    progress = (steps / max(total_steps, 1)).clamp(max=1.0)
    return base_lr * 0.5 * (1.0 + torch.cos(math.pi * progress))
