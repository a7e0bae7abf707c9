"""The print sizes a studio starts with (managers change the list in the admin)."""

from decimal import Decimal

from django.db import migrations

SIZES = [
    # code, label, short side, long side (inches), position
    ("digital", "Digital file", None, None, 0),
    ("4x6", "4×6", Decimal(4), Decimal(6), 10),
    ("5x7", "5×7", Decimal(5), Decimal(7), 20),
    ("8x10", "8×10", Decimal(8), Decimal(10), 30),
    ("11x14", "11×14", Decimal(11), Decimal(14), 40),
]


def seed(apps, schema_editor):
    PrintSize = apps.get_model("orders", "PrintSize")
    for code, label, short, long_, position in SIZES:
        PrintSize.objects.get_or_create(
            code=code,
            defaults={
                "label": label,
                "width_in": short,
                "height_in": long_,
                "position": position,
                "active": True,
            },
        )


def unseed(apps, schema_editor):
    PrintSize = apps.get_model("orders", "PrintSize")
    PrintSize.objects.filter(code__in=[s[0] for s in SIZES]).delete()


class Migration(migrations.Migration):
    dependencies = [("orders", "0007_prints_and_crops")]

    operations = [migrations.RunPython(seed, unseed)]
