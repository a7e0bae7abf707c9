"""Empty the customer's name, e-mail and notes in the metadata rows already sent (or skipped):
the order keeps them, encrypted at rest (docs/deployment.md, "Encryption at rest"), and the
outbox's JSON is plain. Going back restores nothing (the values are on the orders)."""

from django.db import migrations

PERSONAL_FIELDS = ("customer_name", "customer_email", "notes")


def _without(data):
    if not isinstance(data, dict):
        return data
    return {k: (None if k in PERSONAL_FIELDS else v) for k, v in data.items()}


def forget(apps, schema_editor) -> None:
    OutboxEntry = apps.get_model("pmr", "OutboxEntry")
    rows = OutboxEntry.objects.filter(kind="order.put", state__in=["done", "skipped"])
    for row in rows.only("pk", "payload", "response").iterator(chunk_size=500):
        payload, response = _without(row.payload), _without(row.response)
        if (payload, response) != (row.payload, row.response):
            row.payload, row.response = payload, response
            row.save(update_fields=["payload", "response"])


class Migration(migrations.Migration):
    dependencies = [
        ("pmr", "0002_attention_indexes"),
    ]

    operations = [
        migrations.RunPython(forget, migrations.RunPython.noop, elidable=False),
    ]
