"""MACs are counted without computing: exact on layers with a closed form, the papers' numbers on
the real networks."""

from __future__ import annotations

import pytest
import torch
from torch import nn

from deblurlab.inference import SelfEnsemble
from deblurlab.models import mimo_unet, mimo_unet_plus
from deblurlab.models.macs import count_macs
from deblurlab.models.mimo_unet import released_aff


def test_a_convolution_counts_one_mac_per_weight_per_output_pixel():
    conv = nn.Conv2d(3, 8, 3, padding=1)
    assert count_macs(conv, size=(16, 20)) == 8 * 3 * 3 * 3 * 16 * 20
    assert count_macs(conv, size=(16, 20), batch=2) == 2 * 8 * 3 * 3 * 3 * 16 * 20


def test_strided_and_transposed_convolutions_and_linear_layers_add_up():
    net = nn.Sequential(
        nn.Conv2d(3, 4, 3, stride=2, padding=1),  # 8x8 out of 16x16
        nn.ConvTranspose2d(4, 2, 4, stride=2, padding=1),  # back to 16x16
        nn.Flatten(),
        nn.Linear(2 * 16 * 16, 5),
    )
    expected = 4 * 3 * 9 * 8 * 8 + 4 * 2 * 16 * 8 * 8 + 2 * 16 * 16 * 5
    assert count_macs(net, size=(16, 16)) == expected


def test_counting_leaves_the_network_on_its_device_with_its_weights_and_mode():
    net = mimo_unet(num_res=1, base_channels=8).train()
    before = {k: v.clone() for k, v in net.state_dict().items()}
    count_macs(net, size=(32, 32))
    assert net.training
    assert all(p.device.type == "cpu" for p in net.parameters())
    assert all(torch.equal(before[k], v) for k, v in net.state_dict().items())


def test_mimo_unet_and_mimo_unet_plus_match_the_published_macs_at_256():
    # 63.7 G and 150.7 G MACs at 256x256 (fvcore counts of the released models)
    assert count_macs(released_aff(mimo_unet())) / 1e9 == pytest.approx(63.7, abs=0.05)
    assert count_macs(released_aff(mimo_unet_plus())) / 1e9 == pytest.approx(150.7, abs=0.05)


def test_aff_convolving_before_upsampling_saves_exactly_the_moved_1x1_work():
    """AFF's 1x1 conv (7c -> c at full size, 7c -> 2c at half size) done per input scale."""
    c, hw = 32, 256 * 256
    release = 7 * c * c * hw + 7 * c * 2 * c * hw // 4
    per_scale = (c * c * hw + 2 * c * c * hw // 4 + 4 * c * c * hw // 16) + (
        c * 2 * c * hw // 4 + 2 * c * 2 * c * hw // 4 + 4 * c * 2 * c * hw // 16
    )
    for make in (mimo_unet, mimo_unet_plus):
        saved = count_macs(released_aff(make())) - count_macs(make())
        assert saved == release - per_scale  # 0.45 G of 63.7 G


def test_a_self_ensemble_costs_one_forward_pass_per_transform():
    net = mimo_unet(num_res=1, base_channels=8)
    single = count_macs(net, size=(32, 32))
    assert count_macs(SelfEnsemble(net, mode="rot4"), size=(32, 32)) == 4 * single
    assert count_macs(SelfEnsemble(net, mode="x8"), size=(32, 32)) == 8 * single


def test_bad_sizes_are_refused():
    with pytest.raises(ValueError, match="size"):
        count_macs(nn.Conv2d(3, 3, 1), size=(0, 8))
