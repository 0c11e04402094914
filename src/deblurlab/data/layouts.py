"""Where the image pairs of each dataset layout live: discovery only (no decoding).

Each ``*_pairs`` function returns a sorted list of :class:`Pair` for one split, or raises a
one-line DataError naming the folder or files at fault (missing or empty folders, unpaired
files, list files that point nowhere).

Layouts (``root`` is ``data.root``):
- ``folder``: ``root/{train,val,test}/{blur,sharp}/<name>.<ext>``, pairs matched by file name
  (stem: the blurry file may be a JPEG and the sharp one a PNG).
- ``gopro``: the original ``GOPRO_Large/{train,test}/<sequence>/{blur,blur_gamma,sharp}/<frame>.png``
  (``root`` may be ``GOPRO_Large`` or its parent) or the flattened ``{train,test}/{blur,sharp}/``;
  names are ``<sequence>_<frame>`` in both, so results compare across layouts.
- ``realblur_j`` / ``realblur_r``: the official ``RealBlur_{J,R}_{train,test}_list.txt`` in
  ``root``; each line holds a ground-truth path and a blurry path relative to ``root``.
- ``hide``: ``HIDE_dataset/test/<subfolder>/<name>.png`` blurry, ``HIDE_dataset/GT/<name>.png``
  sharp (``GT/`` also holds the training images' partners, which are not required here).
"""

from __future__ import annotations

import errno
from dataclasses import dataclass
from pathlib import Path

from deblurlab.data.checks import count, listing
from deblurlab.data.io import IMAGE_SUFFIXES, is_image_file
from deblurlab.errors import ConfigError, DataError

LAYOUTS: tuple[str, ...] = ("gopro", "realblur_j", "realblur_r", "hide", "folder")
GOPRO_VARIANTS: tuple[str, ...] = ("blur", "blur_gamma")

# THE table of the splits each layout has on disk. ``folder`` may also hold a ``val`` folder, which
# validation then uses; every other layout validates on (a spread of) its test split.
LAYOUT_SPLITS: dict[str, tuple[str, ...]] = {
    "gopro": ("train", "test"),
    "realblur_j": ("train", "test"),
    "realblur_r": ("train", "test"),
    "hide": ("test",),
    "folder": ("train", "test"),
}
OPTIONAL_SPLITS: dict[str, tuple[str, ...]] = {"folder": ("val",)}


def splits_on_disk(root: Path, layout: str) -> list[str]:
    """The splits ``layout`` has under ``root``: its fixed ones plus optional ones that exist."""
    if layout not in LAYOUT_SPLITS:
        raise ConfigError(f"data.source.layout must be one of {', '.join(LAYOUTS)}, got {layout!r}")
    optional = [s for s in OPTIONAL_SPLITS.get(layout, ()) if (root / s).is_dir()]
    fixed = LAYOUT_SPLITS[layout]
    return [s for s in ("train", "val", "test") if s in fixed or s in optional]


# Published split sizes (docs/data.md); a different count is logged as a warning.
KNOWN_COUNTS: dict[tuple[str, str], int] = {
    ("gopro", "train"): 2103,
    ("gopro", "test"): 1111,
    ("realblur_j", "train"): 3758,
    ("realblur_j", "test"): 980,
    ("realblur_r", "train"): 3758,
    ("realblur_r", "test"): 980,
    ("hide", "test"): 2025,
}


@dataclass(frozen=True)
class Pair:
    """One blurry image and its sharp partner; ``name`` identifies the pair in logs and outputs."""

    name: str
    blurry: Path
    sharp: Path


def image_files(folder: Path, recursive: bool = False) -> list[Path]:
    """The image files in ``folder`` (sorted); DataError if it is missing or holds no image."""
    if not folder.is_dir():
        raise DataError(f"{folder}: folder not found")
    try:
        found = list(folder.rglob("*") if recursive else folder.iterdir())
    except OSError as exc:
        raise DataError(f"{folder}: cannot be listed ({exc.strerror or exc})") from None
    files = sorted(p for p in found if is_image_file(p) and _usable_file(p))
    if not files:
        raise DataError(f"{folder}: no images here (looked for {', '.join(IMAGE_SUFFIXES)})")
    return files


def _usable_file(path: Path) -> bool:
    """True for a regular file (or a link to one); DataError for a link that loops or dangles
    (a dataset file that silently vanished would change the dataset)."""
    if path.is_symlink():
        try:
            path.resolve(strict=True)
        except RuntimeError:  # Python 3.11 reports a loop this way
            raise DataError(f"{path}: symbolic link loop") from None
        except OSError as exc:
            if exc.errno == errno.ELOOP:
                raise DataError(f"{path}: symbolic link loop") from None
            raise DataError(f"{path}: broken symbolic link ({exc.strerror or exc})") from None
    return path.is_file()


def _by_stem(files: list[Path], folder: Path) -> dict[str, Path]:
    out: dict[str, Path] = {}
    for f in files:
        if f.stem in out:
            raise DataError(f"{folder}: {out[f.stem].name} and {f.name} have the same name")
        out[f.stem] = f
    return out


def pair_folders(
    blur_dir: Path, sharp_dir: Path, prefix: str = "", extra_sharp_ok: bool = False
) -> list[Pair]:
    """Match the images of ``blur_dir`` and ``sharp_dir`` by file name (without extension).

    Unpaired files are an error in either direction, unless ``extra_sharp_ok`` (then only
    blurry files without a partner are).
    """
    blurry = _by_stem(image_files(blur_dir), blur_dir)
    sharp = _by_stem(image_files(sharp_dir), sharp_dir)
    lonely = [blurry[k].name for k in blurry if k not in sharp]
    if lonely:
        raise DataError(
            f"{count(len(lonely), 'blurry image')} in {blur_dir} without a sharp partner in {sharp_dir}: "
            + listing(lonely)
        )
    orphans = [sharp[k].name for k in sharp if k not in blurry]
    if orphans and not extra_sharp_ok:
        raise DataError(
            f"{count(len(orphans), 'sharp image')} in {sharp_dir} without a blurry partner in {blur_dir}: "
            + listing(orphans)
        )
    return [Pair(prefix + k, blurry[k], sharp[k]) for k in sorted(blurry)]


def folder_pairs(root: Path, split: str, blur_name: str = "blur") -> list[Pair]:
    """``root/<split>/<blur_name>`` paired with ``root/<split>/sharp``."""
    return pair_folders(root / split / blur_name, root / split / "sharp")


def gopro_root(root: Path) -> Path:
    """Accept ``GOPRO_Large`` itself or the folder that contains it."""
    inner = root / "GOPRO_Large"
    return inner if inner.is_dir() and not (root / "train").is_dir() else root


def gopro_pairs(root: Path, split: str, variant: str = "blur") -> list[Pair]:
    """GoPro pairs of ``split`` (train | test) for ``variant`` (blur | blur_gamma), either layout."""
    split_dir = gopro_root(root) / split
    if not split_dir.is_dir():
        raise DataError(f"{split_dir}: folder not found (expected GoPro's {split} split here)")
    if (split_dir / "sharp").is_dir():  # flattened: <split>/{blur,sharp}/<sequence>_<frame>.png
        return pair_folders(split_dir / variant, split_dir / "sharp")
    sequences = sorted(d for d in split_dir.iterdir() if d.is_dir())
    if not sequences:
        raise DataError(
            f"{split_dir}: no GoPro sequences (expected <sequence>/{{{variant},sharp}}/ folders "
            "or the flattened blur/ and sharp/)"
        )
    pairs: list[Pair] = []
    for seq in sequences:
        pairs += pair_folders(seq / variant, seq / "sharp", prefix=f"{seq.name}_")
    return pairs


def realblur_list(root: Path, variant: str, split: str) -> Path:
    """The official list file of RealBlur-``variant`` (J | R) for ``split`` (train | test)."""
    return root / f"RealBlur_{variant.upper()}_{split}_list.txt"


def realblur_pairs(root: Path, variant: str, split: str) -> list[Pair]:
    """Pairs listed in ``RealBlur_<variant>_<split>_list.txt`` (``<gt> <blurry>`` per line)."""
    list_file = realblur_list(root, variant, split)
    if not list_file.is_file():
        raise DataError(f"{list_file}: RealBlur list file not found")
    pairs: list[Pair] = []
    missing: list[str] = []
    for number, line in enumerate(list_file.read_text().splitlines(), start=1):
        fields = line.split()
        if not fields:
            continue
        if len(fields) < 2:
            raise DataError(f"{list_file}:{number}: expected '<gt path> <blur path>', got {line!r}")
        sharp, blurry = root / fields[0], root / fields[1]
        missing += [str(p) for p in (sharp, blurry) if not p.is_file()]
        # scene001/blur/blur_1.png -> scene001_blur_1 (the top folder names the variant)
        parts = Path(fields[1]).with_suffix("").parts
        pairs.append(Pair("_".join(parts[1:] if len(parts) > 1 else parts), blurry, sharp))
    if missing:
        raise DataError(
            f"{count(len(missing), 'file')} listed in {list_file} not found: " + listing(missing)
        )
    if not pairs:
        raise DataError(f"{list_file}: the list file is empty")
    return pairs


def hide_root(root: Path) -> Path:
    """Accept ``HIDE_dataset`` itself or the folder that contains it."""
    inner = root / "HIDE_dataset"
    return inner if inner.is_dir() and not (root / "GT").is_dir() else root


def hide_pairs(root: Path) -> list[Pair]:
    """HIDE's test pairs: every image under ``test/`` with its partner of the same name in ``GT/``."""
    root = hide_root(root)
    test_dir, gt_dir = root / "test", root / "GT"
    blurry = image_files(test_dir, recursive=True)
    sharp = _by_stem(image_files(gt_dir), gt_dir)
    lonely = [str(p.relative_to(test_dir)) for p in blurry if p.stem not in sharp]
    if lonely:
        raise DataError(
            f"{count(len(lonely), 'blurry image')} in {test_dir} without a sharp partner in {gt_dir}: "
            + listing(lonely)
        )
    seen: dict[str, Path] = {}
    for p in blurry:
        if p.stem in seen:
            raise DataError(f"{test_dir}: {seen[p.stem]} and {p} have the same name")
        seen[p.stem] = p
    return [Pair(p.stem, p, sharp[p.stem]) for p in blurry]


def find_pairs(root: Path, layout: str, split: str, variant: str = "blur") -> list[Pair]:
    """The pairs of ``split`` (train | val | test) in ``layout``; ``val`` exists only for folder."""
    if layout in LAYOUT_SPLITS and split not in LAYOUT_SPLITS[layout] + OPTIONAL_SPLITS.get(
        layout, ()
    ):
        if layout == "hide" and split == "train":
            raise ConfigError(
                "data=hide has no training split (HIDE is scored with GoPro-trained models): "
                "train on data=gopro, then evaluate with data=hide, or set train=false"
            )
        raise ConfigError(
            f"data={layout} has no {split} split (it has: {', '.join(LAYOUT_SPLITS[layout])})"
        )
    if layout == "gopro":
        return gopro_pairs(root, split, variant)
    if layout in ("realblur_j", "realblur_r"):
        return realblur_pairs(root, layout[-1], split)
    if layout == "hide":
        return hide_pairs(root)
    if layout == "folder":
        return folder_pairs(root, split, variant)
    raise ConfigError(f"data.source.layout must be one of {', '.join(LAYOUTS)}, got {layout!r}")
