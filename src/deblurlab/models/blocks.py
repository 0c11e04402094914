"""Small convolutional building blocks shared by the networks.

Module and attribute names follow the MIMO-UNet release so that state-dict keys match it
(every conv sits at ``<block>.main.0``).
"""

from __future__ import annotations

from torch import Tensor, nn


class BasicConv(nn.Module):
    """Conv (or transposed conv) followed by an optional ReLU, held in ``self.main``.

    Plain conv: ``Conv2d(k, stride, padding=k // 2)``. Transposed: ``ConvTranspose2d(k, stride,
    padding=k // 2 - 1)``, i.e. an exact x2 upsampling for ``k=4, stride=2``. Every conv has a bias
    (MIMO-UNet uses no normalisation layers).
    """

    def __init__(
        self,
        in_channels: int,
        out_channels: int,
        kernel_size: int,
        stride: int = 1,
        relu: bool = True,
        transpose: bool = False,
    ) -> None:
        super().__init__()
        if transpose:
            conv: nn.Module = nn.ConvTranspose2d(
                in_channels, out_channels, kernel_size, stride, padding=kernel_size // 2 - 1
            )
        else:
            conv = nn.Conv2d(
                in_channels, out_channels, kernel_size, stride, padding=kernel_size // 2
            )
        layers = [conv]
        if relu:
            layers.append(nn.ReLU(inplace=True))
        self.main = nn.Sequential(*layers)

    def forward(self, x: Tensor) -> Tensor:
        return self.main(x)


class ResBlock(nn.Module):
    """``x + conv3x3(relu(conv3x3(x)))`` at constant width; no activation after the sum."""

    def __init__(self, channels: int) -> None:
        super().__init__()
        self.main = nn.Sequential(
            BasicConv(channels, channels, 3, relu=True),
            BasicConv(channels, channels, 3, relu=False),
        )

    def forward(self, x: Tensor) -> Tensor:
        return self.main(x) + x


class ResStack(nn.Module):
    """``num_res`` ResBlocks in ``self.layers`` (MIMO-UNet's EBlock and DBlock are this)."""

    def __init__(self, channels: int, num_res: int) -> None:
        super().__init__()
        self.layers = nn.Sequential(*(ResBlock(channels) for _ in range(num_res)))

    def forward(self, x: Tensor) -> Tensor:
        return self.layers(x)


# Encoder and decoder blocks of MIMO-UNet are the same module.
EBlock = ResStack
DBlock = ResStack
