"""MIMO-UNet / MIMO-UNet+ (Cho et al., ICCV 2021), weight-compatible with the authors' release.

With the default arguments the state dict equals the released one key for key (names, shapes and
order). The constructor switches reproduce the ablations of the paper's Tables 3 and 4; a switch
that is off builds nothing, so no parameter is ever unused.
"""

from __future__ import annotations

from typing import Literal

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from deblurlab.resample import crop_outputs, pad_to_multiple

from .blocks import BasicConv, DBlock, EBlock

Fusion = Literal["fam", "concat", "sum"]
FUSIONS = ("fam", "concat", "sum")


def _down(x: Tensor) -> Tensor:
    # Nearest x0.5, as released: equals x[..., ::2, ::2] on even sizes.
    return F.interpolate(x, scale_factor=0.5)


def _up(x: Tensor) -> Tensor:
    return F.interpolate(x, scale_factor=2.0)


def _rescale(x: Tensor, factor: float) -> Tensor:
    """Nearest resampling by 0.5, 1, 2 or 4 (x4 as two x2 steps, as the release upsamples)."""
    if factor == 0.5:
        return _down(x)
    for _ in range({1.0: 0, 2.0: 1, 4.0: 2}[factor]):
        x = _up(x)
    return x


class SCM(nn.Module):
    """Shallow convolutional module: features of a downscaled blurry image, ``planes`` channels."""

    def __init__(self, planes: int) -> None:
        super().__init__()
        self.main = nn.Sequential(
            BasicConv(3, planes // 4, 3),
            BasicConv(planes // 4, planes // 2, 1),
            BasicConv(planes // 2, planes // 2, 3),
            BasicConv(planes // 2, planes - 3, 1),
        )
        self.conv = BasicConv(planes, planes, 1, relu=False)

    def forward(self, x: Tensor) -> Tensor:
        return self.conv(torch.cat([x, self.main(x)], dim=1))


class FAM(nn.Module):
    """Feature attention module: ``x1 + conv3x3(x1 * x2)`` (x1: encoder features, x2: SCM features)."""

    def __init__(self, channels: int) -> None:
        super().__init__()
        self.merge = BasicConv(channels, channels, 3, relu=False)

    def forward(self, x1: Tensor, x2: Tensor) -> Tensor:
        return x1 + self.merge(x1 * x2)


class ConcatFusion(nn.Module):
    """Table-3 "Concat." fusion: ``conv1x1(cat[x1, x2])`` from 2c back to c channels, no ReLU."""

    def __init__(self, channels: int) -> None:
        super().__init__()
        self.merge = BasicConv(2 * channels, channels, 1, relu=False)

    def forward(self, x1: Tensor, x2: Tensor) -> Tensor:
        return self.merge(torch.cat([x1, x2], dim=1))


class SumFusion(nn.Module):
    """Table-3 "Element-wise sum" fusion: ``x1 + x2`` (no parameters)."""

    def forward(self, x1: Tensor, x2: Tensor) -> Tensor:
        return x1 + x2


class AFF(nn.Module):
    """Asymmetric feature fusion: 1x1 conv + ReLU then 3x3 conv over the three encoder levels.

    ``aff(x1, x2, x4, level)`` fuses encoder features at scales 1, 1/2 and 1/4 into features at
    scale ``1 / level`` (``level`` 1 or 2). The release resamples every input to that scale
    (nearest), concatenates them and applies the 1x1 conv (``conv_first=False`` does exactly
    that). Nearest resampling only copies or drops pixels, so it commutes with a 1x1 conv: with
    ``conv_first=True`` (the default) each input meets its own block of the conv's weight at the
    coarser of its scale and the output's, and the three results are upsampled and summed. Same
    function and parameters (outputs agree to float rounding, ~1e-7), far fewer multiply-adds and
    far less memory: the release's 7c-channel concatenation at full resolution is never built.
    """

    def __init__(self, in_channels: int, out_channels: int, conv_first: bool = True) -> None:
        super().__init__()
        self.conv_first = conv_first
        self.conv = nn.Sequential(
            BasicConv(in_channels, out_channels, 1, relu=True),
            BasicConv(out_channels, out_channels, 3, relu=False),
        )

    def forward(self, x1: Tensor, x2: Tensor, x4: Tensor, level: int) -> Tensor:
        inputs = ((x1, 1), (x2, 2), (x4, 4))
        if not self.conv_first:
            return self.conv(torch.cat([_rescale(x, scale / level) for x, scale in inputs], 1))
        conv = self.conv[0].main[0]
        fused = conv.bias.view(1, -1, 1, 1)
        start = 0
        for x, scale in inputs:
            weight = conv.weight[:, start : start + x.shape[1]]
            start += x.shape[1]
            if scale < level:  # finer than the output: subsample first
                fused = fused + F.conv2d(_rescale(x, scale / level), weight)
            else:  # as coarse or coarser: convolve at the input's own scale, then upsample
                fused = fused + _rescale(F.conv2d(x, weight), scale / level)
        return self.conv[1](F.relu(fused))


def released_aff(net: nn.Module) -> nn.Module:
    """Switch every :class:`AFF` in ``net`` to the release's concatenate-then-convolve (in place;
    returns ``net``): the reference the benchmarks compare deblurlab's default against."""
    for module in net.modules():
        if isinstance(module, AFF):
            module.conv_first = False
    return net


def _fusion(kind: str, channels: int) -> nn.Module:
    if kind == "fam":
        return FAM(channels)
    if kind == "concat":
        return ConcatFusion(channels)
    return SumFusion()


class MIMOUNet(nn.Module):
    """Multi-input multi-output U-Net.

    ``net(x)`` takes ``B x 3 x H x W`` (any H, W) and returns ``[1/4, 1/2, full]`` scale images
    (only ``[full]`` when ``mosd=False``); each is a residual on the nearest-downsampled input of
    its scale; nothing is clamped. Inputs whose sides do not divide by 4 are reflect-padded at the
    bottom/right and every output is cropped to ``ceil(H / s) x ceil(W / s)`` at scale ``1/s``.

    Args:
        num_res: residual blocks per encoder/decoder block (8: MIMO-UNet, 20: MIMO-UNet+).
        base_channels: width of the full-resolution level (levels are c, 2c, 4c; release: 32).
        dropout: ``Dropout2d`` probability on the two decoder skip features (the AFF outputs;
            MIMO-UNet+ uses 0.1 in the release, applied only in training mode).
        fusion: how SCM features join the stride-2 encoder features (Table 3):
            ``"fam"`` (FAM), ``"concat"`` (concatenation + 1x1 conv to c channels) or ``"sum"``.
        mise: multi-input single encoder (SCMs + fusion at the 1/2 and 1/4 levels).
        mosd: multi-output single decoder (the 1/4 and 1/2 image heads ``ConvsOut``).
        aff: asymmetric feature fusion on the decoder skips; off: plain same-level encoder features.
        aff_conv_first: compute AFF's 1x1 conv at each input's own scale before upsampling (the
            same function as the release's concatenate-then-convolve, with less memory and fewer
            MACs; see :class:`AFF`); False computes it the released way.
    """

    size_multiple = 4

    def __init__(
        self,
        num_res: int = 8,
        base_channels: int = 32,
        dropout: float = 0.0,
        fusion: Fusion = "fam",
        mise: bool = True,
        mosd: bool = True,
        aff: bool = True,
        aff_conv_first: bool = True,
    ) -> None:
        super().__init__()
        if fusion not in FUSIONS:
            raise ValueError(f"fusion must be one of {FUSIONS}, got {fusion!r}")
        if base_channels < 2 or base_channels % 2:
            raise ValueError(f"base_channels must be an even number >= 2, got {base_channels}")
        if num_res < 0 or not 0.0 <= dropout < 1.0:
            raise ValueError(f"invalid num_res={num_res} or dropout={dropout}")
        self.num_res, self.base_channels, self.dropout = num_res, base_channels, dropout
        self.fusion, self.mise, self.mosd, self.aff = fusion, mise, mosd, aff
        c = base_channels

        # Registration order = state-dict order of the release.
        self.Encoder = nn.ModuleList(
            [EBlock(c, num_res), EBlock(2 * c, num_res), EBlock(4 * c, num_res)]
        )
        self.feat_extract = nn.ModuleList(
            [
                BasicConv(3, c, 3),
                BasicConv(c, 2 * c, 3, stride=2),
                BasicConv(2 * c, 4 * c, 3, stride=2),
                BasicConv(4 * c, 2 * c, 4, stride=2, transpose=True),
                BasicConv(2 * c, c, 4, stride=2, transpose=True),
                BasicConv(c, 3, 3, relu=False),
            ]
        )
        self.Decoder = nn.ModuleList(
            [DBlock(4 * c, num_res), DBlock(2 * c, num_res), DBlock(c, num_res)]
        )
        self.Convs = nn.ModuleList([BasicConv(4 * c, 2 * c, 1), BasicConv(2 * c, c, 1)])
        if mosd:
            self.ConvsOut = nn.ModuleList(
                [BasicConv(4 * c, 3, 3, relu=False), BasicConv(2 * c, 3, 3, relu=False)]
            )
        if aff:
            self.AFFs = nn.ModuleList(
                [AFF(7 * c, c, aff_conv_first), AFF(7 * c, 2 * c, aff_conv_first)]
            )
        if mise:
            # "FAM1"/"FAM2" hold whichever fusion module is selected (release names for "fam").
            self.FAM1 = _fusion(fusion, 4 * c)
            self.SCM1 = SCM(4 * c)
            self.FAM2 = _fusion(fusion, 2 * c)
            self.SCM2 = SCM(2 * c)
        drop = (lambda: nn.Dropout2d(dropout)) if dropout > 0 else nn.Identity
        self.drop1 = drop()
        self.drop2 = drop()

    def forward(self, x: Tensor) -> list[Tensor]:
        """Deblur ``x``; returns the list of outputs, coarse to fine (see the class docstring)."""
        x_padded, (h, w) = pad_to_multiple(x, self.size_multiple)
        outputs = self._forward(x_padded)
        if x_padded is not x:
            outputs = crop_outputs(outputs, h, w)
        return outputs

    def _forward(self, x: Tensor) -> list[Tensor]:
        need_pyramid = self.mise or self.mosd
        x_2 = _down(x) if need_pyramid else None
        x_4 = _down(x_2) if need_pyramid else None

        res1 = self.Encoder[0](self.feat_extract[0](x))
        z = self.feat_extract[1](res1)
        if self.mise:
            z = self.FAM2(z, self.SCM2(x_2))
        res2 = self.Encoder[1](z)
        z = self.feat_extract[2](res2)
        if self.mise:
            z = self.FAM1(z, self.SCM1(x_4))
        z = self.Encoder[2](z)

        if self.aff:
            # All AFF inputs are pre-AFF encoder features.
            res1, res2 = self.AFFs[0](res1, res2, z, 1), self.AFFs[1](res1, res2, z, 2)
        res2 = self.drop2(res2)
        res1 = self.drop1(res1)

        outputs = []
        z = self.Decoder[0](z)
        if self.mosd:
            outputs.append(self.ConvsOut[0](z) + x_4)
        z = self.feat_extract[3](z)
        z = self.Decoder[1](self.Convs[0](torch.cat([z, res2], dim=1)))
        if self.mosd:
            outputs.append(self.ConvsOut[1](z) + x_2)
        z = self.feat_extract[4](z)
        z = self.Decoder[2](self.Convs[1](torch.cat([z, res1], dim=1)))
        outputs.append(self.feat_extract[5](z) + x)
        return outputs


def mimo_unet(**kwargs) -> MIMOUNet:
    """MIMO-UNet: 8 residual blocks per EB/DB, 6,807,171 parameters. ``kwargs`` go to MIMOUNet."""
    kwargs.setdefault("num_res", 8)
    return MIMOUNet(**kwargs)


def mimo_unet_plus(**kwargs) -> MIMOUNet:
    """MIMO-UNet+: 20 residual blocks, Dropout2d(0.1) on the AFF outputs, 16,107,651 parameters."""
    kwargs.setdefault("num_res", 20)
    kwargs.setdefault("dropout", 0.1)
    return MIMOUNet(**kwargs)


def mimo_unet_pp(**kwargs) -> MIMOUNet:
    """MIMO-UNet++: the MIMO-UNet+ network; wrap it in
    ``deblurlab.inference.SelfEnsemble(net, mode="rot4")`` at eval/predict time (not in training).
    """
    return mimo_unet_plus(**kwargs)
