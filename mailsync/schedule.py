"""The Celery beat schedule of growth mode (imported by the settings).

Plain data only: the settings import this before Django is set up. Beat
fans out one event poll per ready account every interval, and resumes
first syncs a dead worker left behind.
"""

import os

EVENT_INTERVAL = int(os.environ.get("BRIDGE_EVENT_INTERVAL") or 20)

BEAT_SCHEDULE = {
    "poll-events-of-every-account": {
        "task": "mailsync.poll_all_accounts",
        "schedule": float(EVENT_INTERVAL),
    },
    "resume-unfinished-syncs": {
        "task": "mailsync.resume_syncs",
        "schedule": 300.0,
    },
}
