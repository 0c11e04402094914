"""The one LightningDataModule: paired crops for training, full frames for validation and test.

It knows nothing of file layouts or models: a *source* (the synthetic generator, or a paired
folder layout) hands it three datasets of ``(blurry, sharp, name)`` with H x W x 3 images, float32
in [0, 1] or uint8/uint16 as stored (cropped first, converted after: a crop of a memory-mapped
cached image reads only its own pixels); the DataModule adds the paired transforms, tensors and
loaders. A source may offer ``preflight(splits, min_size)``, which ``setup()`` calls before any
dataset is built, so broken data stops a run before training starts.
"""

from __future__ import annotations

import logging
import os
from typing import Any, Protocol

import numpy as np
import pytorch_lightning as pl
import torch
from torch.utils.data import DataLoader, Dataset, Subset

from deblurlab.data.resumable import ResumableSampler, draw_pair, item_stream
from deblurlab.data.transforms import (
    PairTransform,
    apply_pair,
    paired_eval_transform,
    paired_train_transform,
    to_tensor,
)
from deblurlab.errors import ConfigError, DataError

log = logging.getLogger(__name__)


class PairSource(Protocol):
    """What a dataset source provides to :class:`DeblurDataModule`."""

    def train_dataset(self) -> Dataset: ...
    def val_dataset(self) -> Dataset: ...
    def test_dataset(self) -> Dataset: ...
    def describe(self) -> str: ...


STAGE_SPLITS: dict[str | None, tuple[str, ...]] = {
    None: ("train", "val", "test"),
    "fit": ("train", "val"),
    "validate": ("val",),
    "test": ("test",),
    "predict": (),
}


class PairedTensors(Dataset):
    """Wrap a raw pair dataset: apply a paired transform and return the batch dict of tensors."""

    def __init__(
        self,
        pairs: Dataset,
        transform: PairTransform | None,
        crop_size: int | None,
        ship_uint8: bool = False,
    ) -> None:
        self.pairs = pairs
        self.transform = transform
        self.crop_size = crop_size
        self.ship_uint8 = ship_uint8
        self._seed: int | None = None

    def _reseed(self) -> None:
        """Seed the transform from torch's RNG once per process, for items asked for by index
        alone (training items come with their own stream from the sampler).

        The transform keeps its own generator, made when the transform is built: loader workers
        forked from one process would all replay the same crops, and a seeded run would not be
        reproducible. ``torch.initial_seed()`` differs per worker (and follows the run's seed).
        """
        seed = torch.initial_seed() % 2**32
        if seed != self._seed and self.transform is not None:
            self.transform.set_random_seed(seed)
            self._seed = seed

    def __len__(self) -> int:
        return len(self.pairs)

    def __getitem__(self, key: int | tuple[int, int]) -> dict[str, Any]:
        """Item ``key``: an index, or ``(index, item seed)`` from a
        :class:`~deblurlab.data.resumable.ResumableSampler` (then everything random about the
        item, the synthetic blur and the crop/flips, is drawn in sequence from the one stream
        that seed makes, see :mod:`deblurlab.data.resumable`)."""
        if isinstance(key, tuple):
            index, seed = key
            with torch.random.fork_rng(devices=[]):
                # the CPU generator only: torch.manual_seed also reseeds CUDA (not restored by
                # this fork) and records a traceback for it, milliseconds per item
                torch.default_generator.manual_seed(seed)
                return self._item(index, item_stream(seed))
        return self._item(key, None)

    def _item(self, index: int, rng: np.random.Generator | None) -> dict[str, Any]:
        blurry, sharp, name = draw_pair(self.pairs, index, rng)
        if blurry.shape != sharp.shape:
            raise DataError(
                f"{name}: blurry {blurry.shape[1]}x{blurry.shape[0]} and sharp "
                f"{sharp.shape[1]}x{sharp.shape[0]} differ in size"
            )
        if self.crop_size is not None and min(blurry.shape[:2]) < self.crop_size:
            raise DataError(
                f"{name}: image {blurry.shape[1]}x{blurry.shape[0]} is smaller than "
                f"data.crop_size={self.crop_size}"
            )
        if rng is None:
            self._reseed()
        blurry, sharp = apply_pair(self.transform, blurry, sharp, rng)
        if self.ship_uint8 and blurry.dtype == sharp.dtype == np.uint8:
            # bytes through the loader's shared memory; to_float_batch converts after transfer
            return {"blur": to_chw(blurry), "sharp": to_chw(sharp), "name": name}
        return {"blur": to_tensor(blurry), "sharp": to_tensor(sharp), "name": name}


def to_chw(image: np.ndarray) -> torch.Tensor:
    """H x W x C array -> C x H x W tensor of the same dtype (contiguous)."""
    return torch.from_numpy(np.ascontiguousarray(np.asarray(image).transpose(2, 0, 1)))


def to_float_batch(batch: Any) -> Any:
    """uint8 images of a batch dict -> float32 in [0, 1], the same floats as ``to_tensor``."""
    if isinstance(batch, dict):
        for key in ("blur", "sharp"):
            value = batch.get(key)
            if isinstance(value, torch.Tensor) and value.dtype == torch.uint8:
                batch[key] = value.float().div_(255.0)
    return batch


class DeblurDataModule(pl.LightningDataModule):
    """Serve a :class:`PairSource` to Lightning.

    Args:
        source: provides the raw train/val/test datasets.
        crop_size: square training crop (the same window in both images).
        batch_size: training batch size per device.
        eval_batch_size: validation/test batch size (1 for full frames of varying size).
        num_workers: loader processes, or ``"auto"``: one less than the CPUs SLURM allocated to
            this task (``SLURM_CPUS_PER_TASK``; the training process keeps one), else 4.
        hflip, vflip, rot90: probabilities of the paired training augmentations.
        eval_crop: optional centre crop for validation and test (quick validation); None = full frames.
        pin_memory: pin host memory, or ``"auto"``: pinned when the Trainer runs on CUDA
            (asynchronous host-to-device copies).
        root: the dataset location (``data.root``); the DataModule only records it, the configs
            hand it to the source by interpolation (``source.root: ${data.root}``).
        val_from_train: hold this many training pairs out (spread evenly over the training split)
            and validate, i.e. select the best checkpoint, on them instead of the source's
            validation split (GoPro, HIDE and RealBlur have none: their validation is the test
            set, as in the papers' code). None: the source's validation split.
        allow_slow_decode: on a GPU, train even when the training images are decoded from
            their files for every crop (far too slow to feed a GPU; see :meth:`check_feeds_gpu`).
        drop_last: drop the last, smaller training batch of each epoch (set by
            ``model.compile=true``, so that one compiled graph serves every step).
        val_every_n_epochs: how often this data is validated; the DataModule only records it,
            the trainer configs read it (``trainer.check_val_every_n_epoch``), so that a dataset
            of full frames (GoPro: 1111 at 1280 x 720) is validated at its paper's cadence.
    """

    def __init__(
        self,
        source: PairSource,
        crop_size: int = 256,
        batch_size: int = 4,
        eval_batch_size: int = 1,
        num_workers: int | str = 0,
        hflip: float = 0.5,
        vflip: float = 0.0,
        rot90: float = 0.0,
        eval_crop: int | None = None,
        pin_memory: bool | str = False,
        root: str | None = None,
        val_from_train: int | None = None,
        allow_slow_decode: bool = False,
        drop_last: bool = False,
        val_every_n_epochs: int = 1,
    ) -> None:
        super().__init__()
        if crop_size <= 0:
            raise ConfigError(f"data.crop_size must be positive, got {crop_size}")
        if batch_size <= 0:
            raise ConfigError(f"data.batch_size must be positive, got {batch_size}")
        for key, probability in (("hflip", hflip), ("vflip", vflip), ("rot90", rot90)):
            if isinstance(probability, bool) or not 0.0 <= float(probability) <= 1.0:
                raise ConfigError(f"data.{key} is a probability in [0, 1], got {probability!r}")
        self.source = source
        self.crop_size = crop_size
        self.batch_size = batch_size
        self.eval_batch_size = eval_batch_size
        self.num_workers = workers_for(num_workers)
        self.augment = {"hflip": hflip, "vflip": vflip, "rot90": rot90}
        self.eval_crop = eval_crop
        if pin_memory not in (True, False, "auto"):
            raise ConfigError(f"data.pin_memory must be true, false or auto, got {pin_memory!r}")
        self.pin_memory = pin_memory
        self.root = root
        self.allow_slow_decode = allow_slow_decode
        self.drop_last = drop_last
        self.val_every_n_epochs = val_every_n_epochs
        if val_from_train is not None and (
            not isinstance(val_from_train, int) or val_from_train <= 0
        ):
            raise ConfigError(
                f"data.val_from_train must be a positive integer or null, got {val_from_train!r}"
            )
        self.val_from_train = val_from_train
        self.train_set: Dataset | None = None
        self.train_sampler: ResumableSampler | None = None
        self._resume_at: tuple[int, int] | None = None
        self.val_set: Dataset | None = None
        self.test_set: Dataset | None = None

    def setup(self, stage: str | None = None) -> None:
        """Check the data of ``stage`` (fit, validate, test), then build its datasets."""
        needed = {
            "train": self.train_set is None,
            "val": self.val_set is None,
            "test": self.test_set is None,
        }
        splits = [s for s in STAGE_SPLITS.get(stage, STAGE_SPLITS[None]) if needed[s]]
        if not splits:
            return
        log.info("data: %s", self.source.describe())
        preflight = getattr(self.source, "preflight", None)
        if preflight is not None:
            checked = splits
            if self.val_from_train:  # validation pairs come from the training split
                checked = list(dict.fromkeys("train" if s == "val" else s for s in splits))
            preflight(checked, min_size=self.crop_size)
        eval_transform = paired_eval_transform(self.eval_crop)
        if "train" in splits:
            self.train_set = self._wrap(
                "train",
                self._train_pairs()[0],
                paired_train_transform(self.crop_size, **self.augment),
                self.crop_size,
                ship_uint8=True,
            )
            self.check_feeds_gpu(self.train_set.pairs)
        if "val" in splits:
            pairs = self._train_pairs()[1] if self.val_from_train else self.source.val_dataset()
            self.val_set = self._wrap("val", pairs, eval_transform, None)
        if "test" in splits:
            self.test_set = self._wrap("test", self.source.test_dataset(), eval_transform, None)

    def _on_cuda(self) -> bool:
        trainer = getattr(self, "trainer", None)
        return trainer is not None and trainer.strategy.root_device.type == "cuda"

    def check_feeds_gpu(self, pairs: Dataset) -> None:
        """On a GPU, refuse training pairs decoded from image files for every crop (about 11
        pairs/s per loader worker for 1280x720 PNGs, a hundredth of what a GPU step consumes):
        one line giving the ``deblurlab-prepare`` command, unless ``data.allow_slow_decode``."""
        decodes = getattr(getattr(pairs, "dataset", pairs), "decodes_files", None)  # or a Subset
        if self.allow_slow_decode or not self._on_cuda() or decodes is None or not decodes():
            return
        root = f" data.root={self.root}" if self.root else ""
        raise DataError(
            "data: the training images would be decoded from their files for every crop, too "
            f"slow to feed a GPU: run `deblurlab-prepare data=<this data option>{root}` once "
            "to build the decoded cache, or set data.allow_slow_decode=true"
        )

    def _train_pairs(self) -> tuple[Dataset, Dataset | None]:
        """The training pairs, and the held-out validation pairs when ``val_from_train`` is set."""
        pairs = self.source.train_dataset()
        if not self.val_from_train:
            return pairs, None
        n = len(pairs)  # type: ignore[arg-type]
        if self.val_from_train >= n:
            raise ConfigError(
                f"data.val_from_train={self.val_from_train} leaves no training pairs (of {n})"
            )
        held = set(np.linspace(0, n - 1, self.val_from_train).round().astype(int).tolist())
        kept = [i for i in range(n) if i not in held]
        return Subset(pairs, kept), Subset(pairs, sorted(held))

    def selected_on(self) -> str:
        """Which images validation (checkpoint selection) scores: ``train_holdout`` (pairs held
        out of the training split), ``test`` (no validation split: the test set, as the papers'
        code does) or ``val`` (a separate validation split)."""
        if self.val_from_train:
            return "train_holdout"
        split_of = getattr(self.source, "validation_split", None)
        return split_of() if split_of is not None else "val"

    @staticmethod
    def _wrap(
        split: str,
        pairs: Dataset,
        transform: PairTransform | None,
        crop_size: int | None,
        ship_uint8: bool = False,
    ) -> PairedTensors:
        describe = getattr(pairs, "describe", None)
        if describe is not None:  # e.g. "2103 pairs, from the decoded cache"
            log.info("data: %s: %s", split, describe())
        return PairedTensors(pairs, transform, crop_size, ship_uint8)

    def on_after_batch_transfer(self, batch: Any, dataloader_idx: int) -> Any:
        """Training crops travel from the loader workers as uint8 (a quarter of the bytes of
        float32); they become float32 in [0, 1] here, in the training process, on its device."""
        return to_float_batch(batch)

    def _loader(
        self, dataset: Dataset | None, batch_size: int, shuffle: bool, **extra: Any
    ) -> DataLoader:
        assert dataset is not None, "call setup() first"
        return DataLoader(
            dataset,
            batch_size=batch_size,
            shuffle=shuffle,
            num_workers=self.num_workers,
            pin_memory=self._on_cuda() if self.pin_memory == "auto" else bool(self.pin_memory),
            persistent_workers=self.num_workers > 0,
            **extra,
        )

    def resume_at(self, epoch: int, batches: int) -> None:
        """Continue training at batch ``batches`` of ``epoch`` (a resumed run): the next training
        loader skips the batches already consumed."""
        self._resume_at = (int(epoch), int(batches))
        if self.train_sampler is not None:
            self._apply_resume(self.train_sampler)

    def _apply_resume(self, sampler: ResumableSampler) -> None:
        if self._resume_at is not None:
            epoch, batches = self._resume_at
            sampler.set_epoch(epoch)
            sampler.skip_in_epoch(epoch, batches * self.batch_size)
            self._resume_at = None

    def train_dataloader(self) -> DataLoader:
        """Shuffled training batches; the order and every item's randomness derive from the
        run's seed (``torch.initial_seed()``, set by ``seed_everything``), the epoch and the
        index only (see :mod:`deblurlab.data.resumable`)."""
        assert self.train_set is not None, "call setup() first"
        seed = torch.initial_seed() % 2**31
        self.train_sampler = ResumableSampler(self.train_set, seed=seed)
        self._apply_resume(self.train_sampler)
        # the loader's own generator: creating an iterator draws nothing from the global RNG
        generator = torch.Generator().manual_seed(seed)
        return self._loader(
            self.train_set,
            self.batch_size,
            shuffle=False,
            sampler=self.train_sampler,
            generator=generator,
            drop_last=self.drop_last,
        )

    def _frames(self, frames: Dataset | None) -> Dataset | None:
        """Full frames reach a Trainer as uint8 (a 1280x720 frame: 2.6 MB instead of 11 MB per
        image) and become float32 on its device (:meth:`on_after_batch_transfer`); a loader
        used without a Trainer (``deblurlab-eval``'s own loop) yields float32 as before."""
        if isinstance(frames, PairedTensors):
            frames.ship_uint8 = getattr(self, "trainer", None) is not None
        return frames

    def val_dataloader(self) -> DataLoader:
        frames = self._frames(self.val_set)
        return self._loader(frames, self.eval_batch_size, shuffle=False, drop_last=False)

    def test_dataloader(self) -> DataLoader:
        frames = self._frames(self.test_set)
        return self._loader(frames, self.eval_batch_size, shuffle=False, drop_last=False)


def workers_for(num_workers: int | str, environ: dict[str, str] | None = None) -> int:
    """``data.num_workers``: a count as given, or ``"auto"``: ``SLURM_CPUS_PER_TASK - 1``
    (at least 1) under SLURM, else 4."""
    if num_workers == "auto":
        cpus = (os.environ if environ is None else environ).get("SLURM_CPUS_PER_TASK", "")
        return max(1, int(cpus) - 1) if cpus.isdigit() else 4
    if isinstance(num_workers, bool) or not isinstance(num_workers, int) or num_workers < 0:
        raise ConfigError(f"data.num_workers must be a count >= 0 or auto, got {num_workers!r}")
    return num_workers
