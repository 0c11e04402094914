"""The files in a run folder: their names and their contents, each defined here and nowhere else.

- ``run.json`` (:class:`RunIdentity`): who the run is, chosen when a training run starts;
- ``metrics.json`` (:class:`TrainMetrics`): a training run's final numbers;
- ``summary.json`` (:class:`EvalSummary`) and ``per_image.csv`` (:class:`ImageScores`, one line
  per image): what ``deblurlab-eval`` measured; a training run writes ``per_image.csv`` of its
  final model and ``per_image_best.csv`` of its best-by-validation one;
- ``sweep.json`` (:class:`SweepEvaluation`): which runs of a sweep ``deblurlab-eval sweep=``
  scored, and why it refused the others;
- ``images/test_crops/`` with its index ``crops.json`` (:class:`CropIndex`): the same centre crop
  of the first test images, blurry | output | sharp, saved by every run that scores a test set.

The commands write these files and the report reads them through the same classes, so a key
renamed on one side cannot go unnoticed on the other. Nothing here imports torch: the report and
the commands' ``--help`` read run folders without it.
"""

from __future__ import annotations

import csv
import dataclasses
import json
import math
import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar

from deblurlab.atomic import atomic_write, write_json
from deblurlab.errors import DataError

CROP_KINDS = ("blurry", "output", "sharp")


@dataclass(frozen=True)
class RunFolder:
    """The paths of a run folder's files."""

    path: Path

    @classmethod
    def of_checkpoint(cls, checkpoint: str | Path) -> RunFolder:
        """The training run that wrote ``checkpoint`` (``<run>/checkpoints/<file>``)."""
        return cls(Path(checkpoint).parent.parent)

    @property
    def run_json(self) -> Path:
        return self.path / "run.json"

    @property
    def metrics_json(self) -> Path:
        return self.path / "metrics.json"

    @property
    def summary_json(self) -> Path:
        return self.path / "summary.json"

    @property
    def sweep_json(self) -> Path:
        return self.path / "sweep.json"

    @property
    def per_image_csv(self) -> Path:
        return self.path / "per_image.csv"

    @property
    def per_image_best_csv(self) -> Path:
        """A training run's per-image scores of its best-by-validation model."""
        return self.path / "per_image_best.csv"

    @property
    def checkpoints(self) -> Path:
        return self.path / "checkpoints"

    @property
    def crops_dir(self) -> Path:
        return self.path / "images" / "test_crops"

    @property
    def crops_index(self) -> Path:
        return self.crops_dir / "crops.json"

    @property
    def hydra_config(self) -> Path:
        """The composed config Hydra saved for the run."""
        return self.path / ".hydra" / "config.yaml"

    @property
    def hydra_runtime(self) -> Path:
        """Hydra's own settings for the run (the config-group choices among them)."""
        return self.path / ".hydra" / "hydra.yaml"


# --- JSON objects <-> dataclasses ----------------------------------------------------------------

T = TypeVar("T")


def _read_json_object(path: Path) -> dict[str, Any]:
    try:
        data = json.loads(path.read_text())
    except (OSError, ValueError) as exc:
        raise DataError(f"{path}: not a readable JSON file ({type(exc).__name__})") from exc
    if not isinstance(data, dict):
        raise DataError(f"{path}: expected a JSON object, found {type(data).__name__}")
    return data


def _from_object(cls: type[T], data: dict[str, Any], path: Path, rest: str | None = None) -> T:
    """``cls`` from a JSON object: a missing required key is a one-line DataError naming the
    file; keys ``cls`` does not name go into its field ``rest`` (dropped when ``rest`` is None)."""
    known = {f.name for f in dataclasses.fields(cls)} - {rest}
    missing = [
        f.name
        for f in dataclasses.fields(cls)
        if f.name in known
        and f.name not in data
        and f.default is dataclasses.MISSING
        and f.default_factory is dataclasses.MISSING
    ]
    if missing:
        raise DataError(f"{path}: missing {', '.join(missing)}")
    values = {k: v for k, v in data.items() if k in known}
    if rest is not None:
        values[rest] = {k: v for k, v in data.items() if k not in known}
    return cls(**values)


def _to_object(obj: Any, rest: str | None = None) -> dict[str, Any]:
    """The JSON object of a dataclass: its fields in order (those marked ``omit_none`` left out
    when None) and the keys held in its field ``rest`` (a field of the same name wins)."""
    data: dict[str, Any] = {}
    for f in dataclasses.fields(obj):
        value = getattr(obj, f.name)
        if f.name == rest:
            data.update({k: v for k, v in value.items() if k not in data})
        elif value is not None or not f.metadata.get("omit_none"):
            data[f.name] = list(value) if isinstance(value, tuple) else value
    return data


def _finite(value: Any) -> float | None:
    """``value`` as a float, or None when it is missing, not a number, NaN or infinite."""
    if value is None or isinstance(value, bool | str):
        return None
    value = float(value)
    return value if math.isfinite(value) else None


_OMIT_NONE = {"omit_none": True}


# --- run.json ------------------------------------------------------------------------------------


@dataclass(frozen=True)
class RunIdentity:
    """Who a training run is (``run.json``): chosen once when the run starts and read back on
    ``resume=``, so a continued run logs into the same W&B run under the same name."""

    name: str
    group: str | None
    tags: list[str]
    wandb_id: str
    wandb_group: str

    def write(self, run_dir: Path) -> Path:
        return write_json(RunFolder(run_dir).run_json, _to_object(self))

    @classmethod
    def read(cls, run_dir: Path) -> RunIdentity | None:
        """The identity kept in ``run_dir``, or None when there is none yet (no file, or the
        empty file that claims a folder for a run that has not chosen its identity)."""
        path = RunFolder(run_dir).run_json
        if not path.is_file() or not path.read_text().strip():
            return None
        return _from_object(cls, _read_json_object(path), path)


# --- metrics.json --------------------------------------------------------------------------------


@dataclass(kw_only=True)
class TrainMetrics:
    """A training run's final numbers (``metrics.json``).

    On disk one flat object, as W&B keeps a run summary: the logged metrics under their logged
    names (``val/psnr``, ``val/psnr_best``, ``test/input_psnr``, ``test/runtime_s``,
    ``test/device``, ...) beside the fields below. Any logged metric is kept in :attr:`scores`,
    so a metric added to the LightningModule reaches the file without a change here.

    Both models are tested: the test scores of the final model (the headline, what the papers'
    code reports) end in ``_last`` (``test/psnr_last``, ``test/ssim_last``,
    ``test/ssim_matlab_last``), those of the best-by-validation checkpoint in ``_best``, with
    :attr:`best_selected_on`. Runs written before both were tested hold one ``test/psnr`` (of the
    best checkpoint); :meth:`test_score` reads either.
    """

    scores: dict[str, Any] = field(default_factory=dict)
    protocol: str
    # where the best checkpoint was chosen: test | val | train_holdout
    selected_on: str | None = None
    model: str
    name: str | None = None
    group: str | None = None
    num_params: int | None = None
    macs: int | None = None  # of the trained network at macs_size
    macs_size: list[int] | None = None
    test_macs: int | None = None  # of the test-time network (a self-ensemble counts every pass)
    best_ckpt: str | None = None
    # the score and the epoch the best checkpoint was chosen at, and on which images, e.g.
    # "val/psnr=27.31 at epoch 17 (step 8942) on test"; None: no checkpoint was chosen
    best_selected_on: str | None = None
    # times SLURM requeued the job before the attempt that finished (preemption, time limit);
    # left out of the file outside SLURM
    requeues: int | None = field(default=None, metadata=_OMIT_NONE)

    def score(self, key: str) -> float | None:
        """The logged metric ``key`` as a finite float, else None."""
        return _finite(self.scores.get(key))

    def test_score(self, metric: str, model: str = "last") -> float | None:
        """The test score ``metric`` (``psnr``, ``ssim``, ``ssim_matlab``) of ``model``
        (``last``: the final model, the headline; ``best``: the best-by-validation one). A run
        written before both were tested has one ``test/<metric>``, of its best checkpoint: it is
        that run's ``best``, and it has no ``last``."""
        if model not in ("last", "best"):
            raise ValueError(f"model must be 'last' or 'best', got {model!r}")
        if f"test/{metric}" in self.scores and f"test/{metric}_last" not in self.scores:
            return self.score(f"test/{metric}") if model == "best" else None
        return self.score(f"test/{metric}_{model}")

    @property
    def tested(self) -> bool:
        """Whether the run scored its test set."""
        return any(self.scores.get(k) is not None for k in ("test/psnr_last", "test/psnr"))

    def to_dict(self) -> dict[str, Any]:
        """The flat object written to ``metrics.json`` (and returned by ``deblurlab-train``)."""
        return _to_object(self, rest="scores")

    @classmethod
    def from_dict(cls, data: dict[str, Any], path: Path = Path("metrics.json")) -> TrainMetrics:
        return _from_object(cls, data, path, rest="scores")

    def write(self, run_dir: Path) -> Path:
        """Strict JSON (a NaN score is written as null), written whole or not at all."""
        return write_json(RunFolder(run_dir).metrics_json, self.to_dict())

    @classmethod
    def read(cls, run_dir: Path) -> TrainMetrics:
        path = RunFolder(run_dir).metrics_json
        return cls.from_dict(_read_json_object(path), path)


# --- summary.json and per_image.csv --------------------------------------------------------------


@dataclass(kw_only=True)
class EvalSummary:
    """What ``deblurlab-eval`` measured (``summary.json``): means over the images of
    ``per_image.csv``, the median seconds per image, and how they were obtained."""

    protocol: str
    protocol_description: str | None = None
    protocol_source: str | None = None  # command line | checkpoint | default
    ssim_variant: str | None = None
    model: str | None = None
    model_source: str | None = None  # command line | checkpoint
    checkpoint: str
    checkpoint_sha256: str | None = None
    split: str
    # the inference settings (deblurlab.inference.Restorer.settings)
    precision: str | None = None
    tile: int | None = None
    overlap: int | None = None
    ensemble: str | None = None
    clamp: bool | None = None
    channels_last: bool | None = None
    compile: bool | None = None
    device: str | None = None
    num_images: int | None = None
    psnr: float | None
    ssim: float | None
    input_psnr: float | None = None
    input_ssim: float | None = None
    # only under protocols that also report MATLAB's SSIM (left out of the file otherwise)
    ssim_matlab: float | None = field(default=None, metadata=_OMIT_NONE)
    input_ssim_matlab: float | None = field(default=None, metadata=_OMIT_NONE)
    ssim_matlab_variant: str | None = field(default=None, metadata=_OMIT_NONE)
    median_seconds: float | None = None
    warmup: int | None = None
    extra: dict[str, Any] = field(default_factory=dict)  # keys written by other versions

    def to_dict(self) -> dict[str, Any]:
        return _to_object(self, rest="extra")

    @classmethod
    def from_dict(cls, data: dict[str, Any], path: Path = Path("summary.json")) -> EvalSummary:
        return _from_object(cls, data, path, rest="extra")

    def write(self, run_dir: Path) -> Path:
        return write_json(RunFolder(run_dir).summary_json, self.to_dict())

    @classmethod
    def read(cls, run_dir: Path) -> EvalSummary:
        path = RunFolder(run_dir).summary_json
        return cls.from_dict(_read_json_object(path), path)


@dataclass(kw_only=True)
class ImageScores:
    """One line of ``per_image.csv``: the output's and the blurry input's scores of one image,
    and its share of the batch's restoration time."""

    name: str
    psnr: float
    ssim: float
    ssim_matlab: float | None = None
    input_psnr: float
    input_ssim: float
    input_ssim_matlab: float | None = None
    seconds: float


def write_per_image(run_dir: Path, rows: Sequence[ImageScores], best: bool = False) -> Path:
    """``per_image.csv`` (``best``: a training run's ``per_image_best.csv``); a column that is
    empty in every row (``ssim_matlab`` under a protocol without it) is left out."""
    columns = [
        f.name
        for f in dataclasses.fields(ImageScores)
        if any(getattr(row, f.name) is not None for row in rows)
    ]

    def write(f: Any) -> None:
        writer = csv.writer(f)
        writer.writerow(columns)
        writer.writerows([getattr(row, c) for c in columns] for row in rows)

    folder = RunFolder(run_dir)
    return atomic_write(
        folder.per_image_best_csv if best else folder.per_image_csv, write, mode="w"
    )


def read_per_image(run_dir: Path, best: bool = False) -> list[ImageScores]:
    """The rows of ``per_image.csv`` (``best``: ``per_image_best.csv``); DataError naming the
    file when it cannot be read."""
    folder = RunFolder(run_dir)
    path = folder.per_image_best_csv if best else folder.per_image_csv
    try:
        with open(path, newline="") as f:
            lines = list(csv.DictReader(f))
    except OSError as exc:
        raise DataError(f"{path}: not readable ({exc.strerror})") from exc
    try:
        return [
            ImageScores(**{k: v if k == "name" else float(v) for k, v in line.items()})
            for line in lines
        ]
    except (TypeError, ValueError) as exc:
        raise DataError(f"{path}: not a per-image score table ({exc})") from exc


# --- sweep.json ----------------------------------------------------------------------------------


@dataclass(kw_only=True)
class SweepEvaluation:
    """What ``deblurlab-eval sweep=DIR`` did (``sweep.json``): the sweep folder, the checkpoint
    file scored in each run, the scored runs' evaluation folders, and each refused run's folder
    with the reason."""

    sweep: str
    checkpoint: str
    scored: list[str] = field(default_factory=list)
    refused: dict[str, str] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        return _to_object(self)

    def write(self, run_dir: Path) -> Path:
        return write_json(RunFolder(run_dir).sweep_json, self.to_dict())

    @classmethod
    def read(cls, run_dir: Path) -> SweepEvaluation:
        path = RunFolder(run_dir).sweep_json
        return _from_object(cls, _read_json_object(path), path)


# --- images/test_crops/ --------------------------------------------------------------------------


@dataclass(frozen=True)
class CropEntry:
    """One test image's crop: its name, the box ``(top, left, height, width)`` cut from it, and
    the PNG file of each kind (blurry, output, sharp) in the crops folder."""

    name: str
    box: tuple[int, int, int, int]
    blurry: str
    output: str
    sharp: str

    @classmethod
    def named(cls, index: int, name: str, box: tuple[int, int, int, int]) -> CropEntry:
        """The entry of the ``index``-th image (by name): files ``<index>_<name>_<kind>.png``."""
        stem = f"{index}_" + re.sub(r"[^A-Za-z0-9._-]+", "_", Path(name).with_suffix("").as_posix())
        return cls(name, tuple(box), *(f"{stem}_{kind}.png" for kind in CROP_KINDS))

    def file(self, kind: str) -> str:
        return {"blurry": self.blurry, "output": self.output, "sharp": self.sharp}[kind]


@dataclass(frozen=True)
class CropIndex:
    """``crops.json``: the crop size asked for and the saved crops, in name order."""

    size: int
    crops: list[CropEntry]

    def write(self, run_dir: Path) -> Path:
        data = {"size": self.size, "crops": [_to_object(entry) for entry in self.crops]}
        return write_json(RunFolder(run_dir).crops_index, data)

    @classmethod
    def read(cls, run_dir: Path) -> CropIndex | None:
        """The index in ``run_dir``, or None when the run saved no crops; DataError when the
        index cannot be read."""
        path = RunFolder(run_dir).crops_index
        if not path.is_file():
            return None
        data = _read_json_object(path)
        try:
            crops = [
                CropEntry(**{**entry, "box": tuple(int(v) for v in entry["box"])})
                for entry in data["crops"]
            ]
            return cls(int(data["size"]), crops)
        except (KeyError, TypeError, ValueError) as exc:
            raise DataError(f"{path}: not a test-crop index ({type(exc).__name__}: {exc})") from exc
