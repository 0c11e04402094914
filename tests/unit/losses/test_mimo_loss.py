"""MIMOLoss against a longhand reference of the release's loss (mimo-unet.md section 2)."""

from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F

from deblurlab.losses import MIMOLoss
from deblurlab.losses.frequency import fft_l1_loss
from deblurlab.losses.mimo import target_pyramid


def reference_loss(outputs, target, weight=0.1):
    """The release, written out: bilinear x0.25 / x0.5 targets, L1 means, fft2 real/imag L1."""
    label4 = F.interpolate(target, scale_factor=0.25, mode="bilinear")
    label2 = F.interpolate(target, scale_factor=0.5, mode="bilinear")
    labels = [label4, label2, target]
    content = 0.0
    freq = 0.0
    for out, lab in zip(outputs, labels, strict=True):
        content = content + (out - lab).abs().mean()
        fo, fl = torch.fft.fft2(out), torch.fft.fft2(lab)
        ro = torch.stack([fo.real, fo.imag], dim=-1)
        rl = torch.stack([fl.real, fl.imag], dim=-1)
        freq = freq + (ro - rl).abs().mean()
    return content + weight * freq, content, freq


def random_outputs(b: int, h: int, w: int) -> list[torch.Tensor]:
    return [torch.rand(b, 3, h // s, w // s, requires_grad=True) for s in (4, 2, 1)]


def test_matches_reference() -> None:
    torch.manual_seed(0)
    outputs, target = random_outputs(2, 32, 48), torch.rand(2, 3, 32, 48)
    total, parts = MIMOLoss()(outputs, target)
    ref_total, ref_content, ref_freq = reference_loss(outputs, target)
    assert set(parts) == {"content", "msfr"}
    torch.testing.assert_close(parts["content"], ref_content)
    torch.testing.assert_close(parts["msfr"], ref_freq)
    torch.testing.assert_close(total, ref_total)
    total.backward()
    assert all(o.grad is not None for o in outputs)


def test_size_based_pyramid_equals_release_scale_factor() -> None:
    target = torch.rand(1, 3, 36, 20)
    outs = [torch.empty(1, 3, 9, 5), torch.empty(1, 3, 18, 10), torch.empty(1, 3, 36, 20)]
    t4, t2, t1 = target_pyramid(target, outs)
    assert t1 is target
    assert torch.equal(t2, F.interpolate(target, scale_factor=0.5, mode="bilinear"))
    assert torch.equal(t4, F.interpolate(target, scale_factor=0.25, mode="bilinear"))
    # Known property of the release's targets: x0.5 bilinear is a 2x2 box average.
    torch.testing.assert_close(t2, F.avg_pool2d(target, 2))


def test_odd_sizes_follow_the_outputs() -> None:
    target = torch.rand(1, 3, 19, 22)
    outs = [torch.rand(1, 3, 5, 6), torch.rand(1, 3, 10, 11), torch.rand(1, 3, 19, 22)]
    pyramid = target_pyramid(target, outs)
    assert [p.shape for p in pyramid] == [o.shape for o in outs]
    total, _ = MIMOLoss()(outs, target)
    assert torch.isfinite(total)


def test_without_msfr_and_single_output() -> None:
    torch.manual_seed(0)
    outputs, target = random_outputs(1, 16, 16), torch.rand(1, 3, 16, 16)
    total, parts = MIMOLoss(msfr_weight=0)(outputs, target)
    assert set(parts) == {"content"} and torch.equal(total, parts["content"])
    _, content, _ = reference_loss(outputs, target)
    torch.testing.assert_close(total, content)

    total, parts = MIMOLoss()(outputs[-1:], target)  # MOSD off: full size only
    want = (outputs[-1] - target).abs().mean()
    freq = torch.view_as_real(torch.fft.fft2(outputs[-1]) - torch.fft.fft2(target)).abs().mean()
    torch.testing.assert_close(parts["content"], want)
    torch.testing.assert_close(total, want + 0.1 * freq)


def test_fft_loss_is_unnormalised_two_sided() -> None:
    x, y = torch.zeros(1, 1, 4, 4), torch.zeros(1, 1, 4, 4)
    x[..., 0, 0] = 1.0  # spectrum: all ones (real), zero imaginary
    assert fft_l1_loss(x, y).item() == pytest.approx(0.5)
