"""The data the quickstart needs: a folder the user named, else the shared folder, else a download.

The download takes the files byte for byte from the public repositories they come from
(MultiWOZ 2.1 from ConvLab-2, the venue databases and the MultiWOZ 2.2 schema from
budzianowski/multiwoz, at fixed commits) and checks each against its SHA-256 before it is kept.
Sources, commits and digests are those documented in the shared data folder's README. The base
URL can be pointed at a mirror with ``$SPEC_TOD_DATA_MIRROR`` (a server laid out like
``raw.githubusercontent.com``: ``/OWNER/REPO/COMMIT/PATH``).
"""

from __future__ import annotations

import hashlib
import os
from dataclasses import dataclass
from pathlib import Path

from spec_tod.errors import SpecTodError
from spec_tod.fileio import atomic_open
from spec_tod.settings import DATA_DIR_ENV, default_data_dir

MIRROR_ENV = "SPEC_TOD_DATA_MIRROR"
DEFAULT_MIRROR = "https://raw.githubusercontent.com"
_CONVLAB = "thu-coai/ConvLab-2/b014b81fcb1ff74f54681917eee39c14c87af3e5"
_MULTIWOZ = "budzianowski/multiwoz/fe0c8e65cfcd8462bd33c86e35f21addc84ca82b"


@dataclass(frozen=True)
class DataFile:
    """One file of the data folder and where it comes from."""

    local: str
    """Path inside the data folder."""
    source: str
    """``OWNER/REPO/COMMIT/PATH`` below the mirror."""
    sha256: str


DATA_FILES = (
    DataFile("multiwoz21/test.json.zip", f"{_CONVLAB}/data/multiwoz/test.json.zip",
             "438deb6ff5402cef5ff29cc0d5a10db818c1e9142727c1d631e71b563c66a5b4"),
    DataFile("multiwoz21/val.json.zip", f"{_CONVLAB}/data/multiwoz/val.json.zip",
             "25ddfd4d0b01304012b54e2d98caa038c91d95295c4b519cc721b9b616f506dc"),
    DataFile("multiwoz21/testListFile", f"{_CONVLAB}/data/multiwoz/testListFile",
             "7051d16cb64f620ecb341f8a1708635cd914c2613b2497c23209498ac5e4e033"),
    DataFile("multiwoz21/valListFile", f"{_CONVLAB}/data/multiwoz/valListFile",
             "94980a8563da8bc02047cf994aa5b8001b4df083f3fbe284c64be1dfcfb264b6"),
    DataFile("multiwoz22/schema.json", f"{_MULTIWOZ}/data/MultiWOZ_2.2/schema.json",
             "ae9e2390f38fb967af64623c2f4f7e0c636fb377ad523b582a03161d3ddbdf68"),
    *(
        DataFile(f"multiwoz_db/{table}_db.json", f"{_MULTIWOZ}/db/{table}_db.json", digest)
        for table, digest in (
            ("attraction", "2aacc620af4025f1eada5ec83057a866f8e8b72b529f71d2f8bf93bcdd8f8751"),
            ("bus", "4818e735bae20690f6d0d06bb2ae8eec1981c0b680258a970dc01c9073f3fec9"),
            ("hospital", "51282ab30346d4e826fbdf6a668d346f4b1e72425190d62048a7c471ffba5020"),
            ("hotel", "7f7d0fa564f6735b6a168a3ab72c7ca6f1180c49fa8a285bd9ebf7dac10e5e45"),
            ("police", "d9c2b200fa2dd61b04ce2fe520b0b79dfa68d8b895806cfec6e8a8d3cffa9193"),
            ("restaurant", "7864b4e36027af0907d6afe9ed962fecd6c6966cd626b8ae9341708a04ea201a"),
            ("taxi", "6b676ae412ef17a15c24594bec99f61ed6a18b0fbecf6ed89d409baa924b89c1"),
            ("train", "4818e735bae20690f6d0d06bb2ae8eec1981c0b680258a970dc01c9073f3fec9"),
        )
    ),
)


def missing_files(folder: Path) -> list[str]:
    """The quickstart's files that ``folder`` lacks."""
    return [f.local for f in DATA_FILES if not (folder / f.local).is_file()]


def resolve_data_dir(given: Path | None, cache: Path, shared: Path | None = None) -> tuple[Path, str]:
    """The data folder to use and where it came from (``--data-dir``, ``$SPEC_TOD_DATA_DIR``, shared, cache, download).

    A folder the user named must be complete; otherwise the shared folder (default
    ``../shared/data``), then ``cache``, are used when complete, and the files are downloaded into
    ``cache`` when neither is.
    """
    if given is not None:
        return _complete(given, "--data-dir"), "--data-dir"
    if os.environ.get(DATA_DIR_ENV):
        return _complete(Path(os.environ[DATA_DIR_ENV]), f"${DATA_DIR_ENV}"), f"${DATA_DIR_ENV}"
    shared = (shared or default_data_dir()).resolve()
    if not missing_files(shared):
        return shared, "shared folder"
    if not missing_files(cache):
        return cache, "download cache"
    download(cache)
    return cache, "downloaded"


def _complete(folder: Path, where: str) -> Path:
    missing = missing_files(folder)
    if missing:
        raise SpecTodError(
            f"{where} {folder} lacks {', '.join(missing)}; point it at a folder with multiwoz21/, multiwoz22/schema.json "
            "and multiwoz_db/ (see the README), or leave it unset to download the data"
        )
    return folder.expanduser().resolve()


def download(target: Path, mirror: str | None = None) -> None:
    """Download every missing data file into ``target``, verifying each digest; a failure names the file and URL."""
    import httpx

    base = (mirror or os.environ.get(MIRROR_ENV) or DEFAULT_MIRROR).rstrip("/")
    with httpx.Client(timeout=httpx.Timeout(30.0, connect=10.0), follow_redirects=True) as client:
        for item in DATA_FILES:
            path = target / item.local
            if path.is_file():
                continue
            url = f"{base}/{item.source}"
            digest = hashlib.sha256()
            try:
                with client.stream("GET", url) as reply, atomic_open(path, "wb") as out:
                    reply.raise_for_status()
                    for chunk in reply.iter_bytes():
                        digest.update(chunk)
                        out.write(chunk)
                    if digest.hexdigest() != item.sha256:
                        raise SpecTodError(
                            f"{url} does not have the expected content (sha256 {digest.hexdigest()}, "
                            f"expected {item.sha256}); nothing was kept. Check {MIRROR_ENV} or pass --data-dir"
                        )
            except httpx.HTTPError as error:
                raise SpecTodError(
                    f"cannot download {item.local} from {url} ({type(error).__name__}: {error}). Without internet "
                    f"access, pass --data-dir (or set ${DATA_DIR_ENV}) to a folder holding the MultiWOZ files"
                ) from None
