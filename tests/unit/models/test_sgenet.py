"""SGENet: parameter budget of the specification, forward contract, flags, padding."""

from __future__ import annotations

import importlib

import pytest
import torch

from deblurlab.losses.sgenet import SGENET_SIZE_MULTIPLE, SGENetLoss
from deblurlab.models.sgenet import CEM, CSAM, RDM, SAM, SGENet
from deblurlab.models.sgenet import sgenet as sgenet_factory

# The package re-exports the factory ``sgenet``, which shadows the submodule's attribute name.
sgenet_module = importlib.import_module("deblurlab.models.sgenet")

SMALL = (8, 12, 16)


def n_params(module: torch.nn.Module) -> int:
    return sum(p.numel() for p in module.parameters())


@pytest.fixture(scope="module")
def full_net() -> SGENet:
    return sgenet_factory()


def test_parameter_count_matches_specification(full_net: SGENet) -> None:
    assert n_params(full_net) == 19_512_436


def test_per_module_budget(full_net: SGENet) -> None:
    # Sub-networks include the single shared PReLU weight (+1), as in the spec's table.
    expected = {
        "shallow1": 170_785,
        "shallow2": 170_785,
        "encoder1": 4_308_769,
        "decoder1": 5_176_441,
        "encoder2": 4_330_948,
        "decoder2": 5_176_441,
        "sam": 9_792,
        "concat12": 165_888,
        "tail": 2_592,
    }
    assert {k: n_params(getattr(full_net, k)) for k in expected} == expected
    act = torch.nn.PReLU()
    # Standalone modules with their own activation: subtract it (1) for the RDM's 48.25 C^2.
    for c, want in [(96, 444_672), (120, 694_800), (144, 1_000_512)]:
        assert n_params(RDM(c, (1, 2, 3), 8, act)) - 1 == want
    assert n_params(CEM(120, 144)) == 545_400
    assert n_params(CEM(96, 120)) == 351_072
    assert [n_params(CSAM(c)) for c in (96, 120, 144)] == [4_609, 7_201, 10_369]
    assert n_params(SAM(96)) == 9_792
    # One shared PReLU instance across the whole network (CSAMs have their own).
    prelus = {id(m) for m in full_net.modules() if isinstance(m, torch.nn.PReLU)}
    assert len(prelus) == 1 + 3


def test_forward_backward_all_parameters_get_gradients() -> None:
    torch.manual_seed(0)
    net = SGENet(widths=SMALL)
    x = torch.rand(2, 3, 36, 52)
    outs = net(x)
    assert isinstance(outs, list)
    assert [tuple(o.shape) for o in outs] == [(2, 3, 18, 26)] * 2 + [(2, 3, 36, 52)] * 4
    total, parts = SGENetLoss()(outs, torch.rand_like(x))
    assert set(parts) == {"charbonnier", "edge"}
    total.backward()
    for name, p in net.named_parameters():
        assert p.grad is not None, name
        assert torch.isfinite(p.grad).all(), name
        # A bias-free channel attention (MPRNet's CALayer) can have every hidden ReLU unit dead at
        # init (all the more with the tiny test widths); a PReLU slope gets no gradient when its
        # inputs are all positive. Everything else must get a non-zero gradient.
        if ".ca.body." not in name and "squeeze.1" not in name:
            assert p.grad.abs().sum() > 0, name


@pytest.mark.parametrize(
    ("kwargs", "n_out"),
    [
        ({"supervise": "stage2"}, 2),
        ({"supervise": "scales3"}, 8),
        ({"csam": False}, 6),
        ({"dilations": (1, 2, 4)}, 6),
        ({"dilations": (1, 2, 3, 4), "rdm_share": True}, 6),
        ({"num_rdm": 1, "reduction": 4}, 6),
    ],
)
def test_flags_build_and_run(kwargs: dict, n_out: int) -> None:
    torch.manual_seed(0)
    net = SGENet(widths=SMALL, **kwargs)
    x = torch.rand(1, 3, 30, 45)  # not a multiple of 4: padded and cropped back
    outs = net(x)
    assert len(outs) == n_out
    assert outs[-1].shape == x.shape
    sizes = [o.shape[-1] for o in outs]
    assert sizes == sorted(sizes)  # coarse to fine
    total, _ = SGENetLoss()(outs, torch.rand_like(x))
    total.backward()
    unused = [n for n, p in net.named_parameters() if p.grad is None]
    assert not unused  # flags build only what runs (no DDP unused parameters)


def test_flags_change_what_is_built() -> None:
    base = n_params(SGENet(widths=SMALL))
    assert n_params(SGENet(widths=SMALL, csam=False)) < base
    assert n_params(SGENet(widths=SMALL, supervise="stage2")) == base
    assert n_params(SGENet(widths=SMALL, supervise="scales3")) == base + 2 * 27 * SMALL[2]
    assert not any(isinstance(m, CSAM) for m in SGENet(widths=SMALL, csam=False).modules())


def test_odd_sizes_are_padded_and_cropped() -> None:
    torch.manual_seed(0)
    net = SGENet(widths=SMALL).eval()
    x = torch.rand(1, 3, 37, 50)
    with torch.no_grad():
        outs = net(x)
        padded = torch.nn.functional.pad(x, (0, 2, 0, 3), mode="reflect")
        ref = net(padded)
    assert [tuple(o.shape[-2:]) for o in outs] == [(19, 25)] * 2 + [(37, 50)] * 4
    for o, r in zip(outs, ref, strict=True):
        assert torch.equal(o, r[..., : o.shape[-2], : o.shape[-1]])


def test_tiny_input_uses_replicate_fallback() -> None:
    net = SGENet(widths=SMALL).eval()
    with torch.no_grad():
        outs = net(torch.rand(1, 3, 2, 3))
    assert outs[-1].shape == (1, 3, 2, 3)
    assert outs[0].shape == (1, 3, 1, 2)


def test_padding_is_a_noop_on_divisible_sizes(monkeypatch: pytest.MonkeyPatch) -> None:
    torch.manual_seed(0)
    net = SGENet(widths=SMALL).eval()
    x = torch.rand(1, 3, 32, 44)
    with torch.no_grad():
        outs = net(x)
        monkeypatch.setattr(sgenet_module, "pad_to_multiple", lambda t, m: (t, t.shape[-2:]))
        monkeypatch.setattr(sgenet_module, "crop_outputs", lambda o, h, w: list(o))
        raw = net(x)
    assert all(torch.equal(a, b) for a, b in zip(outs, raw, strict=True))


def test_rejects_bad_arguments() -> None:
    with pytest.raises(ValueError):
        SGENet(widths=SMALL, supervise="all")
    with pytest.raises(ValueError):
        SGENet(widths=(8, 12))
    with pytest.raises(ValueError):
        SGENet(widths=SMALL, dilations=(1,))


def test_size_multiple() -> None:
    assert SGENet.size_multiple == 4
    # the loss pads targets like the network pads inputs, without importing models/
    assert SGENet.size_multiple == SGENET_SIZE_MULTIPLE


def test_tied_rdm_equals_untied_rdm_with_copied_weights() -> None:
    torch.manual_seed(0)
    act = torch.nn.PReLU()
    tied = RDM(8, (1, 2, 3), 8, act, share=True)
    untied = RDM(8, (1, 2, 3), 8, act)
    state = tied.state_dict()
    state.update({k.replace("units.0", "units.1"): v for k, v in state.items() if "units.0" in k})
    untied.load_state_dict(state)
    x = torch.rand(1, 8, 12, 12)
    torch.testing.assert_close(tied(x), untied(x))
