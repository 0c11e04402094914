"""Padding to the network's multiple and cropping multi-scale outputs back."""

from __future__ import annotations

import pytest
import torch

from deblurlab.models import MIMOUNet
from deblurlab.resample import crop_outputs, pad_to_multiple


def test_no_pad_returns_input_itself() -> None:
    x = torch.rand(1, 3, 8, 12)
    y, size = pad_to_multiple(x, 4)
    assert y is x and size == (8, 12)


@pytest.mark.parametrize(
    ("size", "padded", "mode"),
    [
        ((9, 10), (12, 12), "reflect"),
        ((3, 5), (4, 8), "reflect"),
        ((1, 1), (4, 4), "replicate"),
        ((2, 6), (4, 8), "replicate"),
    ],
)
def test_pad_bottom_right(size, padded, mode) -> None:
    x = torch.rand(2, 3, *size)
    y, orig = pad_to_multiple(x, 4)
    assert orig == size and tuple(y.shape[-2:]) == padded
    assert torch.equal(y[..., : size[0], : size[1]], x)  # original stays top-left
    ph, pw = padded[0] - size[0], padded[1] - size[1]
    want = torch.nn.functional.pad(x, (0, pw, 0, ph), mode=mode)
    assert torch.equal(y, want)


def test_crop_outputs_to_ceil_sizes() -> None:
    outs = [torch.rand(1, 3, 3, 4), torch.rand(1, 3, 6, 8), torch.rand(1, 3, 12, 16)]
    cropped = crop_outputs(outs, 9, 13)
    assert [tuple(o.shape[-2:]) for o in cropped] == [(3, 4), (5, 7), (9, 13)]
    assert torch.equal(cropped[1], outs[1][..., :5, :7])
    with pytest.raises(ValueError):
        crop_outputs([torch.rand(1, 3, 5, 5), torch.rand(1, 3, 12, 12)], 12, 12)


def test_forward_bit_identical_without_padding() -> None:
    torch.manual_seed(0)
    net = MIMOUNet(num_res=1, base_channels=8).eval()
    x = torch.rand(1, 3, 16, 28)
    with torch.no_grad():
        for got, want in zip(net(x), net._forward(x), strict=True):
            assert torch.equal(got, want)


def test_forward_pads_and_restores_odd_size() -> None:
    torch.manual_seed(0)
    net = MIMOUNet(num_res=1, base_channels=8).eval()
    x = torch.rand(1, 3, 19, 22)
    with torch.no_grad():
        outs = net(x)
        padded = net._forward(torch.nn.functional.pad(x, (0, 2, 0, 1), mode="reflect"))
    assert [tuple(o.shape[-2:]) for o in outs] == [(5, 6), (10, 11), (19, 22)]
    for got, full in zip(outs, padded, strict=True):
        assert torch.equal(got, full[..., : got.shape[-2], : got.shape[-1]])
