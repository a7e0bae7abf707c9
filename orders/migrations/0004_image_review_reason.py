"""Image.review_reason: the category of an image's review reason, for the review queue.

Images already waiting for review get theirs from what set them there: a
near-duplicate found at ingest has ``duplicate_of`` (or ``near_duplicate`` in
its metadata), the AI pipeline's reason starts "No AI provider could"; the
rest are "other".
"""

from django.db import migrations, models
from django.db.models import Q


def categorise_waiting_images(apps, schema_editor):
    Image = apps.get_model("orders", "Image")
    waiting = Image.objects.filter(status="needs_review")
    waiting.filter(Q(duplicate_of__isnull=False) | Q(metadata__has_key="near_duplicate")).update(
        review_reason="near_duplicate"
    )
    waiting.filter(review_reason="", status_reason__startswith="No AI provider could").update(
        review_reason="no_provider"
    )
    waiting.filter(review_reason="").update(review_reason="other")


class Migration(migrations.Migration):
    dependencies = [
        ("orders", "0003_ai_results"),
    ]

    operations = [
        migrations.AddField(
            model_name="image",
            name="review_reason",
            field=models.CharField(
                blank=True,
                choices=[
                    ("near_duplicate", "Near-duplicate"),
                    ("no_provider", "No AI provider could do it"),
                    ("quality", "Quality"),
                    ("hand_edit", "Hand-edit needed"),
                    ("other", "Other"),
                ],
                help_text="While the image waits for review: the category of its reason (else empty).",
                max_length=20,
            ),
        ),
        migrations.RunPython(categorise_waiting_images, migrations.RunPython.noop),
    ]
