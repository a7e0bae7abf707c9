"""Folders of image files → orders: the ``import_folder`` command and the hot folder.

A folder becomes one order; its files (found recursively) go one by one
through ``orders.intake.add_image``, exactly like browser or API uploads, so
each stored file has its ingest queued and each refused file (empty, too
large, an exact repeat) is kept as a ``rejected`` image with its reason.

What counts as a file of the folder: regular files at any depth, except
hidden ones (a name starting with ``.``, or inside a hidden folder, such as
``.DS_Store`` or a sync tool's temporary file) and symbolic links (a link
could pull in a file from anywhere on the server). Whether a file is an image
is for ingest to say, the same for every door.
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from django.core.exceptions import ValidationError
from django.core.validators import validate_email
from django.db.models import Q

from accounts.models import User
from accounts.roles import ADMIN
from events.models import Event
from utilities import access
from utilities.errors import OrderError

from . import intake, presets, services
from .models import Image, Order


class FolderImportError(Exception):
    """An import that cannot start or go on; the message is for the person running it."""


@dataclass
class FileOutcome:
    """One file of the folder and what intake made of it (``image`` is None when
    the file could not even be read)."""

    path: Path
    image: Image | None
    error: str = ""

    @property
    def rejected(self) -> bool:
        return self.image is None or self.image.status == Image.Status.REJECTED

    @property
    def reason(self) -> str:
        return self.error if self.image is None else self.image.status_reason


@dataclass
class FolderResult:
    folder: Path
    order: Order
    outcomes: list[FileOutcome] = field(default_factory=list)

    @property
    def added(self) -> list[FileOutcome]:
        return [o for o in self.outcomes if not o.rejected]

    @property
    def rejected(self) -> list[FileOutcome]:
        return [o for o in self.outcomes if o.rejected]


# --- what to import ------------------------------------------------------------------


def _hidden(name: str) -> bool:
    return name.startswith(".")


def find_files(folder: Path) -> list[Path]:
    """The folder's importable files, at any depth, in a stable (sorted) order."""
    found: list[Path] = []
    for dirpath, dirnames, filenames in os.walk(folder, followlinks=False):
        dirnames[:] = sorted(d for d in dirnames if not _hidden(d))
        for name in sorted(filenames):
            path = Path(dirpath, name)
            if not _hidden(name) and not path.is_symlink() and path.is_file():
                found.append(path)
    return found


def subfolders(root: Path) -> list[Path]:
    """Immediate, visible, real (not linked) subfolders, sorted by name."""
    return sorted(
        p for p in root.iterdir() if p.is_dir() and not p.is_symlink() and not _hidden(p.name)
    )


def top_level_files(root: Path) -> list[Path]:
    return sorted(
        p for p in root.iterdir() if p.is_file() and not p.is_symlink() and not _hidden(p.name)
    )


# --- who, for which event, with which preset -----------------------------------------------


def resolve_event(event_id: str) -> Event:
    event = Event.objects.filter(event_id=(event_id or "").strip()).first()
    if event is None:
        raise FolderImportError(
            f"Unknown Event ID '{event_id}': no such event. Create it first (admin → Events) "
            "or check the spelling."
        )
    return event


def default_actor() -> User | None:
    """The first (oldest) active Admin-role user: a superuser or a member of Admin."""
    return (
        User.objects.filter(is_active=True)
        .filter(Q(is_superuser=True) | Q(groups__name=ADMIN))
        .order_by("pk")
        .distinct()
        .first()
    )


def resolve_actor(username: str | None) -> User:
    """``username``'s account, or the default Admin user when none is given."""
    if username:
        user = User.objects.filter(username=username, is_active=True).first()
        if user is None:
            raise FolderImportError(f"No active user named '{username}'.")
    else:
        user = default_actor()
        if user is None:
            raise FolderImportError(
                "No active Admin user to act as; pass --user with the account to use."
            )
    if not access.can_create_order(user):
        raise FolderImportError(f"User '{user.username}' may not create orders.")
    return user


def resolve_preset(slug: str | None) -> Any | None:
    if not slug:
        return None
    preset = presets.active_by_slug(slug)
    if preset is None:
        raise FolderImportError(f"Unknown or inactive processing preset '{slug}'.")
    return preset


def _text(name: str) -> str:
    """A file-system name as storable text (undecodable bytes become "?")."""
    return name.encode("utf-8", "replace").decode("utf-8")


def _customer(name: str) -> str:
    name = " ".join(_text(name).split())
    if not name:
        raise FolderImportError("The customer name is empty.")
    if len(name) > 255:
        raise FolderImportError("The customer name is longer than 255 characters.")
    return name


def _email(value: str) -> str:
    value = (value or "").strip()
    if value:
        try:
            validate_email(value)
        except ValidationError:
            raise FolderImportError(f"'{value}' is not a valid e-mail address.") from None
    return value


# --- the import ------------------------------------------------------------------------


def start_order(
    folder: Path,
    *,
    event: Event,
    actor: Any,
    customer_name: str | None = None,
    customer_email: str = "",
    preset: Any | None = None,
    source: str = "folder",
) -> Order:
    """Create the (empty) order a folder's files will go into."""
    try:
        return services.create_order(
            actor=actor,
            event=event,
            customer_name=_customer(customer_name or folder.name),
            customer_email=_email(customer_email),
            preset=preset,
            metadata={"import": {"source": source, "folder": _text(folder.name)}},
            # Held until every file of the folder is in (add_files submits it): ingest is
            # faster than reading a NAS, and the order must not start after the first file.
            awaiting_submit=True,
        )
    except OrderError as exc:  # e.g. the event is closed in the PMR
        raise FolderImportError(str(exc)) from None


def add_files(
    order: Order,
    files: Iterable[Path],
    *,
    actor: Any,
    result: FolderResult,
    progress: Callable[[FileOutcome], None] | None = None,
) -> FolderResult:
    """Give each file to intake, one at a time; an unreadable file is noted, not fatal."""
    for path in files:
        try:
            image = intake.add_image(order, source=path, filename=_text(path.name), actor=actor)
            outcome = FileOutcome(path, image)
        except OSError as exc:
            outcome = FileOutcome(path, None, f"Could not read the file: {exc.strerror or exc}.")
        result.outcomes.append(outcome)
        if progress is not None:
            progress(outcome)
    if order.awaiting_submit and order.submitted_at is None:
        # Closed meanwhile (cancelled by staff): nothing to start.
        with contextlib.suppress(OrderError):
            intake.submit_order(order, actor=actor, expected_images=len(result.outcomes))
    order.refresh_from_db()
    return result


def import_folder(
    folder: Path,
    *,
    event: Event,
    actor: Any,
    customer_name: str | None = None,
    customer_email: str = "",
    preset: Any | None = None,
    source: str = "folder",
    files: list[Path] | None = None,
    progress: Callable[[FileOutcome], None] | None = None,
) -> FolderResult:
    """One folder → one order with all its files. The customer defaults to the folder name.

    Raises ``FolderImportError`` when the folder has no files (no empty order is made).
    """
    folder = Path(folder)
    if not folder.is_dir():
        raise FolderImportError(f"{folder} is not a folder.")
    files = find_files(folder) if files is None else files
    if not files:
        raise FolderImportError(f"No files to import in {folder}.")
    order = start_order(
        folder,
        event=event,
        actor=actor,
        customer_name=customer_name,
        customer_email=customer_email,
        preset=preset,
        source=source,
    )
    result = FolderResult(folder, order)
    return add_files(order, files, actor=actor, result=result, progress=progress)


def summary_lines(result: FolderResult) -> list[str]:
    """What a person reads after an import: the order, counts, each refused file and why."""
    order = result.order
    lines = [
        f"{order.order_ref}  {order.customer_name}  ({result.folder.name}): "
        f"{len(result.added)} added, {len(result.rejected)} rejected"
    ]
    for outcome in result.rejected:
        try:
            shown = outcome.path.relative_to(result.folder)
        except ValueError:
            shown = outcome.path
        lines.append(f"  rejected  {shown}: {outcome.reason}")
    return lines
