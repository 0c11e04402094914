"""SGENet's training loss: Charbonnier + lambda * Laplacian edge loss per supervised image (Eq. 2)."""

from __future__ import annotations

from collections.abc import Sequence

from torch import Tensor, nn

from deblurlab.losses.charbonnier import charbonnier
from deblurlab.losses.edge import LaplacianEdgeLoss
from deblurlab.resample import downsample_half, pad_to_multiple

# SGENet pads its input to a multiple of 4 (``SGENet.size_multiple``; a test keeps the two equal).
SGENET_SIZE_MULTIPLE = 4


def _halvings(full: tuple[int, int], size: tuple[int, int], limit: int = 16) -> int:
    """Number ``k`` of x0.5 steps with ``ceil(full / 2^k) == size`` on both sides."""
    for k in range(limit):
        s = 1 << k
        if (-(-full[0] // s), -(-full[1] // s)) == size:
            return k
    raise ValueError(f"output size {size} is not a 1/2^k scale of the target size {full}")


def sgenet_targets(target: Tensor, outputs: Sequence[Tensor]) -> list[Tensor]:
    """The target at the scale of every output, built the way the network builds its inputs.

    A ``1/2^k`` target is the full target padded exactly like the network pads its input (to
    ``SGENet.size_multiple``, reflect at the bottom/right), downsampled ``k`` times by the
    network's own bilinear x0.5 (:func:`deblurlab.resample.downsample_half`) and cropped to the
    output's size. On sizes divisible by ``2^k`` this is just ``k`` bilinear halvings; otherwise the last row/column
    matches the network's padded input.
    """
    full = tuple(target.shape[-2:])
    pyramid: dict[int, Tensor] = {}
    result = []
    for out in outputs:
        size = tuple(out.shape[-2:])
        k = _halvings(full, size)
        if k == 0:
            result.append(target)
            continue
        if k not in pyramid:
            t, _ = pad_to_multiple(target, max(SGENET_SIZE_MULTIPLE, 1 << k))
            for _ in range(k):
                t = downsample_half(t)
            pyramid[k] = t[..., : size[0], : size[1]]
        result.append(pyramid[k])
    return result


class SGENetLoss(nn.Module):
    """``sum_j [ Char(out_j, Y_j) + edge_weight * Edge(out_j, Y_j) ]`` over all given outputs.

    Charbonnier is the per-element mean of ``sqrt(d^2 + eps^2)`` [M]; Edge is the Charbonnier
    between MPRNet's one-level Laplacian residuals [M]; ``eps = 1e-3`` and ``edge_weight = 0.05``
    [P~, garbled in the paper]. Every output the network returns is supervised with equal weight;
    which outputs that is, is the network's ``supervise`` flag (all six images by default [O]).
    ``Y_j`` is the target at the output's scale (:func:`sgenet_targets`).

    Returns ``(total, {"charbonnier": sum_j Char, "edge": sum_j Edge})``; the parts are
    unweighted, so ``total = charbonnier + edge_weight * edge``.
    """

    def __init__(self, edge_weight: float = 0.05, eps: float = 1e-3) -> None:
        super().__init__()
        self.edge_weight = float(edge_weight)
        self.eps = float(eps)
        self.edge = LaplacianEdgeLoss(eps)

    def forward(
        self, outputs: Sequence[Tensor], target: Tensor
    ) -> tuple[Tensor, dict[str, Tensor]]:
        targets = sgenet_targets(target, outputs)
        char = sum(charbonnier(o, t, self.eps) for o, t in zip(outputs, targets, strict=True))
        parts = {"charbonnier": char}
        total = char
        if self.edge_weight:
            edge = sum(self.edge(o, t) for o, t in zip(outputs, targets, strict=True))
            parts["edge"] = edge
            total = char + self.edge_weight * edge
        return total, parts

    def extra_repr(self) -> str:
        return f"edge_weight={self.edge_weight}, eps={self.eps}"
