"""WSGI entry point, for management tooling and WSGI-only hosts (no WebSockets)."""

import os

from django.core.wsgi import get_wsgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "rkh_site.settings")

application = get_wsgi_application()
