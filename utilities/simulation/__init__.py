"""What every simulator (Runware, Gemini, PMR) shares.

A background aiohttp server and the /_sim control endpoints; no Django imports, because
simulators run as plain processes. It sits in ``utilities`` (whose ``__init__`` imports
nothing) rather than in ``rkh_site``, which is the top layer that wires Django and Celery:
the simulators live inside their apps and must not import upward. The import-linter
contracts (``pyproject.toml``) and ``tests/utilities/test_django_free.py`` keep it so.
"""
