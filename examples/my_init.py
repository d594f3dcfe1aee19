"""Two initialisers of one's own, for ``inittui --init-file examples/my_init.py``.

    inittui train --headless --init-file examples/my_init.py --runs critical-tanh:tanh,sparse:tanh,he:relu

Each is a function ``(weight, *, activation, generator) -> None`` that fills ``weight`` (n_out, n_in) in
place, drawing only from ``generator``. The docstring's first line is the formula the help screen shows.
"""

import torch

import inittui

SPARSE_INCOMING = 15


@inittui.initializer("critical-tanh")
def critical_tanh(weight: torch.Tensor, *, activation: str, generator: torch.Generator) -> None:
    """W = 1.0 · Q, Q orthogonal (scaled orthogonal, gain 1.0)

    Saxe et al. 2014: with tanh, gain 1 keeps Var(W)·n_in = 1 (rows orthonormal where n_out ≤ n_in), the
    critical point of a bias-free tanh network; torch orthogonal_ with gain 1.0 whatever the activation.
    """
    torch.nn.init.orthogonal_(weight, gain=1.0, generator=generator)


@inittui.initializer("sparse")
def sparse(weight: torch.Tensor, *, activation: str, generator: torch.Generator) -> None:
    """W_ij ~ N(0, 1) for 15 inputs j per unit i, chosen at random; 0 elsewhere

    Martens 2010, sparse initialisation: every unit has exactly min(15, n_in) non-zero incoming weights, so
    its input's scale does not depend on the layer's width.
    """
    n_out, n_in = weight.shape
    incoming = min(SPARSE_INCOMING, n_in)
    # a random permutation of the inputs per unit: the first `incoming` of each row are its connections
    chosen = torch.rand(n_out, n_in, generator=generator).argsort(dim=1)[:, :incoming]
    weight.zero_()
    weight.scatter_(1, chosen, torch.randn(n_out, incoming, generator=generator))
