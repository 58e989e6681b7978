"""The provider's JSON objects as dataclasses.

Field names follow Python style; ``from_api`` reads the provider's JSON
(0/1 booleans become ``bool``) and keeps unknown keys out. Objects the bridge
sends back (drafts, import metadata) have ``to_api``.
"""

import logging
from dataclasses import dataclass, field
from typing import Any

logger = logging.getLogger(__name__)

# System label IDs (the provider's fixed mailboxes).
INBOX = "0"
ALL_DRAFTS = "1"
ALL_SENT = "2"
TRASH = "3"
SPAM = "4"
ALL_MAIL = "5"
ARCHIVE = "6"
SENT = "7"
DRAFTS = "8"
OUTBOX = "9"
STARRED = "10"
ALL_SCHEDULED = "12"

# Label types.
LABEL_TYPE_LABEL = 1
LABEL_TYPE_CONTACT_GROUP = 2
LABEL_TYPE_FOLDER = 3
LABEL_TYPE_SYSTEM = 4

# Message flags (bitmask).
FLAG_RECEIVED = 1
FLAG_SENT = 2
FLAG_INTERNAL = 4
FLAG_E2E = 8
FLAG_AUTO = 16
FLAG_REPLIED = 32
FLAG_REPLIED_ALL = 64
FLAG_FORWARDED = 128
FLAG_IMPORTED = 512
FLAG_SCHEDULED_SEND = 1 << 20

# Event actions.
EVENT_DELETE = 0
EVENT_CREATE = 1
EVENT_UPDATE = 2
EVENT_UPDATE_FLAGS = 3

# Event refresh flags.
REFRESH_MAIL = 1
REFRESH_ALL = 255

# Send package schemes and signature types.
SCHEME_INTERNAL = 1
SCHEME_ENCRYPTED_OUTSIDE = 2
SCHEME_CLEAR = 4
SCHEME_PGP_INLINE = 8
SCHEME_PGP_MIME = 16
SCHEME_CLEAR_MIME = 32
SIGNATURE_NONE = 0
SIGNATURE_DETACHED = 1
SIGNATURE_ATTACHED = 2

# Draft actions.
DRAFT_REPLY = 0
DRAFT_REPLY_ALL = 1
DRAFT_FORWARD = 2

# Recipient types from the public keys route.
RECIPIENT_INTERNAL = 1
RECIPIENT_EXTERNAL = 2

# Password modes.
PASSWORD_MODE_ONE = 1
PASSWORD_MODE_TWO = 2


def _bool(value: Any) -> bool:
    return bool(value) and value != "0"


def _str(value: Any) -> str:
    return "" if value is None else str(value)


@dataclass(frozen=True)
class EmailAddress:
    """A name and an address, as in Sender and the recipient lists."""

    address: str
    name: str = ""

    @classmethod
    def from_api(cls, data: dict | None) -> "EmailAddress":
        data = data or {}
        return cls(address=_str(data.get("Address")), name=_str(data.get("Name")))

    def to_api(self) -> dict[str, str]:
        return {"Address": self.address, "Name": self.name}


def _addresses(items: list | None) -> list[EmailAddress]:
    return [EmailAddress.from_api(item) for item in items or []]


@dataclass(frozen=True)
class AuthInfo:
    """The answer to ``/auth/v4/info``: what the SRP exchange needs."""

    version: int
    modulus: str
    server_ephemeral: str
    salt: str
    srp_session: str

    @classmethod
    def from_api(cls, data: dict) -> "AuthInfo":
        return cls(
            version=int(data.get("Version", 4)),
            modulus=_str(data.get("Modulus")),
            server_ephemeral=_str(data.get("ServerEphemeral")),
            salt=_str(data.get("Salt")),
            srp_session=_str(data.get("SRPSession")),
        )


@dataclass
class Session:
    """A provider session: what to persist to stay logged in."""

    uid: str
    access_token: str
    refresh_token: str
    user_id: str = ""
    scope: str = ""

    def __repr__(self) -> str:
        # Never print tokens.
        return f"Session(uid={self.uid!r}, user_id={self.user_id!r})"

    def to_dict(self) -> dict[str, str]:
        return {
            "uid": self.uid,
            "access_token": self.access_token,
            "refresh_token": self.refresh_token,
            "user_id": self.user_id,
            "scope": self.scope,
        }

    @classmethod
    def from_dict(cls, data: dict) -> "Session":
        return cls(
            uid=data["uid"],
            access_token=data["access_token"],
            refresh_token=data["refresh_token"],
            user_id=data.get("user_id", ""),
            scope=data.get("scope", ""),
        )


@dataclass(frozen=True)
class LoginResult:
    """What a successful SRP login gives: the session and what comes next."""

    session: Session
    two_factor_required: bool
    fido2_available: bool
    password_mode: int

    @property
    def needs_mailbox_password(self) -> bool:
        return self.password_mode == PASSWORD_MODE_TWO


@dataclass(frozen=True)
class Key:
    """A private key as the provider stores it (locked)."""

    id: str
    private_key: str
    token: str = ""
    signature: str = ""
    primary: bool = False
    active: bool = True
    flags: int = 0

    def __repr__(self) -> str:
        return f"Key(id={self.id!r}, primary={self.primary}, active={self.active})"

    @classmethod
    def from_api(cls, data: dict) -> "Key":
        return cls(
            id=_str(data.get("ID")),
            private_key=_str(data.get("PrivateKey")),
            token=_str(data.get("Token")),
            signature=_str(data.get("Signature")),
            primary=_bool(data.get("Primary")),
            active=_bool(data.get("Active", 1)),
            flags=int(data.get("Flags") or 0),
        )


def _keys(items: list | None) -> list[Key]:
    return [Key.from_api(item) for item in items or []]


@dataclass(frozen=True)
class User:
    id: str
    name: str
    display_name: str
    email: str
    keys: list[Key]
    used_space: int = 0
    max_space: int = 0
    max_upload: int = 0

    @classmethod
    def from_api(cls, data: dict) -> "User":
        return cls(
            id=_str(data.get("ID")),
            name=_str(data.get("Name")),
            display_name=_str(data.get("DisplayName")),
            email=_str(data.get("Email")),
            keys=_keys(data.get("Keys")),
            used_space=int(data.get("UsedSpace") or 0),
            max_space=int(data.get("MaxSpace") or 0),
            max_upload=int(data.get("MaxUpload") or 0),
        )


ADDRESS_DISABLED = 0
ADDRESS_ENABLED = 1
ADDRESS_DELETING = 2


@dataclass(frozen=True)
class Address:
    id: str
    email: str
    send: bool
    receive: bool
    status: int
    type: int
    order: int
    display_name: str
    keys: list[Key]

    @property
    def enabled(self) -> bool:
        return self.status == ADDRESS_ENABLED

    @classmethod
    def from_api(cls, data: dict) -> "Address":
        return cls(
            id=_str(data.get("ID")),
            email=_str(data.get("Email")),
            send=_bool(data.get("Send")),
            receive=_bool(data.get("Receive")),
            status=int(data.get("Status") or 0),
            type=int(data.get("Type") or 0),
            order=int(data.get("Order") or 0),
            display_name=_str(data.get("DisplayName")),
            keys=_keys(data.get("Keys")),
        )


@dataclass(frozen=True)
class Salt:
    id: str
    key_salt: str

    @classmethod
    def from_api(cls, data: dict) -> "Salt":
        return cls(id=_str(data.get("ID")), key_salt=_str(data.get("KeySalt")))


@dataclass(frozen=True)
class PublicKeyInfo:
    flags: int
    public_key: str

    @classmethod
    def from_api(cls, data: dict) -> "PublicKeyInfo":
        return cls(
            flags=int(data.get("Flags") or 0), public_key=_str(data.get("PublicKey"))
        )


@dataclass(frozen=True)
class PublicKeys:
    """A recipient's keys and whether the provider hosts them."""

    keys: list[PublicKeyInfo]
    recipient_type: int

    @property
    def internal(self) -> bool:
        return self.recipient_type == RECIPIENT_INTERNAL

    @classmethod
    def from_api(cls, data: dict) -> "PublicKeys":
        return cls(
            keys=[PublicKeyInfo.from_api(k) for k in data.get("Keys") or []],
            recipient_type=int(data.get("RecipientType") or RECIPIENT_EXTERNAL),
        )


@dataclass(frozen=True)
class MailSettings:
    display_name: str = ""
    signature: str = ""
    draft_mime_type: str = "text/html"
    attach_public_key: bool = False
    sign: int = 0
    pgp_scheme: int = SCHEME_PGP_MIME

    @classmethod
    def from_api(cls, data: dict) -> "MailSettings":
        return cls(
            display_name=_str(data.get("DisplayName")),
            signature=_str(data.get("Signature")),
            draft_mime_type=_str(data.get("DraftMIMEType")) or "text/html",
            attach_public_key=_bool(data.get("AttachPublicKey")),
            sign=int(data.get("Sign") or 0),
            pgp_scheme=int(data.get("PGPScheme") or SCHEME_PGP_MIME),
        )


@dataclass(frozen=True)
class Label:
    id: str
    name: str
    path: str
    type: int
    color: str = ""
    parent_id: str = ""

    @classmethod
    def from_api(cls, data: dict) -> "Label":
        path = data.get("Path")
        if isinstance(path, list):
            path = "/".join(path)
        return cls(
            id=_str(data.get("ID")),
            name=_str(data.get("Name")),
            path=_str(path) or _str(data.get("Name")),
            type=int(data.get("Type") or 0),
            color=_str(data.get("Color")),
            parent_id=_str(data.get("ParentID")),
        )


@dataclass(frozen=True)
class MessageMetadata:
    id: str
    address_id: str
    label_ids: list[str]
    external_id: str
    subject: str
    sender: EmailAddress
    to_list: list[EmailAddress]
    cc_list: list[EmailAddress]
    bcc_list: list[EmailAddress]
    reply_tos: list[EmailAddress]
    flags: int
    time: int
    size: int
    unread: bool
    is_replied: bool
    is_replied_all: bool
    is_forwarded: bool
    num_attachments: int

    @property
    def is_draft(self) -> bool:
        return not self.flags & (FLAG_RECEIVED | FLAG_SENT)

    @property
    def starred(self) -> bool:
        return STARRED in self.label_ids

    @classmethod
    def from_api(cls, data: dict) -> "MessageMetadata":
        return cls(**_metadata_fields(data))


def _metadata_fields(data: dict) -> dict[str, Any]:
    return {
        "id": _str(data.get("ID")),
        "address_id": _str(data.get("AddressID")),
        "label_ids": [str(label) for label in data.get("LabelIDs") or []],
        "external_id": _str(data.get("ExternalID")),
        "subject": _str(data.get("Subject")),
        "sender": EmailAddress.from_api(data.get("Sender")),
        "to_list": _addresses(data.get("ToList")),
        "cc_list": _addresses(data.get("CCList")),
        "bcc_list": _addresses(data.get("BCCList")),
        "reply_tos": _addresses(data.get("ReplyTos")),
        "flags": int(data.get("Flags") or 0),
        "time": int(data.get("Time") or 0),
        "size": int(data.get("Size") or 0),
        "unread": _bool(data.get("Unread")),
        "is_replied": _bool(data.get("IsReplied")),
        "is_replied_all": _bool(data.get("IsRepliedAll")),
        "is_forwarded": _bool(data.get("IsForwarded")),
        "num_attachments": int(data.get("NumAttachments") or 0),
    }


@dataclass(frozen=True)
class Attachment:
    id: str
    name: str
    size: int
    mime_type: str
    disposition: str
    headers: dict[str, Any]
    key_packets: str
    signature: str = ""

    @property
    def content_id(self) -> str:
        for name, value in self.headers.items():
            if name.lower() == "content-id":
                return value[0] if isinstance(value, list) else _str(value)
        return ""

    @classmethod
    def from_api(cls, data: dict) -> "Attachment":
        return cls(
            id=_str(data.get("ID")),
            name=_str(data.get("Name")),
            size=int(data.get("Size") or 0),
            mime_type=_str(data.get("MIMEType")) or "application/octet-stream",
            disposition=_str(data.get("Disposition")) or "attachment",
            headers=dict(data.get("Headers") or {}),
            key_packets=_str(data.get("KeyPackets")),
            signature=_str(data.get("Signature")),
        )


@dataclass(frozen=True)
class Message(MessageMetadata):
    """A full message: metadata plus header, encrypted body, attachments."""

    header: str = ""
    body: str = ""
    mime_type: str = "text/plain"
    attachments: list[Attachment] = field(default_factory=list)

    @classmethod
    def from_api(cls, data: dict) -> "Message":
        return cls(
            **_metadata_fields(data),
            header=_str(data.get("Header")),
            body=_str(data.get("Body")),
            mime_type=_str(data.get("MIMEType")) or "text/plain",
            attachments=[Attachment.from_api(a) for a in data.get("Attachments") or []],
        )


@dataclass(frozen=True)
class MessageCount:
    label_id: str
    total: int
    unread: int

    @classmethod
    def from_api(cls, data: dict) -> "MessageCount":
        return cls(
            label_id=_str(data.get("LabelID")),
            total=int(data.get("Total") or 0),
            unread=int(data.get("Unread") or 0),
        )


@dataclass(frozen=True)
class ActionResult:
    """One message's outcome in a multi-message call (label, unlabel)."""

    id: str
    code: int
    error: str = ""

    @property
    def ok(self) -> bool:
        return self.code == 1000

    @classmethod
    def from_api(cls, data: dict) -> "ActionResult":
        response = data.get("Response") or {}
        return cls(
            id=_str(data.get("ID")),
            code=int(response.get("Code") or 0),
            error=_str(response.get("Error")),
        )


@dataclass(frozen=True)
class ImportRequest:
    """One message to import: its raw bytes and where it goes."""

    message: bytes
    address_id: str
    label_ids: list[str]
    unread: bool = False
    flags: int = FLAG_RECEIVED

    def metadata(self) -> dict[str, Any]:
        return {
            "AddressID": self.address_id,
            "LabelIDs": list(self.label_ids),
            "Unread": int(self.unread),
            "Flags": self.flags,
        }


@dataclass(frozen=True)
class ImportResult:
    """One message's import outcome; ``message_id`` is set on success."""

    code: int
    message_id: str = ""
    error: str = ""

    @property
    def ok(self) -> bool:
        return self.code == 1000 and bool(self.message_id)


@dataclass
class DraftTemplate:
    """The fields of a draft to create or update."""

    subject: str
    sender: EmailAddress
    to_list: list[EmailAddress] = field(default_factory=list)
    cc_list: list[EmailAddress] = field(default_factory=list)
    bcc_list: list[EmailAddress] = field(default_factory=list)
    body: str = ""  # armored, encrypted to the sending address key
    mime_type: str = "text/plain"
    unread: bool = False
    external_id: str = ""

    def to_api(self) -> dict[str, Any]:
        message: dict[str, Any] = {
            "Subject": self.subject,
            "Sender": self.sender.to_api(),
            "ToList": [a.to_api() for a in self.to_list],
            "CCList": [a.to_api() for a in self.cc_list],
            "BCCList": [a.to_api() for a in self.bcc_list],
            "Body": self.body,
            "MIMEType": self.mime_type,
            "Unread": int(self.unread),
        }
        if self.external_id:
            message["ExternalID"] = self.external_id
        return message


def _event_item(data: dict, key: str, parse) -> dict[str, Any]:
    inner = data.get(key)
    return {
        "id": _str(data.get("ID")),
        "action": int(data.get("Action") or 0),
        key.lower(): parse(inner) if inner else None,
    }


@dataclass(frozen=True)
class MessageEvent:
    id: str
    action: int
    message: MessageMetadata | None

    @classmethod
    def from_api(cls, data: dict) -> "MessageEvent":
        return cls(**_event_item(data, "Message", MessageMetadata.from_api))


@dataclass(frozen=True)
class LabelEvent:
    id: str
    action: int
    label: Label | None

    @classmethod
    def from_api(cls, data: dict) -> "LabelEvent":
        return cls(**_event_item(data, "Label", Label.from_api))


@dataclass(frozen=True)
class AddressEvent:
    id: str
    action: int
    address: Address | None

    @classmethod
    def from_api(cls, data: dict) -> "AddressEvent":
        return cls(**_event_item(data, "Address", Address.from_api))


@dataclass(frozen=True)
class Event:
    """One event of the feed; ``more`` says another one follows at once."""

    event_id: str
    refresh: int
    more: bool
    messages: list[MessageEvent]
    labels: list[LabelEvent]
    addresses: list[AddressEvent]
    user: User | None
    mail_settings: MailSettings | None
    used_space: int | None
    raw: dict[str, Any] = field(repr=False, default_factory=dict)

    @property
    def needs_mail_refresh(self) -> bool:
        return bool(self.refresh & REFRESH_MAIL)

    @classmethod
    def from_api(cls, data: dict) -> "Event":
        user = data.get("User")
        settings = data.get("MailSettings")
        used_space = data.get("UsedSpace")
        return cls(
            event_id=_str(data.get("EventID")),
            refresh=int(data.get("Refresh") or 0),
            more=_bool(data.get("More")),
            messages=[MessageEvent.from_api(m) for m in data.get("Messages") or []],
            labels=[LabelEvent.from_api(lb) for lb in data.get("Labels") or []],
            addresses=[AddressEvent.from_api(a) for a in data.get("Addresses") or []],
            user=User.from_api(user) if user else None,
            mail_settings=MailSettings.from_api(settings) if settings else None,
            used_space=int(used_space) if used_space is not None else None,
            raw=data,
        )
