"""``utilities.media`` on an S3-compatible store (moto) and on local disk: temp copies for
libvips are deleted after the step, missing files are ``FileNotFoundError`` whatever the
storage, and a stored file replays as a PMR body without being read whole."""

from __future__ import annotations

import hashlib

import pytest
from django.core.files.base import ContentFile
from django.core.files.storage import default_storage

from pmr.clients.bodies import ReplayableBody
from utilities import media

DATA = bytes(range(256)) * 5000  # 1.28 MB: more than one copy chunk


@pytest.fixture(params=["local", "s3"])
def storage(request, settings, tmp_path):
    if request.param == "s3":
        request.getfixturevalue("s3_media")
    else:
        settings.MEDIA_ROOT = str(tmp_path / "media")
    return default_storage


def test_local_path_is_the_file_or_a_copy_deleted_after(storage):
    name = storage.save("originals/x/photo.jpg", ContentFile(DATA))
    with media.local_path(storage, name) as path:
        assert path.read_bytes() == DATA
    if media.has_local_paths(storage):
        assert path.exists()  # the stored file itself
    else:
        assert not path.exists()  # the temporary copy is gone


def test_missing_files_are_file_not_found(storage):
    with pytest.raises(FileNotFoundError):
        media.open_stream(storage, "originals/none.jpg")
    with pytest.raises(FileNotFoundError), media.local_path(storage, "originals/none.jpg"):
        pass
    with pytest.raises(FileNotFoundError):
        ReplayableBody(media.StoredContent(storage, "originals/none.jpg"))


def test_a_stored_file_replays_as_a_body(storage):
    name = storage.save("processed/x.jpg", ContentFile(DATA))
    body = ReplayableBody(media.StoredContent(storage, name))
    assert body.length == len(DATA)
    assert body.sha256() == hashlib.sha256(DATA).hexdigest()
    for _ in range(2):  # a retry sends the same bytes again
        assert b"".join(body.content()) == DATA


def test_delete_folder_leaves_nothing(storage):
    for i in range(3):
        storage.save(f"uploads/abc/{i:015d}-1.chunk", ContentFile(b"x"))
    media.delete_folder(storage, "uploads/abc")
    assert storage.listdir("uploads")[0] == []
