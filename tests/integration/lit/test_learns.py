"""The science, through the real module, loss, optimizer and schedule built from the configs: a
short Trainer.fit on one fixed batch must make the validation and test outputs sharper than the
blurry inputs (scored by the module's own validation/test path), and the LR schedule must step."""

from __future__ import annotations

import pytest
import pytorch_lightning as pl
import torch
from torch.utils.data import DataLoader, Dataset

from deblurlab.data.photos import load_builtin_photo
from deblurlab.lit.build import build_module
from deblurlab.lit.deblur_module import DeblurLitModule
from fixtures.config import compose_config

LR, STEPS = 5e-3, 80


class FixedPairs(Dataset):
    """Two 32 x 32 crops of a built-in photo and their 7 x 7 box-blurred versions, always the same."""

    def __init__(self) -> None:
        photo = torch.from_numpy(load_builtin_photo("astronaut")).permute(2, 0, 1).float() / 255
        crops = [(100, 200), (300, 100)]
        self.sharp = torch.stack([photo[:, y : y + 32, x : x + 32] for y, x in crops])
        self.blur = torch.nn.functional.avg_pool2d(
            self.sharp, 7, stride=1, padding=3, count_include_pad=False
        )

    def __len__(self) -> int:
        return len(self.sharp)

    def __getitem__(self, i: int) -> dict:
        return {"blur": self.blur[i], "sharp": self.sharp[i], "name": f"crop{i}"}


class FixedData(pl.LightningDataModule):
    def train_dataloader(self) -> DataLoader:
        return DataLoader(FixedPairs(), batch_size=2)

    def val_dataloader(self) -> DataLoader:
        return DataLoader(FixedPairs(), batch_size=1)

    def test_dataloader(self) -> DataLoader:
        return DataLoader(FixedPairs(), batch_size=2)


@pytest.fixture(scope="module")
def fitted(tmp_path_factory):
    """The training config's module (MIMO-UNet, MIMOLoss, Adam, MultiStepLR per step) fitted."""
    cfg = compose_config(
        "train",
        [
            "+model.net.num_res=1",
            "+model.net.base_channels=16",
            f"schedule.optimizer.lr={LR}",
            "schedule.scheduler.milestones=[70,75]",
            "schedule.interval=step",
        ],
        tmp_path_factory.mktemp("fit"),
    )
    torch.manual_seed(0)
    module = build_module(cfg, DeblurLitModule)
    trainer = pl.Trainer(
        max_steps=STEPS,
        logger=False,
        enable_checkpointing=False,
        enable_progress_bar=False,
        enable_model_summary=False,
        num_sanity_val_steps=0,
        check_val_every_n_epoch=STEPS,  # validate once, at the end
    )
    trainer.fit(module, datamodule=FixedData())
    validated = trainer.callback_metrics
    val = {k: float(v) for k, v in validated.items()}
    [tested] = trainer.test(module, datamodule=FixedData())
    return module, trainer, val, tested


def test_training_makes_validation_outputs_sharper_than_the_inputs(fitted):
    _, _, val, _ = fitted
    assert val["val/num_images"] == 2
    assert val["val/psnr"] > val["input/psnr"] + 0.3, val
    assert val["val/ssim"] > val["input/ssim"], val


def test_the_test_path_scores_the_restored_images_not_the_inputs(fitted):
    module, _, val, tested = fitted
    assert tested["test/psnr"] > tested["test/input_psnr"] + 0.3, tested
    # the same images and network as validation: the same numbers
    assert tested["test/psnr"] == pytest.approx(val["val/psnr"], abs=1e-6)
    assert tested["test/input_psnr"] == pytest.approx(val["input/psnr"], abs=1e-6)
    # and the network itself on the images gives them (scored independently here)
    data = FixedPairs()
    with torch.no_grad():
        out = module.net(data.blur)[-1].clamp(0, 1)
    out8 = torch.floor(out * 255 + 0.5) / 255
    mse = ((out8.double() - data.sharp.double()) ** 2).flatten(1).mean(1)
    assert tested["test/psnr"] == pytest.approx(float((10 * torch.log10(1 / mse)).mean()), abs=1e-4)


def test_the_learning_rate_schedule_stepped_at_its_milestones(fitted):
    _, trainer, _, _ = fitted
    assert trainer.global_step == STEPS
    assert trainer.optimizers[0].param_groups[0]["lr"] == pytest.approx(LR * 0.25)


def _psnr8(out: torch.Tensor, sharp: torch.Tensor) -> float:
    """Mean gopro-protocol PSNR, written out: clamp, round half up to 8 bits, RGB MSE per image."""
    out8 = torch.floor(out.clamp(0, 1) * 255 + 0.5) / 255
    mse = ((out8.double() - sharp.double()) ** 2).flatten(1).mean(1)
    return float((10 * torch.log10(1 / mse)).mean())


def test_the_test_path_scores_the_self_ensemble_when_the_model_has_one(fitted):
    from deblurlab.inference import SelfEnsemble

    module, _, _, _ = fitted
    module.eval_net = SelfEnsemble(module.net, mode="x8")
    try:
        trainer = pl.Trainer(logger=False, enable_progress_bar=False, enable_model_summary=False)
        [tested] = trainer.test(module, datamodule=FixedData())
    finally:
        module.eval_net = None
    data = FixedPairs()
    with torch.no_grad():  # the 8 flips/transposes, each mapped back, averaged (written out here)
        outs = []
        for t in (False, True):
            for dims in ((), (-1,), (-2,), (-2, -1)):
                x = data.blur.transpose(-2, -1) if t else data.blur
                y = module.net(torch.flip(x, dims) if dims else x)[-1]
                y = torch.flip(y, dims) if dims else y
                outs.append(y.transpose(-2, -1) if t else y)
        ensembled = torch.stack(outs).mean(0)
        plain = module.net(data.blur)[-1]
    assert tested["test/psnr"] == pytest.approx(_psnr8(ensembled, data.sharp), abs=1e-4)
    assert abs(_psnr8(ensembled, data.sharp) - _psnr8(plain, data.sharp)) > 1e-3
