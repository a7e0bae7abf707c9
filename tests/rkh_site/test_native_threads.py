"""Worker processes give numpy's OpenBLAS one thread (rkh_site/native_threads.py): set before
numpy loads, unless the environment says otherwise."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]

#: Loads the Celery app the way ``celery -A rkh_site`` does, then numpy, and reports what the
#: native libraries were given (and OpenBLAS's own count, where its library can be found).
PROBE = """
import ctypes, glob, json, os, sys
import rkh_site.celery
numpy_before = "numpy" in sys.modules
import numpy
threads = None
here = os.path.dirname(numpy.__file__)
libs = glob.glob(os.path.join(here, os.pardir, "numpy.libs", "*openblas*"))
for path in libs:
    lib = ctypes.CDLL(path)
    for symbol in ("scipy_openblas_get_num_threads64_", "openblas_get_num_threads"):
        if hasattr(lib, symbol):
            threads = getattr(lib, symbol)()
            break
print(json.dumps({
    "numpy_before": numpy_before,
    "env": {k: os.environ.get(k) for k in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS")},
    "threads": threads,
}))
"""


def _probe(**env: str) -> dict:
    clean = {k: v for k, v in os.environ.items() if not k.endswith("_NUM_THREADS")}
    out = subprocess.run(
        [sys.executable, "-c", PROBE],
        cwd=ROOT,
        env={**clean, **env},
        capture_output=True,
        text=True,
        check=True,
        timeout=120,
    )
    return json.loads(out.stdout.strip().splitlines()[-1])


def test_a_worker_gives_openblas_one_thread():
    found = _probe()
    assert found["numpy_before"] is False  # the variables are read when numpy loads
    assert found["env"] == {"OPENBLAS_NUM_THREADS": "1", "OMP_NUM_THREADS": "1"}
    if found["threads"] is None:
        pytest.skip("this numpy's OpenBLAS library was not found; the variables are set")
    assert found["threads"] == 1


def test_the_environment_wins():
    found = _probe(OPENBLAS_NUM_THREADS="2")
    assert found["env"]["OPENBLAS_NUM_THREADS"] == "2"
    if found["threads"] is not None:
        assert found["threads"] == 2
