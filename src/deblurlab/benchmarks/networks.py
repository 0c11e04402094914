"""What the benchmark runs: the networks (seeded random weights, tiny with ``--quick``, or a
checkpoint's) and a real photograph blurred along a camera path."""

from __future__ import annotations

import copy
import functools
from collections.abc import Callable
from typing import Any

import cv2
import numpy as np
import torch
from torch import Tensor, nn

from deblurlab.benchmarks import BenchOptions
from deblurlab.inference import Restorer, load_restorer

# name -> (constructor in deblurlab.models, the tiny settings --quick uses)
NETWORKS: dict[str, tuple[str, dict[str, object]]] = {
    "MIMO-UNet": ("mimo_unet", {"num_res": 1, "base_channels": 8}),
    "MIMO-UNet+": ("mimo_unet_plus", {"num_res": 2, "base_channels": 8}),
    "SGENet": ("sgenet", {"widths": [8, 8, 8], "num_rdm": 1}),
}


def make_network(name: str, quick: bool = False) -> nn.Module:
    """Network ``name`` with seeded random weights (the same weights every call)."""
    from deblurlab import models

    constructor, tiny = NETWORKS[name]
    torch.manual_seed(0)
    return getattr(models, constructor)(**(tiny if quick else {}))


def make_restorer(make_net: Callable[[], nn.Module], device: str, **settings: Any) -> Restorer:
    """A fresh network from ``make_net`` on ``device``, in a ``Restorer`` with ``settings``."""
    return Restorer(make_net().to(device), **settings)


def network_makers(opts: BenchOptions, default: list[str]) -> dict[str, Callable[[], nn.Module]]:
    """Label -> maker of a fresh copy of each network to measure: the checkpoint's (``--ckpt``),
    else ``--networks`` (or ``default``) with seeded random weights. The makers pickle, so a
    memory probe's process can build its own copy."""
    if opts.ckpt:  # rebuilt the way eval and predict rebuild it
        restorer, loaded = load_restorer(opts.ckpt, device="cpu")
        net = restorer.net.to(memory_format=torch.contiguous_format)
        return {f"{loaded.model_cfg.name} from {opts.ckpt}": functools.partial(copy.deepcopy, net)}
    names = opts.networks or default
    return {name: functools.partial(make_network, name, opts.quick) for name in names}


def photo_pair(height: int, width: int, seed: int = 0) -> tuple[Tensor, Tensor]:
    """A 1 x 3 x ``height`` x ``width`` (blurry, sharp) pair: the rocket photograph scaled to cover
    the size and blurred by averaging frames along a random camera path (the built-in blur)."""
    from deblurlab.data.photos import load_builtin_photo
    from deblurlab.data.synthetic import BlurModel, synthesize_pair
    from deblurlab.data.transforms import to_tensor

    photo = load_builtin_photo("rocket").astype(np.float32) / 255.0
    scale = max(height / photo.shape[0], width / photo.shape[1]) * 1.05
    photo = cv2.resize(photo, None, fx=scale, fy=scale, interpolation=cv2.INTER_CUBIC).clip(0, 1)
    region = (0, 0, photo.shape[0], photo.shape[1])
    blurry, sharp = synthesize_pair(
        photo, region, (height, width), np.random.default_rng(seed), BlurModel()
    )
    return to_tensor(blurry)[None], to_tensor(sharp)[None]
