"""Training crops leave the loader workers as uint8 and become the same float32 after transfer."""

from __future__ import annotations

from types import SimpleNamespace

import torch
from torch.utils.data import DataLoader

from deblurlab.data import DeblurDataModule, PairedFolderSource, SyntheticBlurSource
from deblurlab.data.transforms import to_tensor
from fixtures.datasets import make_folder


def small_module(**kwargs) -> DeblurDataModule:
    source = SyntheticBlurSource(train_size=(40, 40), eval_size=(32, 32), train_samples=4, **kwargs)
    return DeblurDataModule(source, crop_size=32, batch_size=2, hflip=0.0)


def test_train_crops_ship_as_uint8_and_convert_to_the_floats_of_to_tensor():
    dm = small_module()
    dm.setup("fit")
    torch.manual_seed(0)
    batch = next(iter(DataLoader(dm.train_set, batch_size=2)))
    assert batch["blur"].dtype == batch["sharp"].dtype == torch.uint8
    raw = dm.train_set.pairs[0]  # the same pair in numpy (the seed is drawn per item)
    assert raw[0].dtype == raw[1].dtype and raw[0].dtype.name == "uint8"
    expected = {key: batch[key].float() / 255 for key in ("blur", "sharp")}
    floats = dm.on_after_batch_transfer(batch, 0)
    for key in ("blur", "sharp"):
        assert floats[key].dtype == torch.float32
        assert torch.equal(floats[key], expected[key])
    image = floats["blur"][0].numpy().transpose(1, 2, 0)  # the same floats as the float path
    as_uint8 = (image * 255).round().astype("uint8")
    assert torch.equal(to_tensor(as_uint8), floats["blur"][0])


def test_frames_reach_a_trainer_as_uint8_and_convert_to_the_same_floats(tmp_path):
    root = make_folder(tmp_path / "pairs", num_train=2, num_test=2)
    dm = DeblurDataModule(PairedFolderSource(str(root), "folder"), crop_size=16)
    dm.setup()
    float_batch = next(iter(dm.test_dataloader()))  # no Trainer (deblurlab-eval's loop): floats
    assert float_batch["blur"].dtype == torch.float32
    dm.trainer = SimpleNamespace(strategy=SimpleNamespace(root_device=torch.device("cpu")))
    for loader in (dm.val_dataloader(), dm.test_dataloader()):
        batch = next(iter(loader))
        assert batch["blur"].dtype == batch["sharp"].dtype == torch.uint8  # a quarter of float32
        floats = dm.on_after_batch_transfer(batch, 0)
        raw = loader.dataset.pairs[0]
        assert torch.equal(floats["blur"][0], to_tensor(raw[0]))
        assert torch.equal(floats["sharp"][0], to_tensor(raw[1]))
    assert torch.equal(floats["blur"], float_batch["blur"])


def test_unquantized_pairs_ship_as_float():
    dm = small_module(quantize=False)
    dm.setup("fit")
    assert dm.train_set[0]["blur"].dtype == torch.float32
