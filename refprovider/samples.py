"""Realistic sample mail, generated: the demo account's mailbox and benchmark data.

Deterministic for a given seed, so a demo or a benchmark run can be repeated.
The mix resembles a real personal mailbox: threads with In-Reply-To and
References, HTML with a text alternative, attachments (PDF, PNG, CSV),
non-ASCII names, subjects and bodies, mail spread over folders and labels.
"""

import random
import struct
import zlib
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from email.headerregistry import Address
from email.message import EmailMessage
from email.utils import format_datetime

PEOPLE = [
    ("Alice Martin", "alice.martin@example.org"),
    ("Bruno Keller", "bruno@keller.example"),
    ("Chloé Dubois", "chloe.dubois@example.fr"),
    ("Dmitri Ivanov", "dmitri@example.net"),
    ("Eva Müller", "eva.mueller@example.de"),
    ("Fatima Zahra", "fatima@example.com"),
    ("Gustav Lindqvist", "gustav@lindqvist.example"),
    ("山田 花子", "hanako.yamada@example.jp"),
    ("Ivana Horvat", "ivana@example.hr"),
    ("José Álvarez", "jose.alvarez@example.es"),
    ("Kwame Mensah", "kwame@example.gh"),
    ("Lena Sørensen", "lena@example.dk"),
]

TOPICS = [
    "Quarterly report",
    "Dinner on Saturday?",
    "Your invoice #{n}",
    "Photos from the trip",
    "Meeting notes",
    "Re: budget for {year}",
    "Schulanmeldung für nächstes Jahr",
    "Café et croissants demain ?",
    "会議の議事録",
    "Flight confirmation {n}",
    "Holiday plans 🌴",
    "Draft contract — please review",
    "Weekly newsletter",
    "Garage door repair quote",
    "Birthday party for Zoë",
]

SENTENCES = [
    "Thanks for getting back to me so quickly.",
    "I have attached the documents we talked about.",
    "Could you have a look before Friday?",
    "Let me know what works best for you.",
    "Die Unterlagen liegen im Anhang.",
    "Merci beaucoup pour ton aide, c'était parfait.",
    "よろしくお願いします。",
    "The numbers for the last quarter look better than expected.",
    "We could meet at the usual place around seven.",
    "Please find the summary below, with the open questions at the end.",
    "I am not sure the second option is cheaper in the long run.",
    "Here is the link to the shared folder, as promised.",
]

# Where messages go, with weights: (location, folder path or None).
PLACES = [
    (("inbox", None), 40),
    (("archive", None), 15),
    (("sent", None), 12),
    (("folder", "Work"), 10),
    (("folder", "Work/Projects"), 6),
    (("folder", "Family"), 6),
    (("folder", "Receipts"), 4),
    (("spam", None), 3),
    (("trash", None), 3),
    (("drafts", None), 1),
]

LABELS = ["Important", "Follow-up", "Travel"]

OWNER = ("Demo User", "demo@proton.test")


@dataclass
class SampleMessage:
    raw: bytes
    location: str
    folder: str | None
    labels: list[str] = field(default_factory=list)
    starred: bool = False
    unread: bool = False
    date: datetime = field(default_factory=lambda: datetime.now(UTC))


def generate_mailbox(
    count: int,
    *,
    seed: int = 1,
    attachment_ratio: float = 0.1,
    owner: tuple[str, str] = OWNER,
    now: datetime | None = None,
) -> Iterator[SampleMessage]:
    """Yield ``count`` messages, oldest first."""
    rng = random.Random(seed)
    now = now or datetime(2026, 11, 30, 12, 0, tzinfo=UTC)
    places = [place for place, _ in PLACES]
    weights = [weight for _, weight in PLACES]
    threads: list[tuple[str, str, list[str]]] = []

    for index in range(count):
        date = now - timedelta(minutes=(count - index) * rng.randint(20, 90))
        (location, folder) = rng.choices(places, weights)[0]
        outgoing = location in {"sent", "drafts"}
        correspondent = rng.choice(PEOPLE)
        sender, recipient = (
            (owner, correspondent) if outgoing else (correspondent, owner)
        )

        message = EmailMessage()
        message["From"] = _address(sender)
        message["To"] = _address(recipient)
        if rng.random() < 0.2:
            message["Cc"] = _address(rng.choice(PEOPLE))
        message["Date"] = format_datetime(date)
        domain = sender[1].split("@")[1]
        message["Message-ID"] = f"<{rng.getrandbits(64):016x}.{index}@{domain}>"

        if threads and rng.random() < 0.3:
            subject, parent_id, references = rng.choice(threads)
            message["Subject"] = (
                subject if subject.startswith("Re:") else f"Re: {subject}"
            )
            message["In-Reply-To"] = parent_id
            message["References"] = " ".join([*references, parent_id][-10:])
        else:
            topic = rng.choice(TOPICS)
            message["Subject"] = topic.format(
                n=rng.randint(1000, 99999), year=date.year
            )
            references = []
        threads.append(
            (str(message["Subject"]), str(message["Message-ID"]), references)
        )
        threads[:] = threads[-50:]

        text = _body_text(rng, sender[0])
        if rng.random() < 0.4:
            message.set_content(text)
            message.add_alternative(_html(text), subtype="html")
        else:
            message.set_content(text)

        if rng.random() < attachment_ratio:
            _attach(rng, message, index)

        # Fixed boundaries keep the output identical for the same seed.
        for part in message.walk():
            if part.is_multipart():
                part.set_boundary(f"=_part_{rng.getrandbits(64):016x}")

        labels = [label for label in LABELS if rng.random() < 0.08]
        yield SampleMessage(
            raw=message.as_bytes(policy=message.policy.clone(linesep="\r\n")),
            location=location,
            folder=folder,
            labels=labels,
            starred=rng.random() < 0.07,
            unread=not outgoing and rng.random() < 0.25,
            date=date,
        )


def _address(person: tuple[str, str]) -> Address:
    name, email = person
    local, domain = email.split("@")
    return Address(display_name=name, username=local, domain=domain)


def _body_text(rng: random.Random, signature: str) -> str:
    paragraphs = []
    for _ in range(rng.randint(1, 6)):
        paragraphs.append(
            " ".join(rng.choice(SENTENCES) for _ in range(rng.randint(2, 7)))
        )
    return "Hello,\n\n" + "\n\n".join(paragraphs) + f"\n\nBest,\n{signature}\n"


def _html(text: str) -> str:
    from html import escape

    paragraphs = "".join(f"<p>{escape(part)}</p>" for part in text.split("\n\n"))
    return f"<!doctype html><html><body>{paragraphs}</body></html>"


def _attach(rng: random.Random, message: EmailMessage, index: int) -> None:
    kind = rng.choice(["pdf", "png", "csv"])
    if kind == "pdf":
        size = rng.randint(20_000, 400_000)
        payload = b"%PDF-1.4\n" + rng.randbytes(size) + b"\n%%EOF\n"
        message.add_attachment(
            payload,
            maintype="application",
            subtype="pdf",
            filename=f"document-{index}.pdf",
        )
    elif kind == "png":
        payload = _png(rng.randint(8, 64), rng.randint(8, 64), rng)
        message.add_attachment(
            payload, maintype="image", subtype="png", filename=f"photo-{index}.png"
        )
    else:
        rows = ["date,amount,description"] + [
            f"2026-{rng.randint(1, 12):02d}-{rng.randint(1, 28):02d},"
            f"{rng.randint(1, 9999)}.{rng.randint(0, 99):02d},item {n}"
            for n in range(rng.randint(5, 200))
        ]
        message.add_attachment(
            "\n".join(rows), subtype="csv", filename=f"übersicht-{index}.csv"
        )


def _png(width: int, height: int, rng: random.Random) -> bytes:
    """A small valid PNG with random pixels."""

    def chunk(kind: bytes, data: bytes) -> bytes:
        body = kind + data
        return struct.pack(">I", len(data)) + body + struct.pack(">I", zlib.crc32(body))

    rows = b"".join(b"\x00" + rng.randbytes(width * 3) for _ in range(height))
    header = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return (
        b"\x89PNG\r\n\x1a\n"
        + chunk(b"IHDR", header)
        + chunk(b"IDAT", zlib.compress(rows))
        + chunk(b"IEND", b"")
    )
