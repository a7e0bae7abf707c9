"""The deployment files agree with the code.

No Docker engine runs on the project's machines, so docker-compose.yml cannot
be started here; these tests read it (and the Procfile and Dockerfile) and
check what a typo would break: services, health checks, queues and commands.
"""

from __future__ import annotations

import importlib
import shlex
from pathlib import Path

import pytest
import yaml
from django.conf import settings

ROOT = Path(__file__).resolve().parents[2]
APP_SERVICES = {"migrate", "web", "worker", "worker-ai", "beat"}


@pytest.fixture(scope="module")
def compose() -> dict:
    return yaml.safe_load((ROOT / "docker-compose.yml").read_text())


def test_compose_has_every_service_with_health_checks(compose):
    services = compose["services"]
    assert set(services) == {"postgres", "redis", "minio", "proxy"} | APP_SERVICES
    for name in ("postgres", "redis", "minio", "proxy", "web", "worker", "worker-ai"):
        assert services[name]["healthcheck"]["test"], name
    for volume in ("pgdata", "redisdata", "miniodata"):
        assert volume in compose["volumes"]


def test_compose_restarts_every_long_running_service(compose):
    """A crashed worker (or web, beat, Redis, PostgreSQL) comes back by itself; the one-shot
    migration does not run again (issue 11, item 5)."""
    services = compose["services"]
    for name in set(services) - {"migrate"}:
        assert services[name].get("restart") == "unless-stopped", name
    assert services["migrate"]["restart"] == "no"


def test_compose_redis_keeps_an_append_only_file(compose):
    command = compose["services"]["redis"]["command"]
    assert command[command.index("--appendonly") + 1] == "yes"


def test_compose_app_services_run_in_production_mode_against_postgres_and_redis(compose):
    for name in APP_SERVICES:
        env = compose["services"][name]["environment"]
        assert env["DEBUG"] == "0", name
        assert env["DATABASE_URL"].startswith("postgres://"), name
        assert env["REDIS_URL"] == "redis://redis:6379/0", name


def test_compose_app_services_wait_for_healthy_dependencies(compose):
    for name in APP_SERVICES - {"migrate"}:
        depends = compose["services"][name]["depends_on"]
        assert depends["postgres"]["condition"] == "service_healthy"
        assert depends["redis"]["condition"] == "service_healthy"
        assert depends["migrate"]["condition"] == "service_completed_successfully"


def test_compose_workers_consume_every_required_queue(compose):
    consumed: set[str] = set()
    for name in ("worker", "worker-ai"):
        command = compose["services"][name]["command"]
        consumed |= set(command[command.index("-Q") + 1].split(","))
    assert set(settings.CELERY_REQUIRED_QUEUES) <= consumed


def test_compose_web_serves_the_asgi_application_on_loopback_only(compose):
    """Two web replicas publish nothing; the proxy in front of them, on loopback only."""
    web = compose["services"]["web"]
    module, attribute = web["command"][1].split(":")
    assert hasattr(importlib.import_module(module), attribute)
    assert "ports" not in web
    assert web["deploy"]["replicas"] >= 2
    proxy = compose["services"]["proxy"]
    assert all(port.startswith("127.0.0.1:") for port in proxy["ports"])
    config = (ROOT / "deploy" / "proxy" / "nginx.conf").read_text()
    assert "server web:8000 resolve;" in config
    assert "proxy_set_header Upgrade $http_upgrade;" in config  # WebSockets pass


def test_compose_web_and_workers_share_only_postgres_redis_and_the_object_store(compose):
    """No volume is shared between web processes and workers: the media are in the object
    store (MEDIA_STORAGE=s3), the bucket made by the one-shot migrate service."""
    services = compose["services"]
    for name in ("web", "worker", "worker-ai", "migrate"):
        env = services[name]["environment"]
        assert env["MEDIA_STORAGE"] == "s3", name
        assert env["MEDIA_S3_ENDPOINT_URL"].endswith("minio:9000}"), name
    for name in ("web", "worker-ai"):
        assert "volumes" not in services[name], name
    worker_mounts = [v.split(":", 1)[0] for v in services["worker"]["volumes"]]
    assert worker_mounts == ["backups"]  # its own: the archives of the daily backup
    assert "media_bucket" in " ".join(services["migrate"]["command"])


def test_procfile_processes_use_real_entry_points():
    processes = {}
    for line in (ROOT / "Procfile").read_text().splitlines():
        name, _, command = line.partition(":")
        processes[name] = command.strip()
    assert set(processes) == {
        "redis",
        "web",
        "worker",
        "worker-ai",
        "beat",
        "hotfolder",
        "runware-sim",
        "gemini-sim",
        "pmr-sim",
    }
    assert "rkh_site.asgi:application" in processes["web"]
    for name in ("web", "worker", "worker-ai", "beat", "hotfolder"):
        assert processes[name].startswith("python manage.py wait_for_services &&"), name
    # honcho stops everything when one process exits and restarts nothing: every
    # long-running process of ours runs under the supervisor, which restarts it.
    for name in ("redis", "web", "worker", "worker-ai", "beat", "hotfolder"):
        supervised = processes[name].rsplit("&&", 1)[-1].strip()
        assert supervised.startswith(f"exec python -m rkh_site.supervise --name {name} -- "), name
    importlib.import_module("rkh_site.supervise")
    # As in docker-compose: AI tasks, which wait on the provider, have processes of their own,
    # so ingest and PMR work never queue behind them; together the workers consume every queue.
    queues: dict[str, set[str]] = {}
    names = set()
    for name in ("worker", "worker-ai"):
        argv = shlex.split(processes[name].split("&&", 1)[1])
        queues[name] = set(argv[argv.index("-Q") + 1].split(","))
        names.add(argv[argv.index("-n") + 1])
    assert set(settings.CELERY_REQUIRED_QUEUES) <= queues["worker"] | queues["worker-ai"]
    assert queues["worker-ai"] == {"ai"}
    assert "ai" not in queues["worker"]
    assert len(names) == 2  # distinct node names: no duplicate-nodename clash
    importlib.import_module(processes["redis"].rsplit("-m", 1)[1].strip())
    assert processes["hotfolder"].endswith("manage.py watch_hot_folder")
    # The simulators listen where the settings' no-key defaults point: the port variable the
    # Procfile reads is the one the settings read, with the same default (the project's
    # settings, not the test settings, which point the PMR nowhere).
    from rkh_site import settings as project

    for name, module, variable, url in (
        ("runware-sim", "ai_processing.simulator", "RUNWARE_SIM_PORT", project.RUNWARE_URL),
        (
            "gemini-sim",
            "ai_processing.simulator.gemini",
            "GEMINI_SIM_PORT",
            settings.GEMINI_BASE_URL,
        ),
        ("pmr-sim", "pmr.simulator", "PMR_SIM_PORT", project.PMR_BASE_URL),
    ):
        argv = shlex.split(processes[name])
        assert argv[:4] == ["exec", "python", "-m", module], name
        importlib.import_module(module)
        port = getattr(project, variable)
        assert argv[argv.index("--port") + 1] == f"${{{variable}:-{port}}}", name
        assert url.startswith(("ws://127.0.0.1:", "http://127.0.0.1:")), url
        assert url.split(":")[2].split("/")[0] == str(port), name
        assert argv[argv.index("--host") + 1] == "127.0.0.1", name


def test_dockerfile_installs_from_the_lock_file():
    dockerfile = (ROOT / "Dockerfile").read_text()
    assert "uv sync --frozen --no-dev" in dockerfile
    assert "COPY pyproject.toml uv.lock" in dockerfile


def test_the_pmr_simulator_calls_back_the_web_process_it_runs_beside():
    """make run: the PMR simulator's webhooks go to this project's webhook URL."""
    line = next(
        line for line in (ROOT / "Procfile").read_text().splitlines() if line.startswith("pmr-sim:")
    )
    argv = shlex.split(line.partition(":")[2])
    assert argv[argv.index("--webhook-url") + 1] == (
        "http://$RKH_BIND:$RKH_PORT/api/v1/pmr/webhook"
    )


def test_the_worker_that_runs_the_daily_backup_has_the_tools_and_the_volumes(compose):
    """The beat task runs on the default queue (the ``worker`` service): it needs pg_dump in the
    image, the media, and a volume at the image's BACKUP_DIR that outlives the container."""
    dockerfile = (ROOT / "Dockerfile").read_text()
    assert "postgresql-client" in dockerfile
    assert "BACKUP_DIR=/data/backups" in dockerfile
    worker = compose["services"]["worker"]
    assert "default" in worker["command"][worker["command"].index("-Q") + 1].split(",")
    mounts = dict(volume.split(":", 1)[::-1] for volume in worker["volumes"])
    assert mounts["/data/backups"] == "backups"
    assert worker["environment"]["MEDIA_STORAGE"] == "s3"  # media come from the object store
    assert "backups" in compose["volumes"]
    assert settings.CELERY_BEAT_SCHEDULE["daily-backup"]["task"] == "backups.tasks.daily_backup"
