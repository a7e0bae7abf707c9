"""Folders of real photographs (plus the usual junk) for the folder-import tests."""

from __future__ import annotations

import os
import shutil
import time
from pathlib import Path

import pytest
from PIL import Image as PILImage

from accounts.roles import ADMIN
from tests.conftest import make_user

PHOTOS = Path(__file__).resolve().parents[2] / "data" / "photos"


@pytest.fixture(autouse=True)
def _media(media_root):
    return media_root


@pytest.fixture
def admin(db):
    return make_user(ADMIN)


def fill_order_folder(folder: Path) -> Path:
    """An order folder as people make them.

    Imported (4): rocket.jpg, camera.png, more/rotated.jpg (a derived variant), notes.jpg
    (text named .jpg: intake stores it, ingest will refuse it).
    Rejected at intake (2): empty.jpg (0 bytes), more/rocket-copy.jpg (same bytes as rocket.jpg).
    Skipped (3): .DS_Store, .sync/partial.jpg (hidden), link.jpg (a symbolic link).
    """
    (folder / "more").mkdir(parents=True)
    shutil.copyfile(PHOTOS / "rocket.jpg", folder / "rocket.jpg")
    shutil.copyfile(PHOTOS / "camera.png", folder / "camera.png")
    with PILImage.open(PHOTOS / "rocket.jpg") as img:
        img.rotate(90, expand=True).save(folder / "more" / "rotated.jpg", "JPEG", quality=80)
    shutil.copyfile(PHOTOS / "rocket.jpg", folder / "more" / "rocket-copy.jpg")
    (folder / "notes.jpg").write_text("This is not a photograph.\n")
    (folder / "empty.jpg").write_bytes(b"")
    (folder / ".DS_Store").write_bytes(b"\x00\x00\x00\x01Bud1")
    (folder / ".sync").mkdir()
    shutil.copyfile(PHOTOS / "camera.png", folder / ".sync" / "partial.jpg")
    os.symlink(folder / "camera.png", folder / "link.jpg")
    return folder


IMPORTED = {"rocket.jpg", "camera.png", "more/rotated.jpg", "notes.jpg"}
REJECTED = {"empty.jpg", "more/rocket-copy.jpg"}


def age(path: Path, seconds: float) -> None:
    """Make ``path`` and everything in it look last changed ``seconds`` ago."""
    when = time.time() - seconds
    for dirpath, dirnames, filenames in os.walk(path, topdown=False):
        for name in filenames + dirnames:
            os.utime(os.path.join(dirpath, name), (when, when), follow_symlinks=False)
        os.utime(dirpath, (when, when))


def tree(root: Path) -> set[str]:
    """Every file under ``root`` (relative paths), links included."""
    found = set()
    for dirpath, _dirnames, filenames in os.walk(root):
        for name in filenames:
            found.add(str(Path(dirpath, name).relative_to(root)))
    return found


@pytest.fixture
def order_folder(tmp_path):
    return fill_order_folder(tmp_path / "import" / "Smith family")
