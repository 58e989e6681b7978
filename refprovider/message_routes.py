"""HTTP routes for messages: listing, reading, counting and bulk changes."""

import logging
import sqlite3
import time
from collections.abc import Awaitable, Callable
from typing import Any

from starlette.requests import Request
from starlette.responses import JSONResponse

from . import api, store
from .auth import authenticated, provider_of
from .messages import (
    FLAG_FORWARDED,
    MAX_IDS_PAGE,
    MessageFilter,
    apply_label,
    delete_messages,
    get_message_row,
    list_messages,
    message_counts,
    message_json,
    remove_label,
    set_flag,
    set_unread,
)

logger = logging.getLogger(__name__)


def _undo_token() -> dict[str, Any]:
    return {"Token": store.new_id(), "ValidUntil": int(time.time()) + 30}


async def list_route(request: Request, values: dict[str, Any]) -> JSONResponse:
    provider = provider_of(request)
    wanted = MessageFilter.from_request(values)
    messages, total = list_messages(provider.conn, request.state.user_id, wanted)
    return api.ok({"Messages": messages, "Total": total, "Stale": 0})


@authenticated()
async def get_messages(request: Request) -> JSONResponse:
    values: dict[str, Any] = dict(request.query_params)
    ids = request.query_params.getlist("ID") or request.query_params.getlist("ID[]")
    if ids:
        values["ID"] = ids
    return await list_route(request, values)


@authenticated()
async def get_message(request: Request) -> JSONResponse:
    provider = provider_of(request)
    row = get_message_row(
        provider.conn, request.state.user_id, request.path_params["message_id"]
    )
    if row is None:
        raise api.not_found("Message does not exist")
    return api.ok({"Message": message_json(provider.conn, row)})


@authenticated()
async def get_message_ids(request: Request) -> JSONResponse:
    provider = provider_of(request)
    limit = api.as_int(request.query_params.get("Limit"), "Limit", default=MAX_IDS_PAGE)
    limit = max(1, min(limit, MAX_IDS_PAGE))
    after_id = request.query_params.get("AfterID", "")

    after_seq = 0
    if after_id:
        row = get_message_row(provider.conn, request.state.user_id, after_id)
        if row is None:
            raise api.not_found("Message does not exist")
        after_seq = row["seq"]

    rows = provider.conn.execute(
        "SELECT id FROM messages WHERE user_id = ? AND seq > ? ORDER BY seq LIMIT ?",
        (request.state.user_id, after_seq, limit),
    ).fetchall()
    return api.ok({"IDs": [row["id"] for row in rows]})


@authenticated()
async def get_message_counts(request: Request) -> JSONResponse:
    provider = provider_of(request)
    return api.ok({"Counts": message_counts(provider.conn, request.state.user_id)})


async def _ids_of(request: Request) -> list[str]:
    body = await api.read_json(request)
    ids = api.as_str_list(body.get("IDs"), "IDs")
    if not ids:
        raise api.invalid("IDs is required")
    return ids


BulkChange = Callable[[sqlite3.Connection, str, list[str]], list[dict[str, Any]]]


def _bulk_route(change: BulkChange) -> Callable[[Request], Awaitable[JSONResponse]]:
    """A PUT route applying one change to {IDs}, answered per message."""

    @authenticated()
    async def route(request: Request) -> JSONResponse:
        provider = provider_of(request)
        ids = await _ids_of(request)
        return api.multi(change(provider.conn, request.state.user_id, ids))

    return route


put_read = _bulk_route(lambda conn, user, ids: set_unread(conn, user, ids, False))
put_unread = _bulk_route(lambda conn, user, ids: set_unread(conn, user, ids, True))
put_forward = _bulk_route(
    lambda conn, user, ids: set_flag(conn, user, ids, FLAG_FORWARDED, True)
)
put_unforward = _bulk_route(
    lambda conn, user, ids: set_flag(conn, user, ids, FLAG_FORWARDED, False)
)
put_delete = _bulk_route(delete_messages)


async def _label_request(request: Request) -> tuple[str, list[str]]:
    body = await api.read_json(request)
    label_id = api.as_str(str(body.get("LabelID") or ""), "LabelID")
    ids = api.as_str_list(body.get("IDs"), "IDs")
    if not ids:
        raise api.invalid("IDs is required")
    return label_id, ids


@authenticated()
async def put_label(request: Request) -> JSONResponse:
    provider = provider_of(request)
    label_id, ids = await _label_request(request)
    responses = apply_label(provider.conn, request.state.user_id, ids, label_id)
    return api.multi(responses, UndoToken=_undo_token())


@authenticated()
async def put_unlabel(request: Request) -> JSONResponse:
    provider = provider_of(request)
    label_id, ids = await _label_request(request)
    responses = remove_label(provider.conn, request.state.user_id, ids, label_id)
    return api.multi(responses, UndoToken=_undo_token())
