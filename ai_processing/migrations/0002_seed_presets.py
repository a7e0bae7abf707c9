"""Seed the presets a studio starts with; managers edit them in the admin."""

from django.db import migrations

PRESETS = [
    {
        "name": "Natural retouch",
        "slug": "natural-retouch",
        "description": "Gentle skin and blemish retouch, balanced colour; captions for the PMR.",
        "operations": ["analyze", "edit", "caption"],
        "edit_prompt": (
            "Retouch this photograph naturally: even out skin tones, remove small blemishes and "
            "stray hairs, balance exposure and white balance. Keep faces, expressions, clothing "
            "and background unchanged. No stylisation."
        ),
        "caption_prompt": (
            "Write a one-sentence factual caption, a short alt text for screen readers and up to "
            "ten keywords for this event photograph."
        ),
    },
    {
        "name": "Studio background",
        "slug": "studio-background",
        "description": "Replace the background with a seamless neutral studio backdrop.",
        "operations": ["analyze", "edit", "caption"],
        "edit_prompt": (
            "Replace the background with a seamless, evenly lit light-grey studio backdrop. Keep "
            "the people exactly as they are, with natural edges around hair."
        ),
        "caption_prompt": "Write a one-sentence caption, an alt text and up to ten keywords.",
        "print_aspect": "4:5",
    },
    {
        "name": "Colour correct only",
        "slug": "colour-correct-only",
        "description": "Exposure and white balance only; nothing else changes.",
        "operations": ["analyze", "edit"],
        "edit_prompt": (
            "Correct exposure and white balance of this photograph only. Change nothing else."
        ),
        "caption_prompt": "",
    },
    {
        "name": "Analyze only",
        "slug": "analyze-only",
        "description": "Quality and content checks, no edits: for orders delivered as shot.",
        "operations": ["analyze"],
        "edit_prompt": "",
        "caption_prompt": "",
    },
]


def seed(apps, schema_editor):
    Preset = apps.get_model("ai_processing", "ProcessingPreset")
    for data in PRESETS:
        Preset.objects.get_or_create(slug=data["slug"], defaults=data)


def unseed(apps, schema_editor):
    Preset = apps.get_model("ai_processing", "ProcessingPreset")
    Preset.objects.filter(slug__in=[p["slug"] for p in PRESETS]).delete()


class Migration(migrations.Migration):
    dependencies = [("ai_processing", "0001_initial")]
    operations = [migrations.RunPython(seed, unseed)]
