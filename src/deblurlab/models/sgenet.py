"""SGENet: supervised-guidance enhancement network for motion deblurring.

No public code exists for SGENet; this is a from-scratch build of the project's specification
(restated in docs/models.md), which reconstructs the paper's design on MPRNet's conventions. Every
choice that the paper does not state is tagged in :class:`SGENet`'s docstring: **[P~]** garbled in
the paper and reconstructed, **[O]** our own choice. Everything else is [P] (paper), [M] (MPRNet's
released code) or [S] (SKNet / MIRNet selective-kernel fusion).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Literal

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from deblurlab.resample import crop_outputs, downsample_half, pad_to_multiple

Supervise = Literal["all6", "stage2", "scales3"]
SUPERVISE = ("all6", "stage2", "scales3")


def _upsample_double(x: Tensor) -> Tensor:
    return F.interpolate(x, scale_factor=2.0, mode="bilinear", align_corners=False)


def conv(in_ch: int, out_ch: int, kernel_size: int, dilation: int = 1) -> nn.Conv2d:
    """Bias-free [M] conv that preserves the spatial size (padding = dilation * (k // 2))."""
    return nn.Conv2d(
        in_ch,
        out_ch,
        kernel_size,
        padding=dilation * (kernel_size // 2),
        dilation=dilation,
        bias=False,
    )


class CALayer(nn.Module):
    """MPRNet channel attention: GAP -> 1x1 C->C/r -> ReLU -> 1x1 -> sigmoid, times the input."""

    def __init__(self, channels: int, reduction: int) -> None:
        super().__init__()
        hidden = max(channels // reduction, 1)
        self.body = nn.Sequential(
            nn.AdaptiveAvgPool2d(1),
            conv(channels, hidden, 1),
            nn.ReLU(inplace=True),
            conv(hidden, channels, 1),
            nn.Sigmoid(),
        )

    def forward(self, x: Tensor) -> Tensor:
        return x * self.body(x)


class CAB(nn.Module):
    """MPRNet channel-attention block: ``x + CA(conv3x3(act(conv3x3(x))))``."""

    def __init__(self, channels: int, reduction: int, act: nn.Module) -> None:
        super().__init__()
        self.body = nn.Sequential(conv(channels, channels, 3), act, conv(channels, channels, 3))
        self.ca = CALayer(channels, reduction)

    def forward(self, x: Tensor) -> Tensor:
        return x + self.ca(self.body(x))


class DilatedUnit(nn.Module):
    """Two bias-free 3x3 convs at rate ``dilation`` with an activation between.

    ``forward`` may override the rate, so that one unit can be shared (weight-tied) across the
    recursion steps of an :class:`RDM` that run at different rates.
    """

    def __init__(self, channels: int, act: nn.Module, dilation: int) -> None:
        super().__init__()
        self.conv1 = conv(channels, channels, 3, dilation=dilation)
        self.conv2 = conv(channels, channels, 3, dilation=dilation)
        self.act = act

    def forward(self, x: Tensor, dilation: int | None = None) -> Tensor:
        if dilation is None or dilation == self.conv1.dilation[0]:
            return self.conv2(self.act(self.conv1(x)))
        x = F.conv2d(x, self.conv1.weight, None, 1, dilation, dilation)
        return F.conv2d(self.act(x), self.conv2.weight, None, 1, dilation, dilation)


class RDM(nn.Module):
    """Recursive-residual dilated module [O] (the paper names it, its internals are ours).

    ``H0 = act(conv3x3_d0(x))``; ``H_u = H0 + G_u(H_{u-1})`` for the remaining rates (DRRN-style
    recursion anchored at H0; ``G_u`` = conv-act-conv at rate ``d_u``); ``Y = conv1x1(cat[H0..Hn])``;
    output ``x + CA(Y)`` with CA reduction ``reduction``. 48.25 C^2 parameters at rates (1, 2, 3),
    untied, r=8.

    Args:
        channels: width C (shape is unchanged).
        dilations: rate of the entry conv, then one rate per recursive unit.
        reduction: channel-attention reduction r.
        act: the (shared) activation module.
        share: tie the weights of all recursive units (true recursion).
    """

    def __init__(
        self,
        channels: int,
        dilations: Sequence[int],
        reduction: int,
        act: nn.Module,
        share: bool = False,
    ) -> None:
        super().__init__()
        if len(dilations) < 2:
            raise ValueError(f"RDM needs an entry rate and at least one unit rate, got {dilations}")
        self.dilations = tuple(int(d) for d in dilations)
        self.share = share
        self.entry = conv(channels, channels, 3, dilation=self.dilations[0])
        self.act = act
        n_units = len(self.dilations) - 1
        rates = self.dilations[1:2] if share else self.dilations[1:]
        self.units = nn.ModuleList(DilatedUnit(channels, act, d) for d in rates)
        self.aggregate = conv((n_units + 1) * channels, channels, 1)
        self.ca = CALayer(channels, reduction)

    def forward(self, x: Tensor) -> Tensor:
        h0 = self.act(self.entry(x))
        feats = [h0]
        h = h0
        for i, rate in enumerate(self.dilations[1:]):
            unit = self.units[0 if self.share else i]
            h = h0 + unit(h, rate)
            feats.append(h)
        return x + self.ca(self.aggregate(torch.cat(feats, dim=1)))

    def extra_repr(self) -> str:
        return f"dilations={self.dilations}, share={self.share}"


class Down(nn.Module):
    """Bilinear x0.5 then 1x1 conv [M] (MPRNet's DownSample)."""

    def __init__(self, in_ch: int, out_ch: int) -> None:
        super().__init__()
        self.conv = conv(in_ch, out_ch, 1)

    def forward(self, x: Tensor) -> Tensor:
        return self.conv(downsample_half(x))


class Up(nn.Module):
    """Bilinear x2 then 1x1 conv [M] (MPRNet's UpSample)."""

    def __init__(self, in_ch: int, out_ch: int) -> None:
        super().__init__()
        self.conv = conv(in_ch, out_ch, 1)

    def forward(self, x: Tensor) -> Tensor:
        return self.conv(_upsample_double(x))


class CEM(nn.Module):
    """Contextual-aware enhancement module at a decoder skip junction [P ops, O wiring].

    ``U = Up(F_coarse)``; ``F_ms = ReLU(conv3x3(cat[F_skip, U]))`` [P]; ``R = conv3x3(F_ms)`` (C->3),
    ``I_hat = I + R`` (Eq. 1, supervised) [P]; ``F_r = conv3x3(R)`` [P conv; O: from R];
    ``A = sigmoid(conv3x3(I_hat))`` [P: the predicted image as attention];
    ``F_refined = F_ms + A * conv3x3(cat[F_ms, F_r])`` [O: 3x3 fusion and residual to F_ms].
    ``36 C^2 + C C' + 81 C`` parameters.
    """

    def __init__(self, channels: int, coarse_channels: int) -> None:
        super().__init__()
        self.up = Up(coarse_channels, channels)
        self.multi_scale = conv(2 * channels, channels, 3)
        self.to_residual = conv(channels, 3, 3)
        self.residual_features = conv(3, channels, 3)
        self.attention = conv(3, channels, 3)
        self.fuse = conv(2 * channels, channels, 3)

    def forward(self, skip: Tensor, coarse: Tensor, image: Tensor) -> tuple[Tensor, Tensor]:
        f_ms = F.relu(self.multi_scale(torch.cat([skip, self.up(coarse)], dim=1)))
        residual = self.to_residual(f_ms)
        restored = image + residual
        f_r = self.residual_features(residual)
        gate = torch.sigmoid(self.attention(restored))
        refined = f_ms + gate * self.fuse(torch.cat([f_ms, f_r], dim=1))
        return refined, restored


class CSAM(nn.Module):
    """Cross-stage selective aggregation [P Eqs. 5-7; S: MIRNet SKFF form].

    ``U = sum_i F_i``; ``z = PReLU(conv1x1(GAP(U)))`` to ``d = max(C / 8, 4)`` [S/O];
    three 1x1 heads give per-branch logits, softmax across branches per channel; output
    ``sum_i F_i * a_i``. Own PReLU (1 parameter), as MIRNet's SKFF. ``4 C d + 1`` parameters.
    """

    def __init__(self, channels: int, branches: int = 3) -> None:
        super().__init__()
        hidden = max(channels // 8, 4)
        self.squeeze = nn.Sequential(conv(channels, hidden, 1), nn.PReLU())
        self.heads = nn.ModuleList(conv(hidden, channels, 1) for _ in range(branches))

    def forward(self, feats: Sequence[Tensor]) -> Tensor:
        z = self.squeeze(F.adaptive_avg_pool2d(sum(feats), 1))
        weights = torch.softmax(torch.stack([head(z) for head in self.heads], dim=1), dim=1)
        return sum(f * weights[:, i] for i, f in enumerate(feats))


class SAM(nn.Module):
    """MPRNet's supervised attention module with 1x1 kernels [M]; ``C^2 + 6 C`` parameters."""

    def __init__(self, channels: int) -> None:
        super().__init__()
        self.conv1 = conv(channels, channels, 1)
        self.conv2 = conv(channels, 3, 1)
        self.conv3 = conv(3, channels, 1)

    def forward(self, x: Tensor, image: Tensor) -> tuple[Tensor, Tensor]:
        restored = self.conv2(x) + image
        gate = torch.sigmoid(self.conv3(restored))
        return x + self.conv1(x) * gate, restored


def _rdm_stack(
    channels: int, num: int, dilations: Sequence[int], reduction: int, act: nn.Module, share: bool
) -> nn.Sequential:
    return nn.Sequential(*(RDM(channels, dilations, reduction, act, share) for _ in range(num)))


class Encoder(nn.Module):
    """Three-level encoder: RDMs per level, :class:`Down` between levels.

    With ``cross_stage`` set (stage 2), each level's output is merged with the stage-1 encoder
    and decoder features of the same level before downsampling, by :class:`CSAM` when ``csam`` is
    true, else by the plain three-term sum (MPRNet's CSFF without its 1x1 projections).
    """

    def __init__(
        self,
        widths: Sequence[int],
        num_rdm: int,
        dilations: Sequence[int],
        reduction: int,
        act: nn.Module,
        share: bool,
        cross_stage: bool = False,
        csam: bool = True,
    ) -> None:
        super().__init__()
        self.levels = nn.ModuleList(
            _rdm_stack(w, num_rdm, dilations, reduction, act, share) for w in widths
        )
        self.downs = nn.ModuleList(Down(a, b) for a, b in zip(widths[:-1], widths[1:], strict=True))
        self.cross_stage = cross_stage
        self.csams = nn.ModuleList(CSAM(w) for w in widths) if cross_stage and csam else None

    def forward(
        self,
        x: Tensor,
        prev_enc: Sequence[Tensor] | None = None,
        prev_dec: Sequence[Tensor] | None = None,
    ) -> list[Tensor]:
        outs = []
        for level, blocks in enumerate(self.levels):
            if level:
                x = self.downs[level - 1](x)
            x = blocks(x)
            if self.cross_stage:
                triplet = [x, prev_enc[level], prev_dec[level]]
                x = self.csams[level](triplet) if self.csams is not None else sum(triplet)
            outs.append(x)
        return outs


class Decoder(nn.Module):
    """Three-level decoder with a :class:`CEM` at each skip junction.

    Returns the decoder features finest first and the CEM images coarse to fine (plus, in front,
    a 1/4-scale image from the bottleneck when ``quarter_head`` is set).
    """

    def __init__(
        self,
        widths: Sequence[int],
        num_rdm: int,
        dilations: Sequence[int],
        reduction: int,
        act: nn.Module,
        share: bool,
        quarter_head: bool = False,
    ) -> None:
        super().__init__()
        self.levels = nn.ModuleList(
            _rdm_stack(w, num_rdm, dilations, reduction, act, share) for w in widths
        )
        self.cems = nn.ModuleList(CEM(a, b) for a, b in zip(widths[:-1], widths[1:], strict=True))
        self.quarter_head = conv(widths[-1], 3, 3) if quarter_head else None

    def forward(
        self, enc: Sequence[Tensor], images: Sequence[Tensor]
    ) -> tuple[list[Tensor], list[Tensor]]:
        top = len(self.levels) - 1
        x = self.levels[top](enc[top])
        feats = [x]
        preds = []
        if self.quarter_head is not None:
            preds.append(images[top] + self.quarter_head(x))
        for level in range(top - 1, -1, -1):
            x, pred = self.cems[level](enc[level], x, images[level])
            x = self.levels[level](x)
            feats.insert(0, x)
            preds.append(pred)
        return feats, preds


class SGENet(nn.Module):
    """Two-stage SGENet built to the project specification (19,512,436 parameters by default).

    ``net(x)`` takes ``B x 3 x H x W`` in [0, 1] (any H, W) and returns a list of ``B x 3`` images
    coarse to fine, the final output last. Inputs whose sides do not divide by
    :attr:`size_multiple` are reflect-padded at the bottom/right (replicate for tiny inputs) and
    every output is cropped back to ``ceil(H / s) x ceil(W / s)`` at scale ``1/s``; on divisible
    sizes this is a no-op. Nothing is clamped (clamp the last image at inference).

    Returned images (``Is_k``: stage-s CEM image at scale k; ``stage1``: the SAM image):

    * ``supervise="all6"`` (default): ``[I1_1/2, I2_1/2, I1_1, stage1, I2_1, out]``.
    * ``supervise="stage2"``: ``[stage1, out]``.
    * ``supervise="scales3"``: ``[I1_1/4, I2_1/4] + all6``; adds a 3x3 (C3->3) image head on each
      stage's bottleneck decoder feature, a residual on the 1/4-scale input (+2 * 27 * C3 params).

    The loss (:class:`deblurlab.losses.SGENetLoss`) supervises every image it is given, so this
    flag is the spec's ``loss_images`` switch; the CEMs are built and run in every mode.

    Data flow (stage 1 and 2 share the structure, not the weights)::

        s1 = Shallow1(x); e = Enc1(s1); d, (I1_1/2, I1_1) = Dec1(e, [x, x_1/2])
        f, stage1 = SAM(d1, x); g = conv3x3(cat[Shallow2(x), f])
        e' = Enc2(g, CSAM with e, d); d', (I2_1/2, I2_1) = Dec2(e', [x, x_1/2])
        out = conv3x3(d'1) + x

    Choices not stated by the paper (see ``docs/models.md``):

    * [O] RDM internals: entry conv (rate 1) + recursive residual units (rates 2, 3) anchored at the
      entry feature, 1x1 aggregation of all intermediate features, channel attention r=8, outer
      residual; untied weights (``rdm_share=False``).
    * [O] CEM wiring: on the decoder side, coarser decoder feature upsampled by bilinear + 1x1;
      residual features from ``R``; attention from the predicted image; 3x3 fusion conv; residual
      to ``F_ms``.
    * [P~] CEM's coarser input ``F_{s-1}`` is H/2 x W/2 (garbled shapes in the paper).
    * [S/O] CSAM squeeze ``d = max(C / 8, 4)`` with PReLU, no 1x1 projection of stage-1 features,
      branch outputs summed; CSAM only at the stage-2 encoder levels (where MPRNet's CSFF is).
    * [O] no multi-patch split; the half-scale input is a bilinear x0.5 of the input.
    * [O] channel attention r=8 in the RDMs and in the shallow CABs (MPRNet: 4) to land on 19.5M.
    * [O] default supervision of all six images; half-scale targets by the same bilinear x0.5.
    * [O] pad to a multiple of 4 inside ``forward``.
    * [P~] loss constants eps = 1e-3 and lambda = 0.05 (in the loss).

    Args:
        widths: channels per level (C1, C2, C3); the paper's 96/120/144 [P].
        num_rdm: RDMs per level in each encoder and decoder [P: 2].
        dilations: RDM rates, entry conv then one per recursive unit [O: (1, 2, 3)].
        rdm_share: tie the recursive units' weights in every RDM [O: off].
        reduction: channel-attention reduction in the RDMs and the shallow CABs [O: 8].
        csam: CSAM at the stage-2 encoder levels; off: the plain sum of the three features.
        supervise: which images are returned (and so supervised), see above [O: ``"all6"``].
    """

    size_multiple = 4

    def __init__(
        self,
        widths: Sequence[int] = (96, 120, 144),
        num_rdm: int = 2,
        dilations: Sequence[int] = (1, 2, 3),
        rdm_share: bool = False,
        reduction: int = 8,
        csam: bool = True,
        supervise: Supervise = "all6",
    ) -> None:
        super().__init__()
        widths = tuple(int(w) for w in widths)
        if len(widths) != 3:
            raise ValueError(f"SGENet has three levels, got widths={widths}")
        if supervise not in SUPERVISE:
            raise ValueError(f"supervise must be one of {SUPERVISE}, got {supervise!r}")
        self.widths = widths
        self.supervise = supervise
        c1 = widths[0]
        # One PReLU instance for the whole network, as in MPRNet [M] (CSAMs have their own; CEMs use ReLU [P]).
        act = nn.PReLU()
        rdm = dict(num_rdm=num_rdm, dilations=dilations, reduction=reduction, act=act)
        quarter = supervise == "scales3"

        self.shallow1 = nn.Sequential(conv(3, c1, 3), CAB(c1, reduction, act))
        self.shallow2 = nn.Sequential(conv(3, c1, 3), CAB(c1, reduction, act))
        self.encoder1 = Encoder(widths, share=rdm_share, **rdm)
        self.decoder1 = Decoder(widths, share=rdm_share, quarter_head=quarter, **rdm)
        self.sam = SAM(c1)
        self.concat12 = conv(2 * c1, c1, 3)
        self.encoder2 = Encoder(widths, share=rdm_share, cross_stage=True, csam=csam, **rdm)
        self.decoder2 = Decoder(widths, share=rdm_share, quarter_head=quarter, **rdm)
        self.tail = conv(c1, 3, 3)

    def forward(self, x: Tensor) -> list[Tensor]:
        x, (height, width) = pad_to_multiple(x, self.size_multiple)
        x_half = downsample_half(x)
        images = [x, x_half]
        if self.supervise == "scales3":
            images.append(downsample_half(x_half))

        enc1 = self.encoder1(self.shallow1(x))
        dec1, preds1 = self.decoder1(enc1, images)
        sam_feats, stage1 = self.sam(dec1[0], x)

        g = self.concat12(torch.cat([self.shallow2(x), sam_feats], dim=1))
        enc2 = self.encoder2(g, enc1, dec1)
        dec2, preds2 = self.decoder2(enc2, images)
        out = self.tail(dec2[0]) + x

        if self.supervise == "stage2":
            outputs = [stage1, out]
        else:
            # preds are coarse to fine per stage; interleave the stages scale by scale.
            *coarse1, full1 = preds1
            *coarse2, full2 = preds2
            outputs = [p for pair in zip(coarse1, coarse2, strict=True) for p in pair]
            outputs += [full1, stage1, full2, out]
        return crop_outputs(outputs, height, width)

    def extra_repr(self) -> str:
        return f"widths={self.widths}, supervise={self.supervise!r}"


def sgenet(**kwargs) -> SGENet:
    """SGENet with the specification's defaults (19,512,436 parameters); kwargs override."""
    return SGENet(**kwargs)
