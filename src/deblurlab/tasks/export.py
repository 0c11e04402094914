"""Export a checkpoint's network to ONNX or TorchScript and check it: what ``deblurlab-export`` does.

The network is loaded as every command loads it (:func:`deblurlab.inference.load_restorer`, on the
CPU), wrapped in :class:`deblurlab.inference.export.ExportModule` (padding, self-ensemble, crop and
clamp inside the graph), written to a temporary file beside ``output`` and checked on a real
photograph: the exported file's output against the Restorer's (max abs difference) and the median
time of each. Only a file that passes the check (difference <= ``check.tolerance``) is moved to
``output``; an existing ``output`` is kept unless ``overwrite=true``.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import numpy as np
import torch
from omegaconf import DictConfig

from deblurlab.data.io import read_image
from deblurlab.data.photos import BUILTIN_PHOTOS, load_builtin_photo
from deblurlab.errors import ConfigError, ExportError
from deblurlab.inference.export import (
    DEFAULT_OPSET,
    ExportModule,
    export_format,
    export_onnx,
    export_torchscript,
    load_exported,
)
from deblurlab.inference.loading import load_restorer, trust_list
from deblurlab.timing import median_seconds


def check_photo(photo: str, size: Any) -> tuple[str, torch.Tensor]:
    """The check image as a 1 x 3 x H x W float tensor: a built-in photograph or an image file,
    centre-cropped to ``size`` ([height, width]) when given."""
    if photo in BUILTIN_PHOTOS:
        image = load_builtin_photo(photo).astype(np.float32) / 255.0
    else:
        image = read_image(photo)
    label = f"{photo} ({image.shape[0]} x {image.shape[1]})"
    if size is not None:
        if len(size) != 2 or min(int(s) for s in size) < 1:
            raise ConfigError(f"check.size must be [height, width] or null, got {list(size)}")
        height, width = min(int(size[0]), image.shape[0]), min(int(size[1]), image.shape[1])
        top, left = (image.shape[0] - height) // 2, (image.shape[1] - width) // 2
        image = image[top : top + height, left : left + width]
        label = f"{photo}, {height} x {width} crop"
    return label, torch.from_numpy(np.ascontiguousarray(image)).permute(2, 0, 1)[None]


def export(cfg: DictConfig) -> dict[str, Any]:
    """Write ``cfg.ckpt_path``'s network to ``cfg.output`` and check it; returns the check results."""
    output = Path(str(cfg.output)).expanduser()
    fmt = export_format(output)
    if output.exists() and not cfg.get("overwrite", False):
        raise ConfigError(f"output={output} exists; choose another name or pass overwrite=true")
    check = cfg.get("check") or {}
    tolerance = float(check.get("tolerance", 1e-4))
    repeats = int(check.get("repeats", 3))
    label, photo = check_photo(str(check.get("photo", "astronaut")), check.get("size"))

    restorer, loaded = load_restorer(
        cfg.ckpt_path,
        model_cfg=cfg.get("model"),
        ensemble=cfg.get("ensemble"),
        device="cpu",
        trust=trust_list(cfg),
    )
    module = ExportModule(restorer.net, ensemble=restorer.ensemble, clamp=restorer.clamp)
    output.parent.mkdir(parents=True, exist_ok=True)
    partial = output.with_name(f".{output.name}.partial{output.suffix}")
    try:
        if fmt == "onnx":
            export_onnx(module, partial, opset=int(cfg.get("opset", DEFAULT_OPSET)))
        else:
            export_torchscript(module, partial)
        run = load_exported(partial, threads=torch.get_num_threads())
        expected = restorer(photo)
        got = run(photo)
        if got.shape != expected.shape:
            raise ExportError(
                f"{output}: exported output has shape {tuple(got.shape)}, "
                f"expected {tuple(expected.shape)}"
            )
        diff = float((got - expected).abs().max())
        if not diff <= tolerance:
            raise ExportError(
                f"{output}: exported output differs from the Restorer's by {diff:.3g} "
                f"(> check.tolerance={tolerance:g}); nothing written"
            )
        restorer_s = median_seconds(lambda: restorer(photo), repeats=repeats)
        exported_s = median_seconds(lambda: run(photo), repeats=repeats)
        os.replace(partial, output)
    finally:
        partial.unlink(missing_ok=True)

    runtime = "onnxruntime" if fmt == "onnx" else "TorchScript"
    result = {
        "output": str(output),
        "format": fmt,
        "model": loaded.model_cfg.get("name"),
        "ensemble": restorer.ensemble,
        "size_mb": output.stat().st_size / 1e6,
        "check_image": label,
        "max_abs_diff": diff,
        "tolerance": tolerance,
        "restorer_seconds": restorer_s,
        "exported_seconds": exported_s,
        "runtime": runtime,
        "threads": torch.get_num_threads(),
    }
    print(
        f"deblurlab export ({result['model']}, {fmt})\n"
        f"  file         : {output} ({result['size_mb']:.1f} MB)\n"
        f"  check image  : {label}\n"
        f"  max abs diff : {diff:.3g} vs the Restorer (tolerance {tolerance:g})\n"
        f"  speed        : Restorer {restorer_s:.4g} s, {runtime} {exported_s:.4g} s per image "
        f"(median of {repeats}, {result['threads']} threads; "
        f"{restorer_s / exported_s:.2f}x)",
        flush=True,
    )
    return result
