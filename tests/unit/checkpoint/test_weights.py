"""deblurlab.checkpoint weights: official release files, Lightning checkpoints, bare state dicts, clear errors."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch

from deblurlab.checkpoint import WeightsMismatchError, read_state_dict
from deblurlab.errors import CheckpointError
from deblurlab.models import MIMOUNet, load_weights, mimo_unet

# the released networks' key lists live beside the network tests
DATA = Path(__file__).resolve().parents[1] / "models"


def small(seed: int, **kwargs) -> MIMOUNet:
    torch.manual_seed(seed)
    kwargs.setdefault("num_res", 1)
    return MIMOUNet(base_channels=8, **kwargs)


def parse_shape(text: str) -> tuple[int, ...]:
    return tuple(int(s) for s in text.strip("()").split(",") if s.strip())


def assert_same(a: torch.nn.Module, b: torch.nn.Module) -> None:
    sa, sb = a.state_dict(), b.state_dict()
    assert list(sa) == list(sb)
    assert all(torch.equal(sa[k], sb[k]) for k in sa)


def test_release_format_round_trip(tmp_path: Path) -> None:
    src = small(0)
    # The official training script's file: model + optimizer + scheduler + epoch.
    opt = torch.optim.Adam(src.parameters(), lr=1e-4)
    sched = torch.optim.lr_scheduler.MultiStepLR(opt, milestones=[500, 1000], gamma=0.5)
    src(torch.rand(1, 3, 8, 8))[-1].mean().backward()
    opt.step()
    sched.step()
    path = tmp_path / "model.pkl"
    torch.save(
        {
            "model": src.state_dict(),
            "optimizer": opt.state_dict(),
            "scheduler": sched.state_dict(),
            "epoch": 3,
        },
        path,
    )
    dst = small(1)
    assert load_weights(dst, path) is dst
    assert_same(src, dst)


def test_release_file_from_reference_keys(tmp_path: Path) -> None:
    """A file laid out exactly like the released MIMO-UNet.pkl loads strictly into mimo_unet()."""
    rows = [
        line.split("\t") for line in (DATA / "mimo_unet_state_dict.tsv").read_text().splitlines()
    ]
    state = {k: torch.full(parse_shape(shape), 0.5) for k, shape in rows}
    path = tmp_path / "MIMO-UNet.pkl"
    torch.save({"model": state}, path)
    net = load_weights(mimo_unet(), path)
    assert all(bool((p == 0.5).all()) for p in net.parameters())


def test_lightning_checkpoint(tmp_path: Path) -> None:
    src = small(0)
    sd = {f"net.{k}": v for k, v in src.state_dict().items()}
    sd["loss.kernel"] = torch.ones(1, 1, 5, 5)  # a loss buffer: not part of the network
    path = tmp_path / "last.ckpt"
    torch.save(
        {"state_dict": sd, "epoch": 1, "global_step": 10, "deblurlab_config": {"a": 1}}, path
    )
    dst = load_weights(small(1), path)
    assert_same(src, dst)


@pytest.mark.parametrize("prefix", ["", "module.", "_orig_mod."])
def test_bare_state_dict_and_wrapper_prefixes(tmp_path: Path, prefix: str) -> None:
    src = small(0)
    path = tmp_path / "bare.pth"
    torch.save({prefix + k: v for k, v in src.state_dict().items()}, path)
    assert_same(src, load_weights(small(1), path))
    assert list(read_state_dict(path)) == list(src.state_dict())


def test_missing_and_unexpected_keys_name_the_file(tmp_path: Path) -> None:
    path = tmp_path / "other.pkl"
    torch.save({"model": small(0, aff=False).state_dict()}, path)
    with pytest.raises(WeightsMismatchError) as err:
        load_weights(small(1), path)
    msg = str(err.value)
    assert (
        "\n" not in msg and str(path) in msg and "missing keys: AFFs.0.conv.0.main.0.weight" in msg
    )

    torch.save({"model": small(0, num_res=2).state_dict()}, path)
    with pytest.raises(WeightsMismatchError, match=r"unexpected keys: Encoder\.0\.layers\.1"):
        load_weights(small(1), path)


def test_shape_mismatch(tmp_path: Path) -> None:
    path = tmp_path / "wide.pkl"
    torch.save({"model": MIMOUNet(num_res=1, base_channels=16).state_dict()}, path)
    with pytest.raises(WeightsMismatchError, match="shape mismatches") as err:
        load_weights(small(1), path)
    assert "Encoder.0.layers.0.main.0.main.0.weight (16, 16, 3, 3) vs (8, 8, 3, 3)" in str(
        err.value
    )


def test_unreadable_file(tmp_path: Path) -> None:
    path = tmp_path / "junk.pkl"
    path.write_bytes(b"not a checkpoint")
    with pytest.raises(CheckpointError, match="junk.pkl"):
        load_weights(small(0), path)
    torch.save({"epoch": 3}, path)
    with pytest.raises(WeightsMismatchError, match="no state dict found"):
        load_weights(small(0), path)
