"""Clients and simulators load neither Django nor app code (issue 12).

The simulators run as plain processes (``make run`` starts them beside the web and workers)
and the clients are libraries any app may use; pulling in Django, settings or an app would
make them slow to start, tie them to a configured project, and hide import cycles. The
import-linter contracts (``pyproject.toml``) check the imports as written; this checks what
really ends up loaded: each module is imported alone, in a fresh interpreter, and the modules
it left in ``sys.modules`` are listed.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
#: The project's own top-level packages: the apps, the project package, the plumbing.
OWN = sorted(
    {p.parent.name for p in ROOT.glob("*/apps.py")} | {"rkh_site", "utilities", "tests", "tools"}
)
PURE = ("clients", "simulator")


def _dotted(path: Path) -> str:
    parts = path.relative_to(ROOT).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def _pure_modules() -> list[str]:
    found = []
    for app in OWN:
        for kind in PURE:
            found += [_dotted(p) for p in sorted((ROOT / app / kind).rglob("*.py"))]
        found += [_dotted(p) for p in sorted((ROOT / app).glob("*_simulator.py"))]
    return found


def _allowed(name: str) -> bool:
    """An own module a client or simulator may load: an app package itself (its empty
    ``__init__``, which importing anything below it runs), clients, simulators, and the
    Django-free simulator base (``utilities.simulation``)."""
    parts = name.split(".")
    if len(parts) == 1:
        return name != "rkh_site" and name != "tests"
    if parts[:2] == ["utilities", "simulation"]:
        return True
    return parts[1] in PURE or parts[1].endswith("_simulator")


MODULES = _pure_modules()


def test_every_app_client_and_simulator_is_checked():
    assert {"ai_processing.clients", "pmr.clients", "ai_processing.simulator"} <= set(MODULES)
    assert {"pmr.simulator.server", "notifications.push_simulator"} <= set(MODULES)


@pytest.mark.parametrize("module", MODULES)
def test_loads_neither_django_nor_app_code(module):
    env = {k: v for k, v in os.environ.items() if k != "DJANGO_SETTINGS_MODULE"}
    code = (
        "import importlib, json, sys; "
        f"importlib.import_module({module!r}); "
        "print(json.dumps(sorted(sys.modules)))"
    )
    run = subprocess.run(
        [sys.executable, "-c", code], cwd=ROOT, env=env, capture_output=True, text=True, timeout=60
    )
    assert run.returncode == 0, run.stderr
    loaded = json.loads(run.stdout.strip().splitlines()[-1])
    assert not [m for m in loaded if m == "django" or m.startswith("django.")]
    own = [m for m in loaded if m.split(".")[0] in OWN]
    assert module in own  # the check sees the project's modules at all
    assert [m for m in own if not _allowed(m)] == []
