"""SelfEnsemble: exact on identity, equal to any op with the matching symmetry, batched by shape."""

from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F
from torch import nn

from deblurlab.inference import SelfEnsemble
from deblurlab.models import MIMOUNet


class Identity(nn.Module):
    """A network that returns ``[x at half size, x]`` and records its input shapes."""

    def __init__(self) -> None:
        super().__init__()
        self.calls: list[tuple[int, ...]] = []

    def forward(self, x: torch.Tensor) -> list[torch.Tensor]:
        self.calls.append(tuple(x.shape))
        return [x[..., ::2, ::2], x.clone()]


class SymmetricConv(nn.Module):
    """A 5x5 conv whose kernel is invariant under 90-degree rotations (and flips, if ``dihedral``)."""

    def __init__(self, dihedral: bool) -> None:
        super().__init__()
        torch.manual_seed(0)
        # 5x5: a rotation-invariant 3x3 kernel would already be flip-invariant.
        k = torch.randn(3, 3, 5, 5)
        views = [torch.rot90(k, r, (-2, -1)) for r in range(4)]
        if dihedral:
            views += [v.transpose(-2, -1) for v in views]
        self.register_buffer("kernel", torch.stack(views).mean(0))

    def forward(self, x: torch.Tensor) -> list[torch.Tensor]:
        return [F.conv2d(x, self.kernel, padding=2)]


@pytest.mark.parametrize("mode", ["rot4", "x8"])
@pytest.mark.parametrize("batch", [True, False])
def test_identity_is_exact_on_non_square(mode: str, batch: bool) -> None:
    x = torch.rand(2, 3, 5, 8)
    out = SelfEnsemble(Identity(), mode, batch=batch)(x)
    assert isinstance(out, list) and len(out) == 1
    # Averaging 4 or 8 identical values is exact for these dyadic counts up to rounding of the sum.
    torch.testing.assert_close(out[0], x, rtol=0, atol=1e-6)


def test_identity_exact_bitwise_on_dyadic_values() -> None:
    x = torch.randint(0, 256, (1, 3, 6, 4)).float() / 256
    for mode in ("rot4", "x8"):
        assert torch.equal(SelfEnsemble(Identity(), mode)(x)[0], x)


@pytest.mark.parametrize(
    ("mode", "calls"),
    [("rot4", [(4, 3, 5, 8), (4, 3, 8, 5)]), ("x8", [(8, 3, 5, 8), (8, 3, 8, 5)])],
)
def test_same_shape_transforms_are_batched(mode: str, calls) -> None:
    net = Identity()
    SelfEnsemble(net, mode)(torch.rand(2, 3, 5, 8))
    assert net.calls == calls


def test_rot4_of_rotation_equivariant_op_equals_the_op() -> None:
    op = SymmetricConv(dihedral=False)
    x = torch.rand(1, 3, 7, 10)
    torch.testing.assert_close(SelfEnsemble(op, "rot4")(x)[0], op(x)[0])
    # Not flip-equivariant, so x8 differs from the op.
    assert not torch.allclose(SelfEnsemble(op, "x8")(x)[0], op(x)[0], atol=1e-4)


def test_x8_of_dihedral_equivariant_op_equals_the_op() -> None:
    op = SymmetricConv(dihedral=True)
    x = torch.rand(1, 3, 7, 10)
    torch.testing.assert_close(SelfEnsemble(op, "x8")(x)[0], op(x)[0])


def test_wraps_mimo_unet_on_odd_size() -> None:
    net = MIMOUNet(num_res=1, base_channels=8).eval()
    ens = SelfEnsemble(net)
    assert ens.size_multiple == 4
    with torch.no_grad():
        out = ens(torch.rand(1, 3, 13, 18))
    assert len(out) == 1 and out[0].shape == (1, 3, 13, 18)


def test_bad_mode() -> None:
    with pytest.raises(ValueError, match="rot4"):
        SelfEnsemble(Identity(), "x4")
