"""A Celery worker that met an unrecoverable error exits, so that its supervisor restarts it.

Celery logs "Unrecoverable error" and then stops the worker warmly: it waits for the prefork
pool to finish. In issue 14's walkthrough (Redis killed with AI tasks running) that wait never
ended: the pool's children were already gone (zombies) and the main process blocked reading
their pipe, alive but taking no work, so neither ``rkh_site.supervise`` nor a container
restart policy saw anything to restart, and the order waited with 15 messages queued.

After a failure exit code the stop gets ``WORKER_EXIT_GRACE_SECONDS`` to finish; then the
process leaves with that code. A normal (warm or cold) shutdown is not touched: it may wait as
long as its tasks take.
"""

from __future__ import annotations

import logging
import os
import threading

from celery.worker.worker import WorkController
from django.conf import settings

log = logging.getLogger(__name__)
_PATCHED = "_rkh_exit_watchdog_patched"


def arm(exitcode: int, seconds: float | None = None) -> threading.Timer:
    """Leave the process with ``exitcode`` in ``seconds`` (default: the setting
    ``WORKER_EXIT_GRACE_SECONDS``) unless it has exited by then."""
    if seconds is None:
        seconds = float(settings.WORKER_EXIT_GRACE_SECONDS)

    def leave() -> None:
        log.critical(
            "The worker did not stop within %.0f s of an unrecoverable error; exiting with %s",
            seconds,
            exitcode,
        )
        logging.shutdown()
        os._exit(exitcode)

    timer = threading.Timer(seconds, leave)
    timer.name = "rkh-worker-exit-watchdog"
    timer.daemon = True
    timer.start()
    return timer


def failed(exitcode: object) -> bool:
    """A stop with an exit code other than 0 (Celery passes None, 0 or EX_FAILURE)."""
    return isinstance(exitcode, int) and not isinstance(exitcode, bool) and exitcode != 0


def apply() -> None:
    """Patch ``WorkController.stop`` once (idempotent)."""
    original = WorkController.stop
    if getattr(original, _PATCHED, False):
        return

    def stop(self, in_sighandler=False, exitcode=None):
        if failed(exitcode) and getattr(self, "_rkh_exit_armed", None) is None:
            self._rkh_exit_armed = arm(exitcode)
        return original(self, in_sighandler=in_sighandler, exitcode=exitcode)

    setattr(stop, _PATCHED, True)
    stop.__doc__ = original.__doc__
    WorkController.stop = stop
