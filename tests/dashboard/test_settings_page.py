"""Bridge settings (staff): listeners, polling and the TLS certificate."""

import datetime

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID
from django.core.files.uploadedfile import SimpleUploadedFile
from django.urls import reverse

from accounts import settings_store
from accounts.models import BridgeSetting

GOOD_SETTINGS = {
    "imap_host": "0.0.0.0",  # noqa: S104
    "imap_port": "2143",
    "imaps_port": "0",
    "smtp_host": "127.0.0.1",
    "smtp_port": "2025",
    "smtps_port": "2465",
    "event_interval": "30",
}


def make_pair(common_name="bridge.example.test", days=30):
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, common_name)])
    now = datetime.datetime.now(datetime.UTC)
    certificate = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(days=1))
        .not_valid_after(now + datetime.timedelta(days=days))
        .sign(key, hashes.SHA256())
    )
    key_pem = key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )
    return certificate.public_bytes(serialization.Encoding.PEM), key_pem


def upload(client, certificate: bytes, key: bytes):
    return client.post(
        reverse("certificate_upload"),
        {
            "certificate": SimpleUploadedFile("cert.pem", certificate),
            "private_key": SimpleUploadedFile("key.pem", key),
        },
    )


def test_staff_sees_the_current_values_and_when_they_apply(staff_client):
    body = staff_client.get(reverse("bridge_settings")).content.decode()

    assert 'value="1143"' in body
    assert "next time the bridge starts" in body


def test_saved_values_win_over_the_environment(staff_client):
    response = staff_client.post(reverse("bridge_settings"), GOOD_SETTINGS)

    effective = settings_store.effective()
    assert response.status_code == 302
    assert effective.imap_host == "0.0.0.0"  # noqa: S104
    assert (effective.imap_port, effective.smtps_port) == (2143, 2465)
    assert effective.event_interval == 30


def test_a_value_equal_to_the_environments_is_not_stored(staff_client):
    staff_client.post(reverse("bridge_settings"), GOOD_SETTINGS)
    back_to_default = {**GOOD_SETTINGS, "imap_port": "1143"}

    staff_client.post(reverse("bridge_settings"), back_to_default)

    assert not BridgeSetting.objects.filter(key="imap_port").exists()
    assert BridgeSetting.objects.filter(key="smtp_port").exists()


@pytest.mark.parametrize(
    ("field", "value", "words"),
    [
        ("imap_port", "70000", "less than or equal to 65535"),
        ("smtp_port", "0", "greater than or equal to 1"),
        ("smtps_port", "2143", "port of its own"),
        ("imap_host", "not a host!", "IP address"),
        ("event_interval", "1", "greater than or equal to 5"),
    ],
    ids=["port-too-high", "plain-port-off", "same-port-twice", "bad-host", "poll"],
)
def test_bad_values_are_refused_in_plain_words(staff_client, field, value, words):
    response = staff_client.post(
        reverse("bridge_settings"), {**GOOD_SETTINGS, field: value}
    )

    assert response.status_code == 200
    assert words in response.content.decode()
    assert not BridgeSetting.objects.exists()


@pytest.mark.parametrize("person", ["owner_client", "family_client"])
def test_members_may_not_change_settings(request, person):
    client = request.getfixturevalue(person)
    certificate, key = make_pair()

    assert client.get(reverse("bridge_settings")).status_code == 403
    assert client.post(reverse("bridge_settings"), GOOD_SETTINGS).status_code == 403
    assert upload(client, certificate, key).status_code == 403
    assert not BridgeSetting.objects.exists()
    assert not settings_store.has_uploaded_certificate()


def test_matching_certificate_and_key_are_installed(staff_client):
    certificate, key = make_pair()

    response = upload(staff_client, certificate, key)

    cert_path, key_path = settings_store.custom_certificate_paths()
    assert response.status_code == 302
    assert cert_path.read_bytes() == certificate
    assert key_path.stat().st_mode & 0o077 == 0
    assert settings_store.certificate_info().source == "uploaded"
    download = staff_client.get(reverse("certificate_download"))
    assert download.content == certificate
    settings_page = staff_client.get(reverse("bridge_settings")).content.decode()
    assert "CN=bridge.example.test" in settings_page


def test_key_of_another_certificate_is_refused(staff_client):
    certificate, _key = make_pair()
    _other_certificate, other_key = make_pair()

    response = upload(staff_client, certificate, other_key)

    assert response.status_code == 400
    assert "does not belong to the certificate" in response.content.decode()
    assert not settings_store.has_uploaded_certificate()


def test_expired_certificate_is_refused(staff_client):
    certificate, key = make_pair(days=-1)

    response = upload(staff_client, certificate, key)

    assert response.status_code == 400
    assert "expired" in response.content.decode()


def test_files_that_are_not_pem_are_refused(staff_client):
    response = upload(staff_client, b"hello", b"world")

    body = response.content.decode()
    assert response.status_code == 400
    assert "not a PEM certificate" in body
    assert "not a PEM private key" in body


def test_key_inside_the_certificate_file_is_refused(staff_client):
    certificate, key = make_pair()

    response = upload(staff_client, certificate + key, key)

    assert response.status_code == 400
    assert "contains a private key" in response.content.decode()


def test_uploaded_certificate_can_be_removed(staff_client):
    certificate, key = make_pair()
    upload(staff_client, certificate, key)

    response = staff_client.post(reverse("certificate_remove"))

    assert response.status_code == 302
    assert not settings_store.has_uploaded_certificate()
    assert settings_store.certificate_info().source == "self-signed"
