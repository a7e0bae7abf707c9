"""One thread per process for the native maths libraries (OpenBLAS under numpy, OpenMP).

Imported by the settings and the Celery app before anything imports numpy: the libraries
read these variables once, when they load.

Why: the project's work runs in many processes at once (a prefork worker per queue, C of them
for the AI step), each on the same few cores. OpenBLAS starts a pool of one thread per core in
every process, and its threads spin while they wait for work; with 16 AI processes on 2 cores
the spinning took the CPU the work needed. The full-resolution fit of one image
(``ai_processing.fullres.plan``, 1248 x 832 answer) measured 5.0-5.7 s of CPU (12 s wall) with
the default pool and 1.4-1.6 s (2-2.8 s wall) with one thread, on the same busy machine
(docs/benchmarks.md, "Pipeline"). A deployment that runs one process per host and wants the
pool back sets the variables itself: these are defaults only.
"""

from __future__ import annotations

import os

#: The variables, and the value each gets unless the environment already sets it.
DEFAULTS = {
    "OPENBLAS_NUM_THREADS": "1",
    "OMP_NUM_THREADS": "1",
    "MKL_NUM_THREADS": "1",
}

for _name, _value in DEFAULTS.items():
    os.environ.setdefault(_name, _value)
