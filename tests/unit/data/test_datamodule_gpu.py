"""What the DataModule does for a GPU run, decided here on a CPU with a Trainer that says it runs on
CUDA: pinned memory, uint8 frames, loader workers from SLURM, and the refusal of a training split
that would decode image files for every crop."""

from __future__ import annotations

from types import SimpleNamespace

import pytest
import torch

from deblurlab.data import DeblurDataModule, PairedFolderSource, SyntheticBlurSource
from deblurlab.data.datamodule import workers_for
from deblurlab.errors import ConfigError, DataError
from fixtures.datasets import make_folder


def on_device(dm: DeblurDataModule, device: str) -> DeblurDataModule:
    """Attach a stand-in Trainer whose strategy runs on ``device``."""
    dm.trainer = SimpleNamespace(strategy=SimpleNamespace(root_device=torch.device(device)))
    return dm


def folder_module(root, **kwargs) -> DeblurDataModule:
    return DeblurDataModule(
        PairedFolderSource(str(root), "folder"), crop_size=16, root=str(root), **kwargs
    )


def test_a_gpu_run_refuses_training_images_decoded_for_every_crop(tmp_path):
    root = make_folder(tmp_path / "pairs", num_train=2, num_test=1)
    with pytest.raises(DataError) as refused:
        on_device(folder_module(root), "cuda").setup("fit")
    line = str(refused.value)
    assert (
        "\n" not in line and f"deblurlab-prepare data=<this data option> data.root={root}" in line
    )
    assert "data.allow_slow_decode=true" in line
    on_device(folder_module(root, allow_slow_decode=True), "cuda").setup("fit")  # asked for
    on_device(folder_module(root), "cpu").setup("fit")  # a CPU run is not fed faster by a cache
    src = PairedFolderSource(str(root), "folder")
    src.cache().add(
        p
        for split in ("train", "test")
        for pair in src.pairs(split)
        for p in (pair.blurry, pair.sharp)
    )
    on_device(folder_module(root), "cuda").setup("fit")  # with the cache: accepted


def test_memory_is_pinned_on_cuda_only_with_auto():
    source = SyntheticBlurSource(train_size=(40, 40), eval_size=(32, 32), train_samples=2)
    dm = DeblurDataModule(source, crop_size=32, batch_size=2, pin_memory="auto")
    dm.setup("fit")
    assert dm.train_dataloader().pin_memory is False  # no Trainer yet / a CPU run
    on_device(dm, "cuda")
    assert dm.train_dataloader().pin_memory and dm.val_dataloader().pin_memory
    with pytest.raises(ConfigError, match="data.pin_memory must be true, false or auto"):
        DeblurDataModule(source, pin_memory="yes")


def test_loader_workers_follow_the_slurm_allocation():
    assert workers_for("auto", {"SLURM_CPUS_PER_TASK": "8"}) == 7  # one core for training
    assert workers_for("auto", {"SLURM_CPUS_PER_TASK": "1"}) == 1
    assert workers_for("auto", {}) == 4
    assert workers_for(2, {"SLURM_CPUS_PER_TASK": "8"}) == 2  # an explicit count wins
    with pytest.raises(ConfigError, match="data.num_workers must be a count >= 0 or auto"):
        workers_for(-1)


def test_the_last_training_batch_is_dropped_only_when_asked():
    source = SyntheticBlurSource(train_size=(40, 40), eval_size=(32, 32), train_samples=5)
    for drop_last, sizes in ((False, [2, 2, 1]), (True, [2, 2])):
        dm = DeblurDataModule(source, crop_size=32, batch_size=2, drop_last=drop_last)
        dm.setup("fit")
        assert [len(b["name"]) for b in dm.train_dataloader()] == sizes
