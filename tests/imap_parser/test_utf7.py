import pytest

from protocols.imap import (
    ModifiedUTF7Error,
    decode_modified_utf7,
    encode_modified_utf7,
)

ROUND_TRIPS = [
    pytest.param("INBOX", "INBOX", id="ascii"),
    pytest.param("Entwürfe", "Entw&APw-rfe", id="german-umlaut"),
    pytest.param("&", "&-", id="ampersand"),
    pytest.param("Tom & Jerry", "Tom &- Jerry", id="ampersand-in-text"),
    pytest.param("日本語", "&ZeVnLIqe-", id="cjk"),
    pytest.param("台北", "&U,BTFw-", id="comma-in-base64"),
    pytest.param(
        "~peter/mail/台北/日本語", "~peter/mail/&U,BTFw-/&ZeVnLIqe-", id="rfc"
    ),
    pytest.param("Gelöschte Elemente", "Gel&APY-schte Elemente", id="outlook-trash"),
    pytest.param("Корзина", "&BBoEPgRABDcEOAQ9BDA-", id="cyrillic"),
    pytest.param("📁 Archive", "&2D3cwQ- Archive", id="astral-plane"),
    pytest.param("", "", id="empty"),
    pytest.param("a\tb", "a&AAk-b", id="control-character"),
]


@pytest.mark.parametrize(("name", "encoded"), ROUND_TRIPS)
def test_encode(name: str, encoded: str) -> None:
    assert encode_modified_utf7(name) == encoded


@pytest.mark.parametrize(("name", "encoded"), ROUND_TRIPS)
def test_decode(name: str, encoded: str) -> None:
    assert decode_modified_utf7(encoded) == name


def test_decode_accepts_bytes() -> None:
    assert decode_modified_utf7(b"Entw&APw-rfe") == "Entwürfe"


@pytest.mark.parametrize(
    "encoded",
    [
        pytest.param("Entw&APw", id="unterminated"),
        pytest.param("&AGE-", id="encoded-printable-ascii"),
        pytest.param("&APw/-", id="slash-instead-of-comma"),
        pytest.param("&A-", id="truncated-base64"),
        pytest.param("&APx-", id="non-zero-padding-bits"),
        pytest.param("&2D0-", id="lone-surrogate"),
        pytest.param("&AP-", id="odd-byte-count"),
        pytest.param("Entw\u00fcrfe", id="raw-8-bit"),
        pytest.param("a\tb", id="raw-control"),
    ],
)
def test_decode_rejects_invalid(encoded: str) -> None:
    with pytest.raises(ModifiedUTF7Error):
        decode_modified_utf7(encoded)


def test_decode_rejects_8bit_bytes() -> None:
    with pytest.raises(ModifiedUTF7Error, match="8-bit"):
        decode_modified_utf7("Entwürfe".encode())


def test_encode_rejects_lone_surrogate() -> None:
    with pytest.raises(ModifiedUTF7Error):
        encode_modified_utf7("bad\ud800")
