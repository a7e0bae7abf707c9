"""A tiny app loaded only by the processes a drill starts (tests/drills/settings.py).

Between two drills the test database is flushed, and the content types made again get new ids;
the web and worker processes of the module outlive that flush and would write audit entries
with the old ids. They forget the ids they cached at the start of every request and task.
"""

from django.apps import AppConfig


def _forget_content_types(**kwargs) -> None:
    from django.contrib.contenttypes.models import ContentType

    ContentType.objects.clear_cache()


class DrillsConfig(AppConfig):
    name = "tests.drills"
    label = "drills"

    def ready(self) -> None:
        from celery.signals import task_prerun
        from django.core.signals import request_started

        request_started.connect(_forget_content_types, dispatch_uid="drills.forget.request")
        task_prerun.connect(_forget_content_types, dispatch_uid="drills.forget.task", weak=False)
