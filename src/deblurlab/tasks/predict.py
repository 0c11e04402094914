"""Deblur real photos (files, folders or globs) with a checkpoint: what ``deblurlab-predict`` does.

Reads png, jpg, webp, tif (any size, 8 or 16 bit, grayscale or RGB(A)); writes ``<name>.png``
(8-bit, rounded) into ``output``. Inputs are never overwritten: an output folder that holds an
input, or two inputs with the same name, are refused before anything runs. A file that cannot be
read is reported in one line and skipped.
"""

from __future__ import annotations

import glob
import logging
import sys
from pathlib import Path
from typing import Any

import torch
from omegaconf import DictConfig
from tqdm import tqdm

from deblurlab.data.io import is_image_file, read_image, write_image
from deblurlab.errors import ConfigError, DataError
from deblurlab.inference.loading import load_restorer_from_config

log = logging.getLogger("deblurlab")

FORMATS: tuple[str, ...] = ("png", "tif", "webp", "jpg")


def collect_inputs(spec: str) -> list[Path]:
    """The image files named by ``spec``: one file, a folder (its images, not recursive) or a glob."""
    path = Path(spec).expanduser()
    if path.is_file():
        return [path]
    if path.is_dir():
        files = sorted(p for p in path.iterdir() if p.is_file() and is_image_file(p))
        if not files:
            raise DataError(f"{path}: input folder contains no images ({', '.join(FORMATS)}, ...)")
        return files
    if glob.has_magic(spec):
        files = sorted(Path(p) for p in glob.glob(str(path), recursive=True))
        files = [p for p in files if p.is_file() and is_image_file(p)]
        if not files:
            raise DataError(f"{spec}: input pattern matches no images")
        return files
    raise DataError(f"{spec}: input not found (a file, a folder or a glob pattern)")


def plan_outputs(inputs: list[Path], output: Path, fmt: str) -> list[tuple[Path, Path]]:
    """Pair every input with its output file ``output/<stem>.<fmt>``; refuse any risk to an input."""
    out_dir = output.resolve()
    for src in inputs:
        if src.resolve().parent == out_dir:
            raise ConfigError(
                f"output={output} is the folder of input {src.name}; choose another output folder "
                "(inputs are never overwritten)"
            )
    plan: list[tuple[Path, Path]] = []
    taken: dict[Path, Path] = {}
    for src in inputs:
        dst = output / f"{src.stem}.{fmt}"
        if dst in taken:
            raise ConfigError(
                f"inputs {taken[dst]} and {src} would both be written to {dst}; "
                "predict them into different output folders"
            )
        taken[dst] = src
        plan.append((src, dst))
    return plan


def predict(cfg: DictConfig) -> dict[str, Any]:
    """Deblur ``cfg.input`` with ``cfg.ckpt_path`` into ``cfg.output``; returns counts and paths."""
    fmt = str(cfg.get("format", "png")).lower().lstrip(".")
    if fmt not in FORMATS:
        raise ConfigError(f"format must be one of {', '.join(FORMATS)}, got {cfg.format!r}")
    if cfg.get("output") in (None, ""):
        raise ConfigError("output: pass output=<folder> for the restored images")
    output = Path(str(cfg.output)).expanduser()
    plan = plan_outputs(collect_inputs(str(cfg.input)), output, fmt)
    restorer, loaded = load_restorer_from_config(cfg)
    log.info("%s on %s: %s", loaded.model_cfg.get("name"), restorer.device, restorer)

    written: list[str] = []
    skipped: list[str] = []
    progress = tqdm(plan, desc="predict", unit="img", file=sys.stderr)
    for src, dst in progress:
        try:
            image = read_image(src)
        except DataError as exc:
            skipped.append(str(src))
            progress.write(f"skipped: {exc}", file=sys.stderr)
            continue
        x = torch.from_numpy(image).permute(2, 0, 1)[None]
        restored = restorer(x)[0].permute(1, 2, 0).cpu().numpy()
        try:
            write_image(dst, restored)
        except DataError as exc:
            skipped.append(str(src))
            progress.write(f"skipped: {exc}", file=sys.stderr)
            continue
        written.append(str(dst))
    progress.close()
    if not written:
        raise DataError(f"{cfg.input}: no image could be read ({len(skipped)} skipped)")
    note = f" ({len(skipped)} skipped)" if skipped else ""
    print(f"restored {len(written)} of {len(plan)} images{note} -> {output}", flush=True)
    return {"output": str(output), "written": written, "skipped": skipped}
