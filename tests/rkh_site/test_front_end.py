"""The front end's shape (docs/architecture.md, "static/"): page scripts are ES modules loaded by
``<script type="module">``, sharing what they share through static/js/common.js and nothing
through globals; templates carry no inline script code (a Content Security Policy without
'unsafe-inline' is the next step); ESLint, from the npm lock file, runs in ``make test``.
"""

from __future__ import annotations

import json
import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
TEMPLATE_DIRS = [ROOT / "templates", *ROOT.glob("*/templates")]
SCRIPT_TAG = re.compile(r"<script\b([^>]*)>(.*?)</script>", re.S | re.I)


def _templates() -> list[Path]:
    return [path for folder in TEMPLATE_DIRS for path in folder.rglob("*.html")]


def test_no_template_has_inline_script_code():
    for path in _templates():
        for attrs, body in SCRIPT_TAG.findall(path.read_text()):
            assert "src=" in attrs, f"{path}: inline script {body[:60]!r}"
            assert not body.strip(), f"{path}: inline script {body[:60]!r}"


def test_page_scripts_load_as_modules():
    seen = 0
    for path in _templates():
        for attrs, _body in SCRIPT_TAG.findall(path.read_text()):
            if "'js/" in attrs:
                seen += 1
                assert 'type="module"' in attrs, f"{path}: {attrs}"
    assert seen >= 10  # the page scripts were found at all


def test_no_page_script_uses_window_globals_to_talk():
    for path in (ROOT / "static" / "js").rglob("*.js"):
        assert "window.RKH" not in path.read_text(), path


def test_make_test_lints_the_scripts_with_eslint_from_the_lock_file():
    makefile = (ROOT / "Makefile").read_text()
    test_target = makefile[makefile.index("\ntest:") :].split("\n\n")[0]
    lines = test_target.splitlines()
    eslint = next(i for i, line in enumerate(lines) if "node_modules/.bin/eslint ." in line)
    ruff = max(i for i, line in enumerate(lines) if "ruff" in line)
    assert ruff < eslint
    package = json.loads((ROOT / "package.json").read_text())
    lock = json.loads((ROOT / "package-lock.json").read_text())
    for name in ("eslint", "@eslint/js", "globals"):
        version = package["devDependencies"][name]
        assert lock["packages"][f"node_modules/{name}"]["version"] == version
    assert (ROOT / "eslint.config.js").is_file()
