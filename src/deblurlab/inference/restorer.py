"""Restore images of any size with any deblurlab network: padding, self-ensemble, tiles, bf16."""

from __future__ import annotations

import torch
from torch import Tensor, nn

from deblurlab.inference.ensemble import SelfEnsemble
from deblurlab.inference.tiling import tiled_apply
from deblurlab.resample import pad_to_multiple

PRECISIONS: tuple[str, ...] = ("fp32", "bf16")
ENSEMBLES: tuple[str, ...] = ("rot4", "x8")


class Restorer:
    """``Restorer(net, ...)(blurry)``: B x 3 x H x W floats in [0, 1] -> restored, same size.

    The result is the network's last (full-size) output, optionally averaged over a self-ensemble
    and blended from tiles, clamped to [0, 1] (``clamp=True``; clamping changes no protocol's
    score, since every protocol clamps) and returned as float32 on the input's device. The network
    runs on the device of its parameters, in eval mode, without gradients.

    Args:
        net: a deblurlab network (``net(x)`` returns a list, the last item full size; its
            ``size_multiple`` attribute, default 1, is the padding multiple).
        precision: ``"fp32"``, or ``"bf16"`` (autocast on the network's device; about 2x faster
            on CPUs and recent GPUs, outputs differ by ~1e-3).
        tile: tile side in pixels for images too large for one pass (rounded down to a multiple
            of ``size_multiple``); None runs the whole image at once.
        overlap: minimum overlap of neighbouring tiles (the outer quarter of it is discarded,
            the middle half cross-faded; see :mod:`deblurlab.inference.tiling`).
        ensemble: None, ``"rot4"`` (MIMO-UNet++: rotations by 0/90/180/270 degrees) or ``"x8"``
            (EDSR: all flips and transposes); applied to each tile.
        clamp: clamp the result to [0, 1].

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
        self.precision, self.tile, self.overlap = precision, tile, overlap
        self.ensemble, self.clamp = ensemble, clamp
        self.size_multiple = int(getattr(net, "size_multiple", 1))
        self._model = SelfEnsemble(net, mode=ensemble) if ensemble else net

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
        }

    def _forward(self, x: Tensor) -> Tensor:
        """The full-size output of the (ensembled) network on one padded tile, as float32."""
        device = self.device
        with torch.autocast(
            device_type=device.type, dtype=torch.bfloat16, enabled=self.precision == "bf16"
        ):
            return self._model(x.to(device))[-1].float()

    @torch.inference_mode()
    def restore(self, blurry: Tensor) -> Tensor:
        """Restore a batch B x 3 x H x W (floats in [0, 1]) -> B x 3 x H x W float32."""
        if blurry.ndim != 4:
            raise ValueError(f"expected a B x C x H x W batch, got shape {tuple(blurry.shape)}")
        x, (h, w) = pad_to_multiple(blurry.float(), self.size_multiple)
        if self.tile is None:
            out = self._forward(x).to(blurry.device)
        else:
            out = tiled_apply(self._forward, x, self.tile, self.overlap, self.size_multiple)
        out = out[..., :h, :w]
        return out.clamp(0.0, 1.0) if self.clamp else out

    __call__ = restore

    def __repr__(self) -> str:
        options = ", ".join(f"{k}={v!r}" for k, v in self.settings().items())
        return f"Restorer({type(self.net).__name__}, {options})"
