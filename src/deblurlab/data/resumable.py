"""Training order and randomness that a killed run can continue exactly.

Every training item is a pure function of ``(seed, epoch, index)``: :class:`ResumableSampler`
draws the epoch's order from ``seed + epoch`` and hands each index out together with its own
item seed. The item's stream (:func:`item_stream`, one numpy generator made from that seed alone)
supplies every random choice of the item, in sequence: first the source's (the synthetic blur's
parameters; a dataset on disk draws nothing), then the crop row, crop column, horizontal flip,
vertical flip, whether to turn and the quarter turns (:mod:`deblurlab.data.transforms`).
Consecutive draws of one generator are independent, so no choice is tied to another. Nothing
depends on which loader worker (if any) draws an item or on what was drawn before, so

- ``num_workers`` 0, 2 or 8 give the same batches (same seed, same losses);
- a run continued from a checkpoint taken after batch ``k`` of epoch ``e`` only needs ``(e, k)``:
  the sampler skips the ``k`` batches already consumed and the rest of the epoch is what the
  uninterrupted run would have seen.
"""

from __future__ import annotations

import math
from collections.abc import Iterator
from typing import Any

import numpy as np
import torch
import torch.distributed as dist
from torch.utils.data import Dataset, DistributedSampler, Subset


def item_seed(seed: int, epoch: int, index: int) -> int:
    """The seed of training item ``index`` in ``epoch`` (independent streams per item)."""
    return int(np.random.SeedSequence([seed, epoch, index]).generate_state(1)[0])


def item_stream(seed: int) -> np.random.Generator:
    """The one generator that every random choice of the item with ``item_seed`` ``seed`` draws
    from, in sequence."""
    return np.random.default_rng(seed)


def draw_pair(pairs: Dataset, index: int, rng: np.random.Generator | None) -> Any:
    """Item ``index`` of ``pairs``, drawing its randomness from ``rng`` when given.

    A dataset whose items are random (the synthetic blur) offers ``draw(index, rng)``; any other
    dataset is indexed as usual. ``Subset`` wrappers (``data.val_from_train``) are looked through.
    """
    while isinstance(pairs, Subset):
        pairs, index = pairs.dataset, pairs.indices[index]
    draw = getattr(pairs, "draw", None)
    if rng is not None and draw is not None:
        return draw(index, rng)
    return pairs[index]


class ResumableSampler(DistributedSampler):
    """Shuffled (or ordered) indices per epoch, sharded over ranks, resumable mid-epoch.

    Yields ``(index, item_seed)`` pairs. A subclass of DistributedSampler, so Lightning leaves it
    in place under DDP (each rank takes every ``num_replicas``-th index, as DistributedSampler
    does) and calls :meth:`set_epoch` before every epoch.

    Args:
        dataset: the training dataset.
        seed: the run's seed (order and item seeds derive from it).
        shuffle: a new random order every epoch.
        num_replicas, rank: DDP ranks; by default from torch.distributed when initialised, else 1/0.
    """

    def __init__(
        self,
        dataset: Dataset,
        seed: int,
        shuffle: bool = True,
        num_replicas: int | None = None,
        rank: int | None = None,
    ) -> None:
        distributed = dist.is_available() and dist.is_initialized()
        if num_replicas is None:
            num_replicas = dist.get_world_size() if distributed else 1
        if rank is None:
            rank = dist.get_rank() if distributed else 0
        super().__init__(dataset, num_replicas=num_replicas, rank=rank, shuffle=shuffle, seed=seed)
        self._skip_epoch = -1
        self._skip = 0

    def skip_in_epoch(self, epoch: int, items: int) -> None:
        """Leave out the first ``items`` indices (of this rank) of ``epoch``, once."""
        self._skip_epoch, self._skip = epoch, max(0, int(items))

    def __iter__(self) -> Iterator[tuple[int, int]]:  # type: ignore[override]
        n = len(self.dataset)  # type: ignore[arg-type]
        if self.shuffle:
            generator = torch.Generator()
            generator.manual_seed(self.seed + self.epoch)
            indices = torch.randperm(n, generator=generator).tolist()
        else:
            indices = list(range(n))
        if self.drop_last:
            indices = indices[: self.total_size]
        elif self.total_size > n:  # pad to a multiple of the ranks, as DistributedSampler does
            indices += (indices * math.ceil((self.total_size - n) / max(n, 1)))[
                : self.total_size - n
            ]
        indices = indices[self.rank : self.total_size : self.num_replicas]
        skip = self._skip if self._skip_epoch == self.epoch else 0
        self._skip_epoch, self._skip = -1, 0
        epoch, seed = self.epoch, self.seed
        return iter([(i, item_seed(seed, epoch, i)) for i in indices[skip:]])
