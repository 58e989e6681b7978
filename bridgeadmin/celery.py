"""The Celery application: first syncs and event pulls run as its tasks.

In growth mode (REDIS_URL set) separate ``celery -A bridgeadmin worker`` and
``celery -A bridgeadmin beat`` processes run them. On the embedded default
``manage.py runbridge`` executes the very same task functions in-process.
"""

import os

from celery import Celery

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "bridgeadmin.settings")

app = Celery("bridgeadmin")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks()
