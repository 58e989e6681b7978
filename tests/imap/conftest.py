"""Fixtures for the IMAP tests: a listener, accounts and indexed mail.

The reference provider and Dovecot come from the root conftest's plugins.
"""

from tests.fixtures.imap import (  # noqa: F401
    imap_server,
    imap_session_options,
    imap_tls_files,
    mail_account,
)
from tests.fixtures.linked_account import link_account  # noqa: F401
