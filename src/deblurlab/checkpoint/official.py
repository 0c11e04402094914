"""The authors' released weight files, one word away: ``model.pretrained=official``.

Each network with a published file maps to its source (the MIMO-UNet authors host theirs on Google
Drive and link them from their code's README). The file is fetched once into the cache folder
(``$DEBLURLAB_CACHE``, else ``~/.cache/deblurlab``), resumably and atomically
(:mod:`.download`). Its SHA-256 is printed and recorded beside it (``<file>.sha256``) on the first
download and checked on every later use, so a file changed or damaged on disk is refused rather
than scored. Where a digest has been measured from the published file it is pinned in
:data:`OFFICIAL` and checked on the download too; none is pinned until someone has measured it.

``$DEBLURLAB_WEIGHTS_MIRROR`` (a base URL) fetches ``<mirror>/<file name>`` instead of the
published source: an institute's mirror, or a machine without access to the file host.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

from deblurlab.checkpoint.download import DownloadError, download, sha256_of
from deblurlab.errors import CheckpointError, ConfigError

OFFICIAL_WORD = "official"


@dataclass(frozen=True)
class OfficialFile:
    """A released weight file: its name as the authors' code reads it, where it is published,
    the page that links it, and its SHA-256 once measured from the published file."""

    filename: str
    url: str
    page: str
    sha256: str | None = None


def _drive(file_id: str) -> str:
    # the direct-download form of a shared Google Drive file; confirm=t skips the page that large
    # files otherwise get ("cannot scan this file for viruses")
    return f"https://drive.usercontent.google.com/download?id={file_id}&export=download&confirm=t"


_AUTHORS = "https://github.com/chosj95/MIMO-UNet"
_MIMO_UNET = OfficialFile("MIMO-UNet.pkl", _drive("1EQJoQj3YMLFfzrbgzWMD3Xj96RqLdIlx"), _AUTHORS)
_MIMO_UNET_PLUS = OfficialFile(
    "MIMO-UNetPlus.pkl", _drive("166sufeHcdDTgXHNbCRzTC4T6DzuflB5m"), _AUTHORS
)

#: model name (``model=...``) -> its released file; MIMO-UNet++ is MIMO-UNet+'s file evaluated
#: with the rotation self-ensemble.
OFFICIAL: dict[str, OfficialFile] = {
    "mimo_unet": _MIMO_UNET,
    "mimo_unet_plus": _MIMO_UNET_PLUS,
    "mimo_unet_pp": _MIMO_UNET_PLUS,
}


def cache_dir() -> Path:
    """Where downloaded weights live: ``$DEBLURLAB_CACHE`` or ``~/.cache/deblurlab``."""
    return Path(os.environ.get("DEBLURLAB_CACHE") or Path.home() / ".cache" / "deblurlab")


def official_weights(model_name: str | None, *, progress: bool = True) -> Path:
    """The cached released file for ``model_name``, downloaded first when missing.

    Raises ConfigError for a network without a released file, DownloadError (one line naming the
    URL and the manual way) when the file cannot be fetched, and CheckpointError when the cached
    file no longer matches the digest recorded for it.
    """
    entry = OFFICIAL.get(str(model_name))
    if entry is None:
        known = ", ".join(sorted(OFFICIAL))
        raise ConfigError(
            f"pretrained=official: no released weights for model={model_name} (released: {known})"
        )
    dest = cache_dir() / entry.filename
    record = dest.with_name(dest.name + ".sha256")
    if dest.exists():
        _check_recorded(dest, record, entry)
        return dest
    mirror = os.environ.get("DEBLURLAB_WEIGHTS_MIRROR")
    url = f"{mirror.rstrip('/')}/{entry.filename}" if mirror else entry.url
    try:
        download(url, dest, sha256=entry.sha256, progress=progress)
    except DownloadError as exc:
        raise DownloadError(
            f"{exc}. By hand: fetch {entry.filename} from the link on {entry.page}, then pass "
            f"model.pretrained=<path> (or place it at {dest})"
        ) from None
    digest = sha256_of(dest)
    record.write_text(f"{digest}  {entry.filename}\n")
    print(f"downloaded {dest} (sha256 {digest})", flush=True)
    return dest


def _check_recorded(dest: Path, record: Path, entry: OfficialFile) -> None:
    expected = entry.sha256
    if expected is None and record.exists():
        expected = record.read_text().split()[0]
    if expected is None:  # placed by hand: record it now, as on a download
        record.write_text(f"{sha256_of(dest)}  {entry.filename}\n")
        return
    got = sha256_of(dest)
    if got != expected:
        raise CheckpointError(
            f"{dest}: SHA-256 {got} differs from the recorded {expected} (damaged or replaced); "
            "delete it to download it again"
        )


def resolve_pretrained(value: str | os.PathLike[str], model_name: str | None) -> Path:
    """``official`` -> the released file for ``model_name`` (fetched when missing); a path -> it."""
    if str(value) == OFFICIAL_WORD:
        return official_weights(model_name)
    return Path(value).expanduser()
