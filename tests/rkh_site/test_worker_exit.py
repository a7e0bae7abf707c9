"""A worker that met an unrecoverable error exits, even when its shutdown hangs.

Issue 14's walkthrough: Redis killed with AI tasks running, Celery logged "Unrecoverable error"
and its warm stop then blocked for good reading a pipe of its dead pool; the process lived on
taking no work and its supervisor saw nothing to restart. ``rkh_site.worker_exit`` gives such a
stop a grace period and then leaves with the failure's exit code.
"""

from __future__ import annotations

import subprocess
import sys
import textwrap
import time
from types import SimpleNamespace

import pytest
from celery.worker.worker import WorkController

import rkh_site.celery  # noqa: F401 (applies the patch, as every worker does)
from rkh_site import worker_exit

HANGS_ON_A_PIPE = textwrap.dedent(
    """
    import os, sys
    from rkh_site import worker_exit
    if sys.argv[1] == "armed":
        worker_exit.arm(3, seconds=0.5)
    read_end, write_end = os.pipe()
    os.read(read_end, 1)  # nobody writes: blocked, as the hung worker was
    """
)


@pytest.mark.parametrize("armed", [True, False])
def test_a_process_blocked_after_the_failure_leaves_with_its_code(armed):
    started = time.monotonic()
    process = subprocess.Popen(
        [sys.executable, "-c", HANGS_ON_A_PIPE, "armed" if armed else "not-armed"]
    )
    try:
        code = process.wait(timeout=4 if armed else 2)
    except subprocess.TimeoutExpired:
        code = None
    finally:
        process.kill()
        process.wait()
    if armed:
        assert code == 3
        assert time.monotonic() - started < 4
    else:
        assert code is None, "without the watchdog the process stays blocked"


@pytest.mark.parametrize(
    ("exitcode", "arms"), [(1, True), (70, True), (None, False), (0, False), (False, False)]
)
def test_only_a_failed_stop_is_given_a_deadline(monkeypatch, exitcode, arms):
    armed = []
    monkeypatch.setattr(worker_exit, "arm", lambda code: armed.append(code) or object())
    worker = WorkController.__new__(WorkController)
    worker.blueprint = SimpleNamespace(state=None)  # not running: stop() only signals
    worker._send_worker_shutdown = lambda: None

    WorkController.stop(worker, exitcode=exitcode)
    WorkController.stop(worker, exitcode=exitcode)  # Celery may stop twice: armed once

    assert armed == ([exitcode] if arms else [])
