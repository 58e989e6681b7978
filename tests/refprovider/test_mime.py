"""The provider's byte-exact MIME splitting."""

from refprovider import mime


def test_parts_come_out_byte_for_byte():
    literal = (
        b"Subject: folded\r\n  subject line\r\n"
        b'Content-Type: multipart/mixed; boundary="b"\r\n\r\n'
        b"preamble\r\n"
        b"--b\r\nContent-Type: text/plain\r\n\r\nfirst\r\n\r\n"
        b"--b \r\nContent-Type: application/octet-stream\r\n\r\n\x00\xff\r\n"
        b"--b--\r\nepilogue\r\n"
    )
    root = mime.parse_entity(literal)

    assert root.get("subject") == "folded subject line"
    first, second = root.children()
    assert first.body == b"first\r\n"
    assert second.content_type == "application/octet-stream"
    assert second.body == b"\x00\xff"


def test_lone_newlines_and_missing_close_delimiter():
    literal = b"Content-Type: multipart/mixed; boundary=z\n\n--z\n\nno headers\n--z\n"
    [only, last] = mime.parse_entity(literal).children()
    assert only.header_bytes == b""
    assert only.body == b"no headers"
    assert last.body == b""


def test_base64_is_read_leniently():
    entity = mime.parse_entity(
        b"Content-Transfer-Encoding: base64\r\n\r\nAA*EC\r\nAw=\r\n=\r\n"
    )
    assert entity.decoded_body() == b"\x00\x01\x02\x03"


def test_envelope_decodes_words_and_keeps_an_empty_reply_to():
    entity = mime.parse_entity(
        b"From: =?utf-8?q?J=C3=B6rg?= <j@example.org>\r\n"
        b"To: a@example.org, B <b@example.org>\r\n"
        b"Subject: =?iso-8859-1?q?caf=E9?=\r\n"
        b"Message-ID: <id@example.org>\r\n"
        b"Date: not a date\r\n\r\n"
    )
    envelope = mime.envelope_of(entity)

    assert envelope.sender == {"Name": "Jörg", "Address": "j@example.org"}
    recipients = [a["Address"] for a in envelope.to_list]
    assert recipients == ["a@example.org", "b@example.org"]
    assert envelope.subject == "café"
    assert envelope.external_id == "id@example.org"
    assert envelope.time is None
    assert envelope.reply_tos == [{"Name": "", "Address": ""}]
