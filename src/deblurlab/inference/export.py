"""Export a network for use outside Python: ONNX (any height and width) and TorchScript.

The exported graph does what :class:`~deblurlab.inference.Restorer` does on one whole image:

* pad the input at the bottom/right to a multiple of the network's ``size_multiple``: reflect
  padding, or replicate padding when an image side is too small to reflect (the same rule as
  :func:`deblurlab.resample.pad_to_multiple`). The padding amount is computed *inside the graph*
  from the input's shape, as index arithmetic (``arange`` + ``where`` + ``index_select``), so one
  exported file serves every image size;
* run the network (and the self-ensemble when one is chosen) and keep its full-size output;
* crop back to the input's size and clamp to [0, 1].

Tiling and bf16 autocast are not part of the graph (the runtime decides memory and precision).

    module = ExportModule(net, ensemble="rot4")
    export_onnx(module, "model.onnx")          # needs the ``export`` extra (onnx, onnxruntime)
    export_torchscript(module, "model.pt")
    run = load_exported("model.onnx")          # numpy/torch in, torch out: run(x) -> B x 3 x H x W
"""

from __future__ import annotations

import warnings
from collections.abc import Callable
from pathlib import Path

import torch
from torch import Tensor, nn

from deblurlab.errors import ConfigError
from deblurlab.inference.ensemble import SelfEnsemble

FORMATS: dict[str, str] = {".onnx": "onnx", ".pt": "torchscript", ".ts": "torchscript"}
INPUT_NAME, OUTPUT_NAME = "blurry", "sharp"
DEFAULT_OPSET = 17


def export_format(path: str | Path) -> str:
    """``"onnx"`` or ``"torchscript"`` from the file suffix (.onnx, .pt/.ts); ConfigError otherwise."""
    suffix = Path(path).suffix.lower()
    if suffix not in FORMATS:
        raise ConfigError(
            f"output={path}: the file name must end in .onnx (ONNX) or .pt/.ts (TorchScript)"
        )
    return FORMATS[suffix]


def padded_index(size: Tensor | int, multiple: int) -> tuple[Tensor, Tensor]:
    """Row (or column) indices that pad a side of length ``size`` up to a multiple of ``multiple``.

    Returns ``(reflect, replicate)``: index vectors of length ``size + (-size mod multiple)``;
    gathering with ``reflect`` is reflect padding (valid only when the pad is smaller than
    ``size``; otherwise some entries are negative), with ``replicate`` replicate padding.
    ``size`` may be a traced/symbolic size, so the amount of padding stays part of the graph.
    """
    pad = (multiple - size % multiple) % multiple
    index = torch.arange(size + pad)
    reflect = torch.where(index < size, index, 2 * (size - 1) - index)
    replicate = torch.clamp(index, max=size - 1)
    return reflect, replicate


def pad_in_graph(x: Tensor, multiple: int) -> Tensor:
    """Pad ``x`` (B x C x H x W) at the bottom/right to multiples of ``multiple``, in-graph.

    Reflect padding when both sides can be reflected, else replicate padding (the rule of
    :func:`deblurlab.resample.pad_to_multiple`, so results match the Restorer's exactly).
    """
    if multiple <= 1:
        return x
    rows_reflect, rows_replicate = padded_index(x.shape[-2], multiple)
    cols_reflect, cols_replicate = padded_index(x.shape[-1], multiple)
    can_reflect = (rows_reflect.min() >= 0) & (cols_reflect.min() >= 0)
    rows = torch.where(can_reflect, rows_reflect, rows_replicate)
    cols = torch.where(can_reflect, cols_reflect, cols_replicate)
    return x.index_select(-2, rows).index_select(-1, cols)


class ExportModule(nn.Module):
    """``net`` as one image-to-image function for export: ``B x 3 x H x W`` in [0, 1] -> same size.

    Args:
        net: a deblurlab network (returns a list, the last item full size; ``size_multiple``).
        ensemble: None, ``"rot4"`` or ``"x8"`` (see :class:`~deblurlab.inference.SelfEnsemble`).
        clamp: clamp the output to [0, 1] (as the Restorer does by default).
    """

    def __init__(self, net: nn.Module, ensemble: str | None = None, clamp: bool = True) -> None:
        super().__init__()
        self.net = net.eval()
        self.model = SelfEnsemble(net, mode=ensemble) if ensemble else net
        self.ensemble, self.clamp = ensemble, clamp
        self.size_multiple = int(getattr(net, "size_multiple", 1))

    def forward(self, x: Tensor) -> Tensor:
        """Restore ``x``; the output has the input's size."""
        height, width = x.shape[-2], x.shape[-1]
        out = self.model(pad_in_graph(x, self.size_multiple))[-1]
        out = out[:, :, :height, :width]
        return out.clamp(0.0, 1.0) if self.clamp else out


def _example_input(module: ExportModule, size: tuple[int, int] = (60, 84)) -> Tensor:
    param = next(module.parameters(), None)
    device = param.device if param is not None else torch.device("cpu")
    return torch.rand(1, 3, *size, generator=torch.Generator().manual_seed(0)).to(device)


def export_onnx(
    module: ExportModule,
    path: str | Path,
    opset: int = DEFAULT_OPSET,
    example: Tensor | None = None,
) -> Path:
    """Write ``module`` as an ONNX file with dynamic batch, height and width.

    Uses PyTorch's TorchScript-based ONNX exporter (``dynamo=False``): it needs only the ``onnx``
    package, and it records the shape arithmetic of :func:`pad_in_graph` as graph operations. The
    example input's size does not matter (the network's own shape branches see a padded,
    divisible input, which every input becomes).
    """
    path = Path(path)
    example = _example_input(module) if example is None else example
    axes = {0: "batch", 2: "height", 3: "width"}
    with warnings.catch_warnings():
        # The legacy exporter announces its deprecation, and the tracer warns about the network's
        # Python branches on shapes; both are expected here (see the docstring).
        warnings.simplefilter("ignore")
        torch.onnx.export(
            module.eval(),
            (example,),
            str(path),
            dynamo=False,
            input_names=[INPUT_NAME],
            output_names=[OUTPUT_NAME],
            dynamic_axes={INPUT_NAME: axes, OUTPUT_NAME: axes},
            opset_version=opset,
        )
    return path


def export_torchscript(
    module: ExportModule, path: str | Path, example: Tensor | None = None
) -> Path:
    """Write ``module`` as a traced TorchScript file (``torch.jit.load`` reads it; any size)."""
    path = Path(path)
    example = _example_input(module) if example is None else example
    with warnings.catch_warnings(), torch.no_grad():
        warnings.simplefilter("ignore")
        traced = torch.jit.trace(module.eval(), (example,), check_trace=False)
        traced.save(str(path))
    return path


def load_exported(path: str | Path, threads: int | None = None) -> Callable[[Tensor], Tensor]:
    """A function ``run(x) -> y`` (CPU float32 tensors) for an exported file of either format.

    ONNX files run in onnxruntime (CPU provider); TorchScript files in ``torch.jit.load``.
    """
    path = Path(path)
    if export_format(path) == "torchscript":
        scripted = torch.jit.load(str(path), map_location="cpu").eval()

        def run_torchscript(x: Tensor) -> Tensor:
            with torch.inference_mode():
                return scripted(x.float().cpu())

        return run_torchscript

    import onnxruntime

    options = onnxruntime.SessionOptions()
    if threads:
        options.intra_op_num_threads = threads
    session = onnxruntime.InferenceSession(
        str(path), sess_options=options, providers=["CPUExecutionProvider"]
    )

    def run_onnx(x: Tensor) -> Tensor:
        (out,) = session.run([OUTPUT_NAME], {INPUT_NAME: x.float().cpu().numpy()})
        return torch.from_numpy(out)

    return run_onnx
