"""Restore images of any size with any deblurlab network: padding, self-ensemble, tiles, and the
fast execution paths (channels_last memory format, inference mode, bf16 where native, compile)."""

from __future__ import annotations

from typing import Any

import torch
from torch import Tensor, nn

from deblurlab.hardware import PRECISIONS, resolve_precision
from deblurlab.inference.ensemble import SelfEnsemble
from deblurlab.inference.tiling import tiled_apply
from deblurlab.resample import pad_to_multiple

__all__ = ["ENSEMBLES", "PRECISIONS", "Restorer"]
ENSEMBLES: tuple[str, ...] = ("rot4", "x8")


class Restorer:
    """``Restorer(net, ...)(blurry)``: B x 3 x H x W floats in [0, 1] -> restored, same size.

    The result is the network's last (full-size) output, optionally averaged over a self-ensemble
    and blended from tiles, clamped to [0, 1] (``clamp=True``; clamping changes no protocol's
    score, since every protocol clamps) and returned as a contiguous float32 tensor on the input's
    device. The network runs on the device of its parameters, in eval mode, in inference mode.

    Args:
        net: a deblurlab network (``net(x)`` returns a list, the last item full size; its
            ``size_multiple`` attribute, default 1, is the padding multiple).
        precision: ``"fp32"``; ``"bf16"`` (autocast on the network's device: outputs differ by
            ~1e-3; faster only where bf16 is native, *slower* on CPUs without it); or ``"auto"``:
            bf16 where the device has native bf16 (CPU flags ``avx512_bf16``/``amx_bf16``, or a
            GPU with bf16 support), else fp32. :attr:`precision` holds the resolved choice.
        tile: tile side in pixels for images too large for one pass (rounded down to a multiple
            of ``size_multiple``); None runs the whole image at once.
        overlap: minimum overlap of neighbouring tiles (the outer quarter of it is discarded,
            the middle half cross-faded; see :mod:`deblurlab.inference.tiling`).
        ensemble: None, ``"rot4"`` (MIMO-UNet++: rotations by 0/90/180/270 degrees) or ``"x8"``
            (EDSR: all flips and transposes); applied to each tile.
        clamp: clamp the result to [0, 1].
        channels_last: run the network in the channels_last memory format (the parameters of
            ``net`` are converted in place; same values, so the output equals the NCHW one to
            float rounding, ~1e-7) -- the faster layout for oneDNN convolutions on CPUs and for
            tensor cores.
        compile: wrap the network in ``torch.compile`` (compiled on the first call of each input
            size, which takes tens of seconds on a CPU; needs a C++ compiler there). Use it for
            many images of one size, and only where ``deblurlab-bench`` measures it faster.

    Any size works, from 1 x 1 to 4K: the image is reflect-padded at the bottom/right to a
    multiple of ``size_multiple`` (no-op when it already divides, so results equal the network's
    own) and cropped back after the network (and the tiling) ran.
    """

    def __init__(
        self,
        net: nn.Module,
        precision: str = "fp32",
        tile: int | None = None,
        overlap: int = 64,
        ensemble: str | None = None,
        clamp: bool = True,
        channels_last: bool = True,
        compile: bool = False,
    ) -> None:
        if precision not in PRECISIONS:
            raise ValueError(f"precision must be one of {', '.join(PRECISIONS)}, got {precision!r}")
        if ensemble is not None and ensemble not in ENSEMBLES:
            raise ValueError(
                f"ensemble must be null or one of {', '.join(ENSEMBLES)}, got {ensemble!r}"
            )
        if tile is not None and (not isinstance(tile, int) or tile <= 0):
            raise ValueError(f"tile must be null or a positive integer, got {tile!r}")
        if not isinstance(overlap, int) or overlap < 0 or (tile is not None and overlap >= tile):
            raise ValueError(
                f"overlap must be an integer >= 0 and smaller than tile={tile}, got {overlap!r}"
            )
        self.net = net.eval()
        self.requested_precision = precision
        self.precision = resolve_precision(precision, self.device)
        self.tile, self.overlap = tile, overlap
        self.ensemble, self.clamp = ensemble, clamp
        self.channels_last, self.compile = bool(channels_last), bool(compile)
        self.size_multiple = int(getattr(net, "size_multiple", 1))
        if self.channels_last:
            net.to(memory_format=torch.channels_last)
        model: nn.Module = SelfEnsemble(net, mode=ensemble) if ensemble else net
        self._model: Any = torch.compile(model) if self.compile else model

    @property
    def device(self) -> torch.device:
        """Where the network runs (the device of its first parameter; CPU if it has none)."""
        param = next(self.net.parameters(), None)
        return param.device if param is not None else torch.device("cpu")

    def settings(self) -> dict[str, object]:
        """The inference settings, for summaries and logs."""
        return {
            "precision": self.precision,
            "tile": self.tile,
            "overlap": self.overlap if self.tile else None,
            "ensemble": self.ensemble,
            "clamp": self.clamp,
            "channels_last": self.channels_last,
            "compile": self.compile,
        }

    def _forward(self, x: Tensor) -> Tensor:
        """The full-size output of the (ensembled) network on one padded tile, as float32."""
        device = self.device
        x = x.to(device)
        if self.channels_last:
            x = x.contiguous(memory_format=torch.channels_last)
        with torch.autocast(
            device_type=device.type, dtype=torch.bfloat16, enabled=self.precision == "bf16"
        ):
            return self._model(x)[-1].float()

    def restore(self, blurry: Tensor) -> Tensor:
        """Restore a batch B x 3 x H x W (floats in [0, 1]) -> B x 3 x H x W float32."""
        if blurry.ndim != 4:
            raise ValueError(f"expected a B x C x H x W batch, got shape {tuple(blurry.shape)}")
        # compiled graphs are traced without autograd (no_grad); eager runs in inference mode,
        # which also skips autograd's version counters
        mode = torch.no_grad() if self.compile else torch.inference_mode()
        with mode:
            x, (h, w) = pad_to_multiple(blurry.float(), self.size_multiple)
            if self.tile is None:
                out = self._forward(x).to(blurry.device)
            else:
                out = tiled_apply(self._forward, x, self.tile, self.overlap, self.size_multiple)
            out = out[..., :h, :w]
            out = out.clamp(0.0, 1.0) if self.clamp else out
            return out.contiguous()

    __call__ = restore

    def __repr__(self) -> str:
        options = ", ".join(f"{k}={v!r}" for k, v in self.settings().items())
        return f"Restorer({type(self.net).__name__}, {options})"
