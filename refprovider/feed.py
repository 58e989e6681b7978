"""The event feed: latest event id, and what changed after a given event.

An event covers at most ``max_updates_per_event`` change rows; ``More: 1``
tells the client to ask again from the returned EventID. Changes to the same
item inside one event are merged (a create then a delete is just a delete)
and each item is described as it is now.
"""

import logging
import sqlite3
from typing import Any

from starlette.requests import Request
from starlette.responses import JSONResponse

from . import api, events, labels, messages, users
from .auth import authenticated, provider_of

logger = logging.getLogger(__name__)


def _merge(action_so_far: int | None, action: int) -> int:
    """One action for several changes of the same item inside one event."""
    if action == events.ACTION_DELETE or action_so_far in (None, events.ACTION_DELETE):
        return action
    if action_so_far == events.ACTION_CREATE:
        # Created in this event: the client creates it once, as it is now.
        return events.ACTION_CREATE
    if events.ACTION_UPDATE in (action_so_far, action):
        return events.ACTION_UPDATE
    return events.ACTION_UPDATE_FLAGS


def _merged(rows: list[sqlite3.Row], kind: str) -> list[tuple[str, int]]:
    order: list[str] = []
    actions: dict[str, int] = {}
    for row in rows:
        if row["kind"] != kind:
            continue
        item_id = row["item_id"]
        if item_id not in actions:
            order.append(item_id)
        actions[item_id] = _merge(actions.get(item_id), row["action"])
    return [(item_id, actions[item_id]) for item_id in order]


def build_event(
    conn: sqlite3.Connection, user: sqlite3.Row, after_seq: int, max_updates: int
) -> dict[str, Any]:
    limit = max_updates if max_updates > 0 else -1
    rows = conn.execute(
        "SELECT * FROM events WHERE user_id = ? AND seq > ? ORDER BY seq LIMIT ?",
        (user["id"], after_seq, limit),
    ).fetchall()

    last_seq = rows[-1]["seq"] if rows else after_seq
    more = conn.execute(
        "SELECT 1 FROM events WHERE user_id = ? AND seq > ? LIMIT 1",
        (user["id"], last_seq),
    ).fetchone()

    event: dict[str, Any] = {
        "EventID": events.encode_event_id(user["num"], last_seq),
        "Refresh": 0,
        "More": 1 if more else 0,
        "Notifications": [],
    }

    for row in rows:
        event["Refresh"] |= row["refresh"]

    message_changes = _merged(rows, events.KIND_MESSAGE)
    if message_changes:
        current = messages.metadata_for_ids(
            conn,
            [
                item
                for item, action in message_changes
                if action != events.ACTION_DELETE
            ],
        )
        event["Messages"] = _describe(message_changes, current, "Message")

    label_changes = _merged(rows, events.KIND_LABEL)
    if label_changes:
        current = {}
        for item_id, action in label_changes:
            label = labels.get_label_json(conn, item_id)
            if action != events.ACTION_DELETE and label is not None:
                current[item_id] = label
        event["Labels"] = _describe(label_changes, current, "Label")

    address_changes = _merged(rows, events.KIND_ADDRESS)
    if address_changes:
        current = {}
        for item_id, _ in address_changes:
            row = conn.execute(
                "SELECT * FROM addresses WHERE id = ?", (item_id,)
            ).fetchone()
            if row is not None:
                current[item_id] = users.address_json(conn, row)
        event["Addresses"] = _describe(address_changes, current, "Address")

    kinds = {row["kind"] for row in rows}
    if events.KIND_USER in kinds or events.KIND_ADDRESS in kinds:
        event["User"] = users.user_json(conn, user)
    if events.KIND_MAIL_SETTINGS in kinds:
        fresh = users.get_user(conn, user["id"])
        event["MailSettings"] = users.mail_settings(fresh)
    if events.KIND_MESSAGE in kinds:
        event["UsedSpace"] = users.used_space(conn, user["id"])

    return event


def _describe(
    changes: list[tuple[str, int]], current: dict[str, Any], name: str
) -> list[dict[str, Any]]:
    described = []
    for item_id, action in changes:
        if action == events.ACTION_DELETE:
            described.append({"ID": item_id, "Action": action})
            continue

        state = current.get(item_id)
        if state is None:
            # Gone since: its deletion comes in a later event.
            continue
        described.append({"ID": item_id, "Action": action, name: state})
    return described


@authenticated()
async def get_latest_event(request: Request) -> JSONResponse:
    provider = provider_of(request)
    user = users.get_user(provider.conn, request.state.user_id)
    seq = events.latest_seq(provider.conn, user["id"])
    return api.ok({"EventID": events.encode_event_id(user["num"], seq)})


@authenticated()
async def get_event(request: Request) -> JSONResponse:
    provider = provider_of(request)
    user = users.get_user(provider.conn, request.state.user_id)

    decoded = events.decode_event_id(request.path_params["event_id"])
    if decoded is None or decoded[0] != user["num"]:
        raise api.invalid("Invalid event ID")

    _, seq = decoded
    if seq > events.latest_seq(provider.conn, user["id"]):
        raise api.invalid("Invalid event ID")

    event = build_event(provider.conn, user, seq, provider.max_updates_per_event)
    return api.ok(event)
