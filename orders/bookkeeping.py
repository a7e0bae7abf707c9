"""The bookkeeping of an image step a worker may die in: attempts, announced files, failing.

Ingest (``orders.intake``) and the AI step (``ai_processing.services``) both run on one
image in a task that a killed worker leaves half done: Celery delivers it again (late acks)
or the sweep queues it again. Both keep the same three records in a JSON field of the image,
written here once:

- an attempt count, so a file that kills its worker every time stops after a few deliveries
  instead of looping forever (``count_attempt``);
- the names of files an attempt is about to write, committed before it writes them, so the
  next attempt (or the verdict) deletes what a killed one left: no file in MEDIA_ROOT without
  a row that names it (``announce``);
- the failure: the image ``failed`` with a reason people read, its announced files deleted,
  and the pipeline told (``fail``).
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any

from django.core.files.storage import default_storage
from django.db import transaction

from . import locking, services
from .models import Image, Order

log = logging.getLogger(__name__)

#: Key of the announced files in the step's JSON field.
FILES_IN_PROGRESS = "files_in_progress"
#: Every stored file of an image (the row's fields, see ``Image.stored_files``).
FILE_FIELDS = Image.FILE_FIELDS


def delete_files(names: Iterable[str]) -> None:
    """Delete stored files; a file that cannot be deleted is logged (the rows are right
    either way; the log says which file is left over)."""
    for name in names:
        try:
            default_storage.delete(name)
        except OSError:
            log.exception("Could not delete stored file %s", name)


def delete_files_after_commit(names: Iterable[str]) -> None:
    names = [name for name in names if name]
    if names:
        transaction.on_commit(lambda: delete_files(names))


def _held(image: Image) -> set[str]:
    """Files the row names: never deleted as leftovers, whatever was announced."""
    return set(image.stored_files())


@dataclass(frozen=True)
class Step:
    """One step's bookkeeping: its JSON ``field`` on the image, its attempt ``counter`` key,
    and the image statuses the step ``works_on`` (an image in another has moved on)."""

    name: str
    field: str
    counter: str
    works_on: frozenset[str]

    def count_attempt(self, image_id: int) -> int | None:
        """One more attempt; None when the image no longer waits for this step. Files a
        killed attempt announced and never committed are deleted once this commits."""
        with transaction.atomic():
            locked = (
                Image.objects.select_for_update()
                .only("id", "status", self.field, *FILE_FIELDS)
                .get(pk=image_id)
            )
            if locked.status not in self.works_on:
                return None
            data = dict(getattr(locked, self.field))
            leftovers = [n for n in data.pop(FILES_IN_PROGRESS, []) if n not in _held(locked)]
            attempts = int(data.get(self.counter, 0)) + 1
            # A queryset update: bookkeeping, not a change for the audit log.
            Image.objects.filter(pk=image_id).update(
                **{self.field: {**data, self.counter: attempts}}
            )
            if leftovers:
                log.info(
                    "Deleting %d file(s) an earlier %s of image %s left",
                    len(leftovers),
                    self.name,
                    image_id,
                )
                delete_files_after_commit(leftovers)
        return attempts

    def announce(self, image_id: int, names: list[str]) -> None:
        """Record (and commit) the names of files about to be written for the image."""
        with transaction.atomic():
            locked = Image.objects.select_for_update().only("id", self.field).get(pk=image_id)
            data = {**getattr(locked, self.field), FILES_IN_PROGRESS: names}
            Image.objects.filter(pk=image_id).update(**{self.field: data})

    def settle(self, image: Image) -> tuple[dict[str, Any], list[str]]:
        """The step ends for the image: its field without the bookkeeping, and the files an
        attempt announced that the row does not name (to delete)."""
        data = dict(getattr(image, self.field))
        data.pop(self.counter, None)
        announced = [n for n in data.pop(FILES_IN_PROGRESS, []) if n not in _held(image)]
        return data, announced

    def fail(
        self,
        image_id: int,
        reason: str,
        *,
        failure: dict[str, Any] | None,
        then: Callable[[Image, Order], None],
    ) -> Image:
        """Mark the image failed (its original kept, so staff can retry it), under the lock
        order → image, if it still waits for this step; ``failure`` (the detail for staff) is
        kept in the step's field, announced files are deleted after commit, and ``then(image,
        order)`` tells the pipeline, in the same transaction."""
        with transaction.atomic():
            order, locked = locking.lock_image(image_id)
            if locked.status not in self.works_on:
                return locked
            data, announced = self.settle(locked)
            if failure:
                data["failure"] = failure
            Image.objects.filter(pk=image_id).update(**{self.field: data})
            services.change_image_status(locked, Image.Status.FAILED, reason=reason)
            then(locked, order)
            delete_files_after_commit(announced)
        return Image.objects.get(pk=image_id)
