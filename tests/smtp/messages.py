"""Messages as mail programs submit them, built with the standard library."""

from email.message import EmailMessage
from email.utils import make_msgid

# The smallest valid PNG: one transparent pixel.
PIXEL_PNG = bytes.fromhex(
    "89504e470d0a1a0a0000000d4948445200000001000000010806000000"
    "1f15c4890000000d49444154789c6360000002000154a24f5d0000000049454e44ae426082"
)


def plain(sender: str, to: str, subject: str = "Hello", body: str = "Hi there.\n"):
    message = EmailMessage()
    message["From"] = sender
    message["To"] = to
    message["Subject"] = subject
    message["Message-ID"] = make_msgid(domain="client.test")
    message.set_content(body)
    return message


def html_and_text(sender: str, to: str, subject: str = "Rich"):
    message = plain(sender, to, subject, "Plain version.\n")
    message.add_alternative("<p>Rich <b>version</b>.</p>\n", subtype="html")
    return message


def with_attachment(sender: str, to: str, data: bytes, filename: str):
    message = plain(sender, to, "Report attached", "See the attachment.\n")
    message.add_attachment(
        data, maintype="application", subtype="pdf", filename=filename
    )
    return message


def with_inline_image(sender: str, to: str):
    message = plain(sender, to, "Picture", "There is a picture.\n")
    image_cid = make_msgid(domain="client.test")
    message.add_alternative(
        f'<p>Look: <img src="cid:{image_cid[1:-1]}"></p>\n', subtype="html"
    )
    html_part = message.get_payload()[1]
    html_part.add_related(PIXEL_PNG, "image", "png", cid=image_cid)
    return message, image_cid[1:-1]
