"""The listeners' TLS certificate: made once, shared by every process."""

import os
import stat
import subprocess
import sys

from cryptography import x509

from protocols import tls
from tests.support import REPO_ROOT

MAKE_CERTIFICATE = (
    "import django; django.setup();"
    "from protocols.tls import ensure_certificate;"
    "print(ensure_certificate()[0].read_text(), end='')"
)


def test_self_signed_certificate_is_made_once_with_a_private_key(settings, tmp_path):
    settings.DATA_DIR = tmp_path

    cert_path, key_path = tls.ensure_certificate()
    again = tls.ensure_certificate()

    assert again == (cert_path, key_path)
    assert stat.S_IMODE(os.stat(key_path).st_mode) == 0o600
    certificate = x509.load_pem_x509_certificate(cert_path.read_bytes())
    names = certificate.extensions.get_extension_for_class(x509.SubjectAlternativeName)
    assert "localhost" in names.value.get_values_for_type(x509.DNSName)
    assert tls.server_context() is not None


def test_processes_starting_together_agree_on_one_certificate(tmp_path):
    env = dict(
        os.environ,
        BRIDGE_DATA_DIR=str(tmp_path),
        DJANGO_SETTINGS_MODULE="bridgeadmin.settings",
    )
    starts = [
        subprocess.Popen(
            [sys.executable, "-c", MAKE_CERTIFICATE],
            cwd=REPO_ROOT,
            env=env,
            stdout=subprocess.PIPE,
            text=True,
        )
        for _ in range(4)
    ]

    printed = {process.communicate(timeout=60)[0] for process in starts}

    assert all(process.returncode == 0 for process in starts)
    assert printed == {(tmp_path / "tls" / "cert.pem").read_text()}
