"""WSGI entry point (management only; the dashboard is served over ASGI)."""

import os

from django.core.wsgi import get_wsgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "bridgeadmin.settings")
application = get_wsgi_application()
