"""What the benchmarks share: test photos, a bench database of their own, a free port.

Imported by the scripts in this folder (run as ``.venv/bin/python bench/<name>.py``, which puts
this folder first on ``sys.path``).
"""

from __future__ import annotations

import base64
import io
import math
import os
import secrets
import socket
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def _bench_key(name: str, make) -> str:
    """A key kept in ``var/<name>`` (0600): the bench databases are kept between runs, so
    the data they hold must stay readable by the next run."""
    path = ROOT / "var" / name
    path.parent.mkdir(exist_ok=True)
    if not path.exists() or not path.read_text().strip():
        path.touch(mode=0o600)
        path.write_text(make())
    return path.read_text().strip()


#: Production settings (DEBUG=0) refuse the PMR's demo secrets, a missing EMAIL_URL and missing
#: encryption keys (rkh_site/checks.py): a benchmark gives its processes, and the PMR simulator
#: it starts, made-up secrets and keys of its own, and mail that goes nowhere.
PMR_SECRETS = {
    **{
        name: secrets.token_urlsafe(24)
        for name in ("PMR_CLIENT_SECRET", "PMR_API_KEY", "PMR_WEBHOOK_SECRET")
    },
    "EMAIL_URL": "dummymail://",
    # Encryption at rest: keys of the benchmarks' own, kept for the next run.
    "FIELD_ENCRYPTION_KEYS": _bench_key(
        "bench_field_encryption_key",
        lambda: base64.urlsafe_b64encode(secrets.token_bytes(32)).decode(),
    ),
    "FIELD_HASH_KEY": _bench_key("bench_field_hash_key", lambda: secrets.token_urlsafe(48)),
}


def pmr_simulator_args() -> list[str]:
    """``python -m pmr.simulator`` options that make it accept ``PMR_SECRETS``."""
    return [
        "--client-secret",
        PMR_SECRETS["PMR_CLIENT_SECRET"],
        "--api-key",
        PMR_SECRETS["PMR_API_KEY"],
        "--webhook-secret",
        PMR_SECRETS["PMR_WEBHOOK_SECRET"],
    ]


def make_photos(
    n: int, seed: int, size: tuple[int, int], *, noise: float = 0.0, quality: int = 85
) -> list[bytes]:
    """N JPEGs of ``size``, no two near-duplicates: a random low-frequency pattern each (which
    the perceptual hash tells apart), plus Gaussian noise of ``noise`` (which sets the file
    size: about 0.42 bytes a pixel at 18 and quality 85)."""
    import numpy as np
    from PIL import Image

    width, height = size
    rng = np.random.default_rng(seed)
    photos = []
    for _ in range(n):
        coarse = Image.fromarray(rng.integers(0, 256, (6, 9, 3), dtype=np.uint8))
        base = np.asarray(coarse.resize((width, height), Image.Resampling.BICUBIC), np.int16)
        if noise:
            base = base + rng.normal(0, noise, (height, width, 1)).astype(np.int16)
        picture = Image.fromarray(np.clip(base, 0, 255).astype(np.uint8))
        out = io.BytesIO()
        picture.save(out, format="JPEG", quality=quality)
        photos.append(out.getvalue())
    return photos


def prepare_database(name: str, env: dict[str, str], host: str) -> None:
    """Create the bench database ``name`` when missing and migrate it (a subprocess, ``env``)."""
    import psycopg

    with psycopg.connect(f"host={host} user=postgres dbname=postgres", autocommit=True) as conn:
        if not conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", [name]).fetchone():
            conn.execute(f'CREATE DATABASE "{name}"')
    subprocess.run(
        [sys.executable, "manage.py", "migrate", "--noinput"],
        cwd=ROOT,
        env=env,
        check=True,
        stdout=subprocess.DEVNULL,
    )


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def load_average(when: str) -> str:
    """``load average (when): 1.23 0.98 0.75 on 2 cores``: printed at a benchmark's start and
    end, because this machine is shared and a figure means little without the load beside it."""
    one, five, fifteen = os.getloadavg()
    return f"load average ({when}): {one:.2f} {five:.2f} {fifteen:.2f} on {os.cpu_count()} cores"


def ai_processes_for(slots: int) -> int:
    """The AI worker's processes for ``slots`` provider slots, as deployed (the Procfile's 6 for
    4): a process carrying its edit onto the full-size photo has given its slot back, and
    another keeps the slot busy (docs/benchmarks.md, "Pipeline")."""
    return math.ceil(1.5 * slots)
