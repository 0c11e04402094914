"""DeblurLitModule: learns on a fixed batch, scores per image, records the blurry input once."""

from __future__ import annotations

import functools

import torch

from deblurlab.data.photos import load_builtin_photo
from deblurlab.lit.deblur_module import DeblurLitModule
from deblurlab.losses import MIMOLoss
from deblurlab.models import mimo_unet


def _batch() -> dict:
    photo = torch.from_numpy(load_builtin_photo("astronaut")).permute(2, 0, 1).float() / 255
    sharp = torch.stack([photo[:, 100:132, 200:232], photo[:, 300:332, 100:132]])
    blur = torch.nn.functional.avg_pool2d(sharp, 5, stride=1, padding=2, count_include_pad=False)
    return {"blur": blur, "sharp": sharp, "name": ["a", "b"]}


def test_a_few_optimizer_steps_on_one_fixed_batch_lower_the_loss():
    torch.manual_seed(0)
    module = DeblurLitModule(
        net=mimo_unet(num_res=1, base_channels=8),
        loss=MIMOLoss(),
        optimizer=functools.partial(torch.optim.Adam, lr=3e-3),
    )
    optimizer = module.configure_optimizers()
    batch = _batch()
    losses = []
    for _ in range(15):
        total, _ = module.loss(module.net(batch["blur"]), batch["sharp"])
        optimizer.zero_grad()
        total.backward()
        optimizer.step()
        losses.append(total.item())
    assert losses[-1] < 0.7 * losses[0]


def test_scheduler_is_returned_with_its_interval():
    module = DeblurLitModule(
        net=mimo_unet(num_res=1, base_channels=8),
        loss=MIMOLoss(),
        optimizer=functools.partial(torch.optim.Adam, lr=1e-3),
        scheduler=functools.partial(torch.optim.lr_scheduler.StepLR, step_size=2),
        scheduler_interval="step",
    )
    config = module.configure_optimizers()
    assert isinstance(config["optimizer"], torch.optim.Adam)
    assert config["lr_scheduler"]["interval"] == "step"


def test_an_evaluation_only_module_refuses_to_train():
    module = DeblurLitModule(net=mimo_unet(num_res=1, base_channels=8))
    assert module.configure_optimizers() is None
    try:
        module.training_step(_batch(), 0)
    except RuntimeError as exc:
        assert "without a loss" in str(exc)
    else:
        raise AssertionError("training without a loss must fail")
