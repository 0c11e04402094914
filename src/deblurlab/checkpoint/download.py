"""Fetch one file over HTTP(S) into place: resumable, atomic, checked.

The bytes go to ``<dest>.part`` beside the destination; an interrupted transfer leaves that file,
and the next call asks the server for the rest (an HTTP ``Range`` request) instead of starting
over. Only a complete file (as long as the server said, and matching ``sha256`` when one is given)
is renamed to ``dest``, so ``dest`` either does not exist or is whole. Every failure is a
:class:`DownloadError` whose one-line message names the URL.
"""

from __future__ import annotations

import hashlib
import http.client
import os
import urllib.error
import urllib.request
from pathlib import Path

from tqdm import tqdm

from deblurlab.errors import DeblurlabError

CHUNK = 1 << 20


class DownloadError(DeblurlabError):
    """A file could not be fetched, or what arrived is not the file that was asked for."""


def sha256_of(path: Path) -> str:
    """Hex SHA-256 of the file at ``path``, read in chunks."""
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        while block := handle.read(CHUNK):
            digest.update(block)
    return digest.hexdigest()


def download(
    url: str,
    dest: str | Path,
    *,
    sha256: str | None = None,
    progress: bool = True,
    timeout: float = 30.0,
) -> Path:
    """Fetch ``url`` to ``dest`` (resuming ``<dest>.part`` when present) and return ``dest``.

    Raises DownloadError when the server cannot be reached, answers with an error or a web page
    instead of a file, the transfer ends early (the part file is kept for the next call), or the
    finished file's SHA-256 differs from ``sha256`` (the part file is deleted: it is wrong, not
    incomplete).
    """
    dest = Path(dest)
    dest.parent.mkdir(parents=True, exist_ok=True)
    part = dest.with_name(dest.name + ".part")
    have = part.stat().st_size if part.exists() else 0
    request = urllib.request.Request(url, headers={"Range": f"bytes={have}-"} if have else {})
    try:
        response = urllib.request.urlopen(request, timeout=timeout)
    except urllib.error.HTTPError as exc:
        if exc.code == 416 and have:  # the part file already holds every byte
            return _finish(part, dest, url, sha256)
        raise DownloadError(f"{url}: the server answered HTTP {exc.code} {exc.reason}") from None
    except (urllib.error.URLError, OSError) as exc:
        reason = getattr(exc, "reason", exc)
        raise DownloadError(f"{url}: cannot connect ({reason})") from None
    with response:
        if "text/html" in (response.headers.get("Content-Type") or ""):
            # file hosts answer a page (a sign-in or a virus-scan notice) instead of the file
            raise DownloadError(f"{url}: the server sent a web page, not the file")
        resumed = response.status == 206
        if have and not resumed:  # the server ignores Range: start again
            have = 0
        length = response.headers.get("Content-Length")
        total = have + int(length) if length is not None else None
        with (
            open(part, "ab" if resumed else "wb") as handle,
            tqdm(
                total=total,
                initial=have,
                unit="B",
                unit_scale=True,
                desc=dest.name,
                disable=not progress,
            ) as bar,
        ):
            try:
                while block := response.read(CHUNK):
                    handle.write(block)
                    bar.update(len(block))
            except (OSError, http.client.HTTPException) as exc:
                handle.flush()
                raise DownloadError(
                    f"{url}: transfer interrupted ({exc}); run again to resume from {part}"
                ) from None
            handle.flush()
            os.fsync(handle.fileno())
    got = part.stat().st_size
    if total is not None and got < total:
        raise DownloadError(
            f"{url}: transfer ended at {got} of {total} bytes; run again to resume from {part}"
        )
    return _finish(part, dest, url, sha256)


def _finish(part: Path, dest: Path, url: str, sha256: str | None) -> Path:
    if sha256 is not None:
        got = sha256_of(part)
        if got != sha256:
            part.unlink()
            raise DownloadError(
                f"{url}: SHA-256 of the download is {got}, expected {sha256}; the file was deleted"
            )
    os.replace(part, dest)
    return dest
