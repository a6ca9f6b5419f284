"""Fetch the full OPSD household_data file and verify its SHA-256."""

from __future__ import annotations

import hashlib
import logging
import os
import urllib.request
from pathlib import Path
from urllib.parse import urlparse

from tqdm import tqdm

from ems.data.errors import DataError
from ems.data.layouts import file_sha256

log = logging.getLogger(__name__)
BLOCK = 1 << 20


def download(url: str, sha256: str, dest_dir: Path, timeout_s: float = 120.0) -> Path:
    """Download ``url`` into ``dest_dir`` and return the path once its SHA-256 matches.

    The bytes go to ``<name>.part`` and are renamed only after the checksum
    matches; a mismatch deletes the partial file and raises :class:`DataError`.
    A file already present with the right checksum is not fetched again.
    """
    dest_dir = Path(dest_dir)
    dest_dir.mkdir(parents=True, exist_ok=True)
    target = dest_dir / (Path(urlparse(url).path).name or "download.csv")
    if target.is_file() and file_sha256(target) == sha256.lower():
        log.info("%s already downloaded and verified", target)
        return target
    part = target.with_name(target.name + ".part")
    digest = hashlib.sha256()
    try:
        with urllib.request.urlopen(url, timeout=timeout_s) as response, open(part, "wb") as out:
            total = int(response.headers.get("Content-Length") or 0) or None
            with tqdm(total=total, unit="B", unit_scale=True, desc=target.name, disable=None) as bar:
                for block in iter(lambda: response.read(BLOCK), b""):
                    out.write(block)
                    digest.update(block)
                    bar.update(len(block))
    except OSError as exc:
        part.unlink(missing_ok=True)
        raise DataError(f"{url}: download failed ({exc}); check the URL (data.download.url) and the network") from exc
    if digest.hexdigest() != sha256.lower():
        part.unlink(missing_ok=True)
        raise DataError(
            f"{url}: SHA-256 {digest.hexdigest()} does not match data.download.sha256 {sha256}; "
            "the file is corrupt or another release"
        )
    os.replace(part, target)
    return target
