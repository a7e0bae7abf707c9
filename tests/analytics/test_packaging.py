"""Chart.js comes from the npm lock file and is served as a static file: no CDN anywhere.

These read the files the build uses (package.json, the lock file, Makefile,
.ci/run, Dockerfile, .gitignore) and ask the static files finders, so a change
that would break ``make run``, CI or the image fails here first.
"""

from __future__ import annotations

import json
import re
from pathlib import Path

from django.contrib.staticfiles import finders

ROOT = Path(__file__).resolve().parents[2]
CDN = re.compile(
    r"(cdn\.jsdelivr|unpkg\.com|cdnjs|googleapis\.com/ajax|https?://[^\s\"']*chart)", re.I
)


def test_chart_js_is_pinned_exactly_and_locked():
    package = json.loads((ROOT / "package.json").read_text())
    version = package["dependencies"]["chart.js"]
    assert re.fullmatch(r"4\.\d+\.\d+", version), "pin an exact 4.x version"
    lock = json.loads((ROOT / "package-lock.json").read_text())
    assert lock["packages"]["node_modules/chart.js"]["version"] == version
    assert lock["packages"]["node_modules/chart.js"]["integrity"].startswith("sha512-")


def test_the_umd_build_is_found_under_the_vendor_prefix():
    found = finders.find("vendor/chartjs/chart.umd.min.js")
    assert found, "run `npm ci` (make run / make test do)"
    assert Path(found).resolve().is_relative_to((ROOT / "node_modules").resolve())


def test_no_cdn_in_templates_or_scripts():
    for folder in ("templates", "static", "analytics"):
        for path in (ROOT / folder).rglob("*"):
            if path.suffix in {".html", ".js", ".css", ".py"}:
                assert not CDN.search(path.read_text()), path


def test_builds_install_the_lock_file():
    makefile = (ROOT / "Makefile").read_text()
    assert "npm ci" in makefile
    for target in ("venv:", "venv-dev:"):
        line = next(line for line in makefile.splitlines() if line.startswith(target))
        assert "$(NODE_MODULES)" in line, line
    ci = (ROOT / ".ci" / "run").read_text()
    assert "command -v npm" in ci
    assert "nodejs npm" in ci
    dockerfile = (ROOT / "Dockerfile").read_text()
    assert "npm ci" in dockerfile
    assert "COPY package.json package-lock.json" in dockerfile
    assert dockerfile.index("COPY --from=node-packages") < dockerfile.index(
        "manage.py collectstatic"
    )
    assert "/node_modules/" in (ROOT / ".gitignore").read_text().splitlines()
    assert "node_modules" in (ROOT / ".dockerignore").read_text().splitlines()
