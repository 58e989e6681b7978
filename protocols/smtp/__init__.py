"""SMTP submission: mail programs send through the bridge.

``server`` runs the listener (aiosmtpd), ``handler`` decides on each command;
the sending itself is :mod:`mailsync.send`.
"""
