"""ONNX and TorchScript export: one file serves every image size and matches the Restorer."""

from __future__ import annotations

import pytest
import torch

from deblurlab.inference import Restorer
from deblurlab.inference.export import (
    ExportModule,
    export_onnx,
    export_torchscript,
    load_exported,
    pad_in_graph,
)
from deblurlab.models import mimo_unet, sgenet
from deblurlab.resample import pad_to_multiple

pytest.importorskip("onnxruntime", reason="the export extra (onnx, onnxruntime) is not installed")

# every residue of H and W mod 4, sides too small to reflect (replicate padding), a 1 x 1 image
SIZES = [(20, 28), (21, 30), (22, 29), (23, 31), (3, 3), (1, 1)]


def test_in_graph_padding_equals_the_restorers_padding():
    for h, w in SIZES:
        x = torch.rand(2, 3, h, w)
        assert torch.equal(pad_in_graph(x, 4), pad_to_multiple(x, 4)[0]), (h, w)


@pytest.mark.parametrize(
    "name, ensemble",
    [("mimo_unet", None), ("mimo_unet", "rot4"), ("sgenet", None)],
)
@pytest.mark.parametrize("fmt", ["onnx", "pt"])
def test_one_exported_file_matches_the_restorer_at_every_size(tmp_path, name, ensemble, fmt):
    torch.manual_seed(0)
    net = (
        mimo_unet(num_res=1, base_channels=8)
        if name == "mimo_unet"
        else sgenet(widths=(8, 8, 8), num_rdm=1)
    )
    net.eval()
    module = ExportModule(net, ensemble=ensemble)
    path = tmp_path / f"model.{fmt}"
    # exported at one size; the padding it needs elsewhere must be computed by the graph itself
    example = torch.rand(1, 3, 24, 32)
    (export_onnx if fmt == "onnx" else export_torchscript)(module, path, example=example)
    run = load_exported(path)
    restorer = Restorer(net, ensemble=ensemble)
    for h, w in SIZES:
        x = torch.rand(2, 3, h, w)
        got, expected = run(x), restorer(x)
        assert got.shape == expected.shape == (2, 3, h, w)
        assert (got - expected).abs().max() <= 1e-5, (h, w)
