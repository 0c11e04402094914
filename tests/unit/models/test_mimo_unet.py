"""MIMO-UNet / MIMO-UNet+: release-exact structure, forward semantics and ablation switches."""

from __future__ import annotations

import itertools
from pathlib import Path

import pytest
import torch
from torch import nn

from deblurlab.models import MIMOUNet, mimo_unet, mimo_unet_plus, mimo_unet_pp

TSV_DIRS = (Path(__file__).resolve().parent,)


def n_params(net: nn.Module) -> int:
    return sum(p.numel() for p in net.parameters())


def reference_keys(name: str) -> list[tuple[str, tuple[int, ...]]]:
    """Released (key, shape) rows, from the copy in tests/data (else ../shared/design)."""
    path = next((d / name for d in TSV_DIRS if (d / name).is_file()), None)
    if path is None:
        pytest.skip(f"{name} not found in {[str(d) for d in TSV_DIRS]}")
    rows = []
    for line in path.read_text().splitlines():
        key, shape = line.split("\t")
        rows.append((key, tuple(int(s) for s in shape.strip("()").split(",") if s.strip())))
    return rows


def test_parameter_counts() -> None:
    assert n_params(mimo_unet()) == 6_807_171
    assert n_params(mimo_unet_plus()) == 16_107_651
    assert n_params(mimo_unet_pp()) == 16_107_651


@pytest.mark.parametrize(
    ("factory", "tsv", "entries"),
    [
        (mimo_unet, "mimo_unet_state_dict.tsv", 244),
        (mimo_unet_plus, "mimo_unet_plus_state_dict.tsv", 532),
    ],
)
def test_state_dict_equals_release(factory, tsv: str, entries: int) -> None:
    ref = reference_keys(tsv)
    assert len(ref) == entries
    got = [(k, tuple(v.shape)) for k, v in factory().state_dict().items()]
    assert got == ref  # names, shapes and order


def test_plus_dropout_on_skips_only_in_training() -> None:
    net = mimo_unet_plus()
    drops = [m for m in net.modules() if isinstance(m, nn.Dropout2d)]
    assert len(drops) == 2 and all(m.p == 0.1 for m in drops)
    assert not any(isinstance(m, nn.Dropout2d) for m in mimo_unet().modules())

    small = MIMOUNet(num_res=1, base_channels=8, dropout=0.5).eval()
    x = torch.rand(1, 3, 16, 16)
    with torch.no_grad():
        assert torch.equal(small(x)[-1], small(x)[-1])
        small.train()
        torch.manual_seed(0)
        a = small(x)[-1]
        torch.manual_seed(1)
        assert not torch.equal(a, small(x)[-1])


@pytest.mark.parametrize("size", [(32, 32), (16, 24), (30, 45), (17, 9), (5, 3), (1, 2)])
def test_output_shapes(size: tuple[int, int]) -> None:
    h, w = size
    net = MIMOUNet(num_res=1, base_channels=8)
    with torch.no_grad():
        outs = net(torch.rand(2, 3, h, w))
    assert isinstance(outs, list)
    assert [tuple(o.shape) for o in outs] == [
        (2, 3, -(-h // 4), -(-w // 4)),
        (2, 3, -(-h // 2), -(-w // 2)),
        (2, 3, h, w),
    ]


@pytest.mark.parametrize("size", [(32, 32), (30, 45)])
def test_outputs_are_residuals_on_nearest_pyramid(size: tuple[int, int]) -> None:
    """With all weights zero, every output is its own nearest-downsampled input, unclamped."""
    net = MIMOUNet(num_res=1, base_channels=8)
    for p in net.parameters():
        nn.init.zeros_(p)
    x = torch.rand(1, 3, *size) * 3 - 1
    with torch.no_grad():
        outs = net(x)
    for out, s in zip(outs, (4, 2, 1), strict=True):
        assert torch.equal(out, x[..., ::s, ::s])


@pytest.mark.parametrize("aff_conv_first", [False, True])
def test_release_forward_order(aff_conv_first: bool) -> None:
    """Longhand forward of the release against the module's forward: bit for bit with AFF as
    released; to float rounding with AFF's 1x1 conv moved before the upsampling (the default)."""
    torch.manual_seed(0)
    net = MIMOUNet(num_res=1, base_channels=8, aff_conv_first=aff_conv_first).eval()
    x = torch.rand(1, 3, 16, 20)
    F = torch.nn.functional
    with torch.no_grad():
        x2 = F.interpolate(x, scale_factor=0.5)
        x4 = F.interpolate(x2, scale_factor=0.5)
        z2, z4 = net.SCM2(x2), net.SCM1(x4)
        res1 = net.Encoder[0](net.feat_extract[0](x))
        res2 = net.Encoder[1](net.FAM2(net.feat_extract[1](res1), z2))
        z = net.Encoder[2](net.FAM1(net.feat_extract[2](res2), z4))
        z12 = F.interpolate(res1, scale_factor=0.5)
        z21 = F.interpolate(res2, scale_factor=2)
        z42 = F.interpolate(z, scale_factor=2)
        z41 = F.interpolate(z42, scale_factor=2)
        a2 = net.AFFs[1].conv(torch.cat([z12, res2, z42], 1))
        a1 = net.AFFs[0].conv(torch.cat([res1, z21, z41], 1))
        z = net.Decoder[0](z)
        o0 = net.ConvsOut[0](z) + x4
        z = net.Decoder[1](net.Convs[0](torch.cat([net.feat_extract[3](z), a2], 1)))
        o1 = net.ConvsOut[1](z) + x2
        z = net.Decoder[2](net.Convs[1](torch.cat([net.feat_extract[4](z), a1], 1)))
        o2 = net.feat_extract[5](z) + x
        outs = net(x)
    for got, want in zip(outs, (o0, o1, o2), strict=True):
        if aff_conv_first:
            torch.testing.assert_close(got, want, rtol=0, atol=1e-6)
        else:
            assert torch.equal(got, want)
    assert torch.equal(outs[-1], o2) != aff_conv_first  # the AFFs really compute differently


COMBOS = [
    (fusion, mise, mosd, aff)
    for fusion, mise, mosd, aff in itertools.product(
        ("fam", "concat", "sum"), (True, False), (True, False), (True, False)
    )
    if mise or fusion == "fam"  # fusion is irrelevant without MISE
]


@pytest.mark.parametrize(("fusion", "mise", "mosd", "aff"), COMBOS)
def test_ablation_builds_runs_and_uses_every_parameter(fusion, mise, mosd, aff) -> None:
    torch.manual_seed(0)
    net = MIMOUNet(num_res=1, base_channels=8, fusion=fusion, mise=mise, mosd=mosd, aff=aff)
    assert hasattr(net, "SCM1") == mise and hasattr(net, "FAM2") == mise
    assert hasattr(net, "ConvsOut") == mosd and hasattr(net, "AFFs") == aff
    outs = net(torch.rand(2, 3, 12, 16))
    assert [tuple(o.shape[-2:]) for o in outs] == ([(3, 4), (6, 8)] if mosd else []) + [(12, 16)]
    sum(o.square().mean() for o in outs).backward()
    unused = [n for n, p in net.named_parameters() if p.grad is None or not p.grad.any()]
    assert not unused


def test_fusion_modules() -> None:
    x1, x2 = torch.rand(1, 16, 4, 4), torch.rand(1, 16, 4, 4)
    assert torch.equal(MIMOUNet(base_channels=8, num_res=1, fusion="sum").FAM2(x1, x2), x1 + x2)
    concat = MIMOUNet(base_channels=8, num_res=1, fusion="concat").FAM2
    assert concat.merge.main[0].weight.shape == (16, 32, 1, 1)
    assert len(concat.merge.main) == 1  # 1x1 conv, no ReLU


def test_invalid_arguments() -> None:
    with pytest.raises(ValueError, match="fusion"):
        MIMOUNet(fusion="attention")
    with pytest.raises(ValueError, match="base_channels"):
        MIMOUNet(base_channels=7)


# (mise, mosd, aff) -> parameters; documented in docs/models.md beside the paper's Table 4.
TABLE4 = {
    (False, False, False): 6_468_707,
    (True, False, False): 6_734_205,
    (False, True, False): 6_473_897,
    (False, False, True): 6_536_483,
    (True, True, False): 6_739_395,
    (False, True, True): 6_541_673,
    (True, False, True): 6_801_981,
    (True, True, True): 6_807_171,
}


def test_table4_and_table3_parameter_counts() -> None:
    for (mise, mosd, aff), count in TABLE4.items():
        assert n_params(mimo_unet(mise=mise, mosd=mosd, aff=aff)) == count
    assert n_params(mimo_unet(fusion="concat")) == 6_663_811
    assert n_params(mimo_unet(fusion="sum")) == 6_622_659
