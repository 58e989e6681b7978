"""The reference provider: the provider's HTTP API, served for tests and demos.

A separate server with its own SQLite database; the bridge never imports it
and it imports nothing of the bridge. Logins are real SRP (auth version 4),
keys are real OpenPGP keys, and mail is stored encrypted the way the provider
keeps it, so a client that works here speaks the real protocol.

Run it with ``python -m refprovider serve --port 8025 --data DIR``; the API is
under ``/api`` and a loopback-only control API for tests under ``/internal``.
``adduser`` and ``seed`` fill a data directory, also while the server runs.
Module map: ``app`` (routes, checks, error shapes), ``api`` (request and
response conventions), ``context`` (the running provider), ``auth``/``srp``
(login), ``users``/``keys``/``profile`` (account), ``labels``, ``messages``
(model) and ``message_routes``, ``importer``/``mime``, ``drafts``/
``attachments``/``send``, ``events``/``feed`` (the event stream),
``faults``/``internal`` (test control), ``seed``, ``store`` (SQLite) and
``pgp`` (OpenPGP).
"""
