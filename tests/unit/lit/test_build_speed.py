"""The fast GPU settings the run builder chooses, decided on this CPU from a faked GPU: precision
and TF32 written into the run's config, DDP's bucket views and buffer broadcast. (Fused Adam is
the LightningModule's choice, from the network's device: tests/integration/lit.)"""

from __future__ import annotations

import pytest
import torch
from omegaconf import OmegaConf
from pytorch_lightning.strategies import DDPStrategy
from torch import nn

from deblurlab.lit import build
from deblurlab.lit.channels_last import channels_last_pays
from deblurlab.models import mimo_unet


@pytest.fixture
def fake_h100(monkeypatch):
    """CUDA with one compute-capability-9.0 GPU; TF32 switches recorded instead of set."""
    monkeypatch.setattr(torch.cuda, "is_available", lambda: True)
    monkeypatch.setattr(torch.cuda, "device_count", lambda: 1)
    monkeypatch.setattr(torch.cuda, "get_device_capability", lambda index=None: (9, 0))
    monkeypatch.setattr(torch.cuda, "is_bf16_supported", lambda including_emulation=True: True)
    applied: list[bool] = []
    monkeypatch.setattr(build, "apply_tf32", applied.append)
    return applied


@pytest.mark.parametrize(
    ("overrides", "precision", "tf32"),
    [
        ([], "bf16-mixed", True),  # trainer=gpu's default: auto -> bf16-mixed on an H100
        (["trainer.precision=32-true"], "32-true", False),  # the strict switch: fp32, no TF32
        (["trainer.precision=32-true", "trainer_tf32=true"], "32-true", True),
    ],
)
def test_trainer_gpu_resolves_and_records_precision_and_tf32(
    train_config, fake_h100, overrides, precision, tf32
):
    cfg = train_config("trainer=gpu", *overrides)
    assert cfg.trainer.benchmark is True
    settings = build.resolve_speed(cfg)
    assert (settings.precision, settings.tf32) == (precision, tf32)
    recorded = OmegaConf.to_container(cfg, resolve=True)  # what run files and W&B receive
    assert recorded["trainer"]["precision"] == precision and recorded["trainer_tf32"] is tf32
    assert fake_h100 == [tf32]


def test_deterministic_runs_turn_the_cudnn_autotuner_off(train_config, fake_h100):
    cfg = train_config("trainer=gpu", "trainer.deterministic=true")
    build.resolve_speed(cfg)
    assert cfg.trainer.benchmark is False


def test_cpu_runs_keep_their_precision_and_touch_no_tf32_switch(train_config, monkeypatch):
    applied: list[bool] = []
    monkeypatch.setattr(build, "apply_tf32", applied.append)
    cfg = train_config()
    build.resolve_speed(cfg)
    assert cfg.trainer.precision == "32-true" and cfg.trainer_tf32 is False and applied == []


def test_ddp_uses_bucket_views_and_broadcasts_buffers_only_where_they_change(monkeypatch):
    strategy = build.ddp_strategy("ddp")
    assert isinstance(strategy, build.BucketViewDDP)
    assert strategy._ddp_kwargs == {"gradient_as_bucket_view": True}
    assert strategy._start_method == "popen"
    assert build.ddp_strategy("ddp_spawn")._start_method == "spawn"
    assert build.ddp_strategy("auto") == "auto" and build.ddp_strategy("fsdp") == "fsdp"
    assert not build.buffers_change_in_training(mimo_unet(num_res=1, base_channels=8))
    assert build.buffers_change_in_training(nn.Sequential(nn.Conv2d(3, 3, 1), nn.BatchNorm2d(3)))
    assert not build.buffers_change_in_training(nn.BatchNorm2d(3, track_running_stats=False))
    # what DistributedDataParallel would be given, for each network
    monkeypatch.setattr(DDPStrategy, "_setup_model", lambda self, model: dict(self._ddp_kwargs))
    given = build.BucketViewDDP()._setup_model(mimo_unet(num_res=1, base_channels=8))
    assert given == {"gradient_as_bucket_view": True, "broadcast_buffers": False}
    given = build.BucketViewDDP()._setup_model(nn.BatchNorm2d(3))
    assert given["broadcast_buffers"] is True


def test_channels_last_is_on_for_cuda_at_any_precision_and_on_cpu_only_with_16_bits():
    assert channels_last_pays("32-true", "cuda") and channels_last_pays("bf16-mixed", "cuda")
    assert channels_last_pays("bf16-mixed", "cpu") and not channels_last_pays("32-true", "cpu")
