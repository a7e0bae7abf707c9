"""A worker builds at start what its first task would otherwise build in an order's time
(issue 14): the pipeline's stages and the PMR client. A ``PIPELINE_STAGES`` that does not
import stops the worker there, instead of failing every order it takes."""

from __future__ import annotations

import os

import pytest

from orders import pipeline
from pmr import connection
from rkh_site.celery import _warm_up

from .test_production_secrets import ROOT, _real_secrets, _run


def test_the_warm_up_builds_the_stages_and_the_pmr_client():
    pipeline.stages.cache_clear()
    connection._client_for.cache_clear()

    _warm_up()

    assert pipeline.stages.cache_info().currsize == 1
    assert connection._client_for.cache_info().currsize == 1
    built = connection.client()
    assert connection._client_for.cache_info().hits >= 1  # the task's call finds it built
    assert connection.client() is built


def test_stages_that_do_not_import_stop_the_warm_up(settings):
    settings.PIPELINE_STAGES = {**settings.PIPELINE_STAGES, "ai": "ai_processing.nowhere.Stage"}
    with pytest.raises(SystemExit, match="Refusing to start: PIPELINE_STAGES"):
        _warm_up()


def test_a_worker_whose_stages_do_not_import_refuses_to_start(tmp_path):
    (tmp_path / "stages_nowhere.py").write_text(
        "from rkh_site.settings import *  # noqa: F403\n"
        "PIPELINE_STAGES = {**PIPELINE_STAGES, 'ai': 'ai_processing.nowhere.Stage'}\n"
    )
    result = _run(
        tmp_path,
        ["-m", "celery", "-A", "rkh_site", "worker", "--pool", "solo", "--loglevel", "WARNING"],
        **_real_secrets(),
        DJANGO_SETTINGS_MODULE="stages_nowhere",
        PYTHONPATH=os.pathsep.join([str(tmp_path), str(ROOT)]),
        # Never reached: the refusal comes before the broker is asked for.
        REDIS_URL="redis://127.0.0.1:1/0",
    )
    assert result.returncode != 0
    assert "Refusing to start: PIPELINE_STAGES" in result.stderr + result.stdout
