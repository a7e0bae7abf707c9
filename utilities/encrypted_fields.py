"""Model fields whose values are encrypted before they reach the database, and their keys.

The fields are django-fernet-encrypted-fields' (Fernet: AES-128-CBC with an HMAC-SHA256
over it, from ``cryptography``), with four changes that this project needs:

- **Keys.** The library derives its keys from ``SECRET_KEY`` and ``SALT_KEY``; here they are
  the Fernet keys of ``FIELD_ENCRYPTION_KEYS`` themselves. Rotating ``SECRET_KEY`` (after a
  leak, or because sessions should end) must not make the customers' data unreadable, and
  the data key must be a thing of its own that is backed up apart from the database. The
  first key encrypts, every key decrypts (``MultiFernet``): rotation is "put the new key
  first, run ``manage.py reencrypt``, drop the old one" (docs/deployment.md).
- **Empty stays empty.** The library stores ``""`` as NULL, which the NOT NULL columns of
  optional fields (an order without an e-mail address) refuse and which would read back as
  ``None``. An empty value says nothing about a person, so it is stored as it is.
- **The database cannot compare them, so it is not asked to.** A filter such as
  ``customer_email="a@b.example"`` would compare with a fresh ciphertext (a new IV each
  time) and silently match nothing; every lookup but ``isnull`` raises ``FieldError`` instead.
- **A value that does not decrypt is an error.** The library hands back the stored text
  when no key fits. Then a missing key would show ciphertext as a customer's name, and the
  next save would encrypt that ciphertext once more. Reading such a row raises
  ``UndecryptableValue`` naming the field instead.

``KeyedHashField`` is the searchable side: an HMAC-SHA256 of a normalised source value with
``FIELD_HASH_KEY``, kept beside the ciphertext in an indexed column, so an exact match (an
order by its customer's e-mail) is one index lookup without the database seeing the value.
"""

from __future__ import annotations

import functools
import hashlib
import hmac
from collections.abc import Iterator
from typing import Any

from cryptography.fernet import Fernet, InvalidToken, MultiFernet
from django.conf import settings
from django.core.exceptions import FieldError, ImproperlyConfigured
from django.db import models, transaction
from encrypted_fields import fields as fernet_fields


class UndecryptableValue(Exception):
    """A stored value that none of ``FIELD_ENCRYPTION_KEYS`` decrypts."""


@functools.lru_cache(maxsize=8)
def _fernet_for(keys: tuple[str, ...]) -> MultiFernet:
    return MultiFernet([Fernet(key.encode("ascii")) for key in keys])


#: Decrypted values remembered per process (ciphertext -> text), per key list: a list page
#: of 50 orders decrypts 100 names and addresses, each an HMAC check and an AES decryption
#: (about a third of the request's CPU, docs/benchmarks.md "API"). A ciphertext is
#: immutable (a new IV on every write), so a remembered text can never be stale; the key
#: list is part of the key, so dropping a key from the settings stops its texts being read.
_DECRYPTED_MAX = 20_000


@functools.lru_cache(maxsize=_DECRYPTED_MAX)
def _decrypted(keys: tuple[str, ...], token: str) -> str:
    """``token`` decrypted with ``keys`` (``InvalidToken`` is raised, and not remembered)."""
    return _fernet_for(keys).decrypt(token.encode("ascii")).decode("utf-8")


def _keys() -> tuple[str, ...]:
    return tuple(k.strip() for k in getattr(settings, "FIELD_ENCRYPTION_KEYS", ()) if k.strip())


def fernet() -> MultiFernet:
    """The keys of ``FIELD_ENCRYPTION_KEYS``, the first one encrypting.

    Read from the settings on every use (cached per key list), so a changed setting (a
    test's ``override_settings``, a rotation) applies without a restart of the field.
    """
    keys = tuple(k.strip() for k in getattr(settings, "FIELD_ENCRYPTION_KEYS", ()) if k.strip())
    if not keys:
        raise ImproperlyConfigured(
            "FIELD_ENCRYPTION_KEYS is empty: encrypted fields can neither be read nor written "
            "(docs/configuration.md, Encryption at rest)."
        )
    return _fernet_for(keys)


class EncryptedFieldMixin(fernet_fields.EncryptedFieldMixin):
    """The library's mixin with this project's keys, empty values and strict reads."""

    @property
    def keys(self) -> list[bytes]:  # type: ignore[override]
        return [k.encode("ascii") for k in settings.FIELD_ENCRYPTION_KEYS]

    @property
    def f(self) -> MultiFernet:  # type: ignore[override]
        return fernet()

    def get_prep_value(self, value: Any) -> Any:
        if value == "":
            return ""
        return super().get_prep_value(value)

    def get_lookup(self, lookup_name: str) -> Any:
        if lookup_name != "isnull":
            raise FieldError(
                f"{self.model._meta.label}.{self.name} is encrypted at rest: the database cannot "
                f"compare it ({lookup_name!r}). Look e-mails up through their keyed hash "
                "(Order.objects.for_customer_email), or compare in Python."
            )
        return super().get_lookup(lookup_name)

    def from_db_value(self, value: Any, expression: Any, connection: Any) -> Any:
        if value is None or value == "":
            return value
        try:
            fernet()  # no keys at all: ImproperlyConfigured, as before
            plain = _decrypted(_keys(), value)
        except (InvalidToken, UnicodeEncodeError, UnicodeDecodeError) as exc:
            raise UndecryptableValue(
                f"{self.model._meta.label}.{self.name}: a stored value does not decrypt with "
                "any key of FIELD_ENCRYPTION_KEYS (a key missing from the list, or a row "
                "written outside the application)."
            ) from exc
        # The parent's to_python, not ours: the plain text must not be tried as a token.
        return super(fernet_fields.EncryptedFieldMixin, self).to_python(plain)


class EncryptedCharField(EncryptedFieldMixin, models.CharField):
    """A ``CharField`` stored encrypted (a text column: the ciphertext is longer)."""


class EncryptedEmailField(EncryptedFieldMixin, models.EmailField):
    """An ``EmailField`` stored encrypted."""


class EncryptedTextField(EncryptedFieldMixin, models.TextField):
    """A ``TextField`` stored encrypted."""


def normalised_email(value: str | None) -> str:
    """What counts as the same address: surrounding space off, lower case."""
    return (value or "").strip().lower()


def keyed_hash(value: str) -> str:
    """HMAC-SHA256 of ``value`` with ``FIELD_HASH_KEY``, hex; "" for an empty value.

    A keyed hash, not a plain one: without the key nobody can hash a list of known
    addresses and look for them in a copy of the database.
    """
    if not value:
        return ""
    key = str(getattr(settings, "FIELD_HASH_KEY", "") or "")
    if not key:
        raise ImproperlyConfigured(
            "FIELD_HASH_KEY is empty: e-mail addresses cannot be looked up "
            "(docs/configuration.md, Encryption at rest)."
        )
    return hmac.new(key.encode("utf-8"), value.encode("utf-8"), hashlib.sha256).hexdigest()


def email_hash(value: str | None) -> str:
    """The keyed hash of an e-mail address as ``KeyedHashField`` stores it."""
    return keyed_hash(normalised_email(value))


class KeyedHashField(models.CharField):
    """``email_hash`` of another field of the row, set whenever the row is saved.

    ``source`` names that field. Django writes neither of these for a save whose
    ``update_fields`` names only the source, nor for a ``QuerySet.update`` of the source: the
    model's ``save`` and its queryset's ``update`` add it (``orders.models.Order``).
    """

    def __init__(self, *args: Any, source: str = "", **kwargs: Any) -> None:
        self.source = source
        kwargs.setdefault("max_length", 64)
        kwargs.setdefault("editable", False)
        kwargs.setdefault("blank", True)
        kwargs.setdefault("default", "")
        super().__init__(*args, **kwargs)

    def deconstruct(self) -> tuple[Any, ...]:
        name, path, args, kwargs = super().deconstruct()
        kwargs["source"] = self.source
        for key, default in (("max_length", 64), ("editable", False), ("blank", True)):
            if kwargs.get(key, default) == default:
                kwargs.pop(key, None)
        if kwargs.get("default") == "":
            kwargs.pop("default")
        return name, path, args, kwargs

    def compute(self, instance: models.Model) -> str:
        return email_hash(getattr(instance, self.source))

    def pre_save(self, model_instance: models.Model, add: bool) -> str:
        value = self.compute(model_instance)
        setattr(model_instance, self.attname, value)
        return value


def encrypted_fields_of(model: type[models.Model]) -> list[models.Field]:
    return [f for f in model._meta.concrete_fields if isinstance(f, EncryptedFieldMixin)]


def hash_fields_of(model: type[models.Model]) -> list[KeyedHashField]:
    return [f for f in model._meta.concrete_fields if isinstance(f, KeyedHashField)]


def _pk_batches(model: type[models.Model], batch_size: int) -> Iterator[list[Any]]:
    last = None
    while True:
        qs = model._base_manager.order_by("pk").values_list("pk", flat=True)
        if last is not None:
            qs = qs.filter(pk__gt=last)
        pks = list(qs[:batch_size])
        if not pks:
            return
        yield pks
        last = pks[-1]


def reencrypt(model: type[models.Model], *, batch_size: int = 500) -> int:
    """Rewrite every encrypted field of every row of ``model`` with the first key, and
    recompute its keyed hashes with the current ``FIELD_HASH_KEY``; the number of rows.

    Batches of rows are locked while they are read and written, so an edit made meanwhile
    is neither lost nor overwritten. Only these columns are written (no ``save``: no
    ``updated_at``, no audit entry, no signals), and a row that does not decrypt stops the
    run (``UndecryptableValue``) before anything of its batch is written.
    """
    names = [f.name for f in encrypted_fields_of(model)] + [f.name for f in hash_fields_of(model)]
    if not names:
        return 0
    hashes = hash_fields_of(model)
    done = 0
    for pks in _pk_batches(model, batch_size):
        with transaction.atomic():
            rows = list(
                model._base_manager.select_for_update().filter(pk__in=pks).only("pk", *names)
            )
            for row in rows:
                for field in hashes:
                    setattr(row, field.attname, field.compute(row))
            model._base_manager.bulk_update(rows, names)
            done += len(rows)
    return done


def mask_for_audit(value: str) -> str:
    """What django-auditlog records for an encrypted field: that there was a value, not it.

    The log's changes are plain JSON; the real value there would undo the encryption. An
    empty value (and a new row's "None") stays as it is, so "added" and "removed" still read.
    """
    return value if value in ("", "None") else "(encrypted)"


def _rewrite_rows(
    schema_editor: Any,
    table: str,
    columns: list[str],
    rewrite: Any,
    batch_size: int = 1000,
) -> None:
    """Give ``rewrite(row)`` every row of ``table`` (a dict of ``id`` and ``columns``) and
    write back the columns it returns: plain SQL, as a migration must not use the models."""
    connection = schema_editor.connection
    quote = connection.ops.quote_name
    selected = ", ".join(quote(c) for c in ["id", *columns])
    last = 0
    with connection.cursor() as cursor:
        while True:
            cursor.execute(
                # Names from the migration's code, quoted; values as parameters.
                f"SELECT {selected} FROM {quote(table)} WHERE id > %s ORDER BY id LIMIT %s",  # noqa: S608
                [last, batch_size],
            )
            rows = [dict(zip(["id", *columns], row, strict=True)) for row in cursor.fetchall()]
            if not rows:
                return
            for row in rows:
                new = rewrite(row)
                assignments = ", ".join(f"{quote(c)} = %s" for c in new)
                cursor.execute(
                    f"UPDATE {quote(table)} SET {assignments} WHERE id = %s",  # noqa: S608
                    [*new.values(), row["id"]],
                )
            last = rows[-1]["id"]


def _encrypt(value: str | None) -> str:
    return fernet().encrypt(value.encode("utf-8")).decode("ascii") if value else (value or "")


def _decrypt(value: str | None) -> str:
    return fernet().decrypt(value.encode("ascii")).decode("utf-8") if value else (value or "")


def encrypt_rows_operations(
    table: str, columns: list[str], hashes: dict[str, str] | None = None
) -> tuple[Any, Any]:
    """The forward and reverse functions of a data migration that encrypts ``columns``.

    Forward encrypts the plain values with the first key of ``FIELD_ENCRYPTION_KEYS`` and
    fills each hash column (``{hash column: source column}``) with ``email_hash`` of its
    source; reverse decrypts them again (the hash columns are dropped by the schema step).
    """
    hashes = hashes or {}

    def forward(apps: Any, schema_editor: Any) -> None:
        def rewrite(row: dict[str, Any]) -> dict[str, str]:
            new = {c: _encrypt(row[c]) for c in columns}
            new.update({h: email_hash(row[source]) for h, source in hashes.items()})
            return new

        _rewrite_rows(schema_editor, table, columns, rewrite)

    def reverse(apps: Any, schema_editor: Any) -> None:
        _rewrite_rows(
            schema_editor, table, columns, lambda row: {c: _decrypt(row[c]) for c in columns}
        )

    return forward, reverse
