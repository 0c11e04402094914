"""Training crops leave the loader workers as uint8 and become the same float32 after transfer."""

from __future__ import annotations

import torch
from torch.utils.data import DataLoader

from deblurlab.data import DeblurDataModule, SyntheticBlurSource
from deblurlab.data.transforms import to_tensor


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


def test_validation_frames_stay_float32():
    dm = small_module()
    dm.setup("validate")
    assert dm.val_set[0]["blur"].dtype == torch.float32


def test_unquantized_pairs_ship_as_float():
    dm = small_module(quantize=False)
    dm.setup("fit")
    assert dm.train_set[0]["blur"].dtype == torch.float32
