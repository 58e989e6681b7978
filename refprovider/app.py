"""The provider's web application: routes, request checks and error shapes.

The public API lives under ``/api`` (so a client's base URL looks like
``http://127.0.0.1:PORT/api``); the control API for tests under ``/internal``
answers loopback clients only.
"""

import asyncio
import logging
import time
from pathlib import Path

from starlette.applications import Starlette
from starlette.exceptions import HTTPException
from starlette.middleware.base import BaseHTTPMiddleware, RequestResponseEndpoint
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Mount, Route

from . import (
    api,
    attachments,
    auth,
    drafts,
    feed,
    importer,
    internal,
    keys,
    labels,
    message_routes,
    profile,
    send,
)
from .context import Provider
from .faults import fault_response

logger = logging.getLogger(__name__)

API_PREFIX = "/api"
INTERNAL_PREFIX = "/internal"
LOOPBACK_HOSTS = {"127.0.0.1", "::1"}


def api_routes() -> list[Route]:
    mail_routes = [
        Route("/mail/v4/messages", message_routes.get_messages, methods=["GET"]),
        Route("/mail/v4/messages", drafts.post_messages, methods=["POST"]),
        Route("/mail/v4/messages/ids", message_routes.get_message_ids, methods=["GET"]),
        Route(
            "/mail/v4/messages/count",
            message_routes.get_message_counts,
            methods=["GET"],
        ),
        Route("/mail/v4/messages/read", message_routes.put_read, methods=["PUT"]),
        Route("/mail/v4/messages/unread", message_routes.put_unread, methods=["PUT"]),
        Route("/mail/v4/messages/forward", message_routes.put_forward, methods=["PUT"]),
        Route(
            "/mail/v4/messages/unforward", message_routes.put_unforward, methods=["PUT"]
        ),
        Route("/mail/v4/messages/label", message_routes.put_label, methods=["PUT"]),
        Route("/mail/v4/messages/unlabel", message_routes.put_unlabel, methods=["PUT"]),
        Route("/mail/v4/messages/delete", message_routes.put_delete, methods=["PUT"]),
        Route("/mail/v4/messages/import", importer.post_import, methods=["POST"]),
        Route(
            "/mail/v4/messages/{message_id}",
            message_routes.get_message,
            methods=["GET"],
        ),
        Route("/mail/v4/messages/{message_id}", drafts.put_draft, methods=["PUT"]),
        Route("/mail/v4/messages/{message_id}", send.post_send, methods=["POST"]),
        Route("/mail/v4/attachments", attachments.post_attachment, methods=["POST"]),
        Route(
            "/mail/v4/attachments/{attachment_id}",
            attachments.get_attachment,
            methods=["GET"],
        ),
    ]

    return [
        Route("/auth/v4/info", auth.post_auth_info, methods=["POST"]),
        Route("/auth/v4", auth.post_auth, methods=["POST"]),
        Route("/auth/v4", auth.delete_auth, methods=["DELETE"]),
        Route("/auth/v4/2fa", auth.post_auth_2fa, methods=["POST"]),
        Route("/auth/v4/refresh", auth.post_auth_refresh, methods=["POST"]),
        Route("/auth/v4/modulus", auth.get_modulus, methods=["GET"]),
        Route("/auth/v4/sessions", auth.get_sessions, methods=["GET"]),
        Route("/auth/v4/sessions", auth.delete_other_sessions, methods=["DELETE"]),
        Route("/auth/v4/sessions/{uid}", auth.delete_session, methods=["DELETE"]),
        Route("/core/v4/users", profile.get_user, methods=["GET"]),
        Route("/core/v4/addresses", profile.get_addresses, methods=["GET"]),
        Route("/core/v4/addresses/{address_id}", profile.get_address, methods=["GET"]),
        Route("/core/v4/keys", keys.get_public_keys, methods=["GET"]),
        Route("/core/v4/keys/salts", keys.get_key_salts, methods=["GET"]),
        Route("/core/v4/settings", profile.get_user_settings, methods=["GET"]),
        Route("/core/v4/labels", labels.get_labels, methods=["GET"]),
        Route("/core/v4/labels", labels.post_label, methods=["POST"]),
        Route("/core/v4/labels/{label_id}", labels.put_label, methods=["PUT"]),
        Route(
            "/core/v4/labels/{label_id}",
            labels.delete_label_route,
            methods=["DELETE"],
        ),
        Route("/core/v4/events/latest", feed.get_latest_event, methods=["GET"]),
        Route("/core/v4/events/{event_id}", feed.get_event, methods=["GET"]),
        # Newer clients read the same feed under v5.
        Route("/core/v5/events/latest", feed.get_latest_event, methods=["GET"]),
        Route("/core/v5/events/{event_id}", feed.get_event, methods=["GET"]),
        Route("/core/v4/reports/bug", profile.accept_report, methods=["POST"]),
        Route("/mail/v4/settings", profile.get_mail_settings, methods=["GET"]),
        Route("/mail/v4/settings/{setting}", profile.put_mail_setting, methods=["PUT"]),
        *mail_routes,
        Route("/contacts/v4", profile.get_contacts, methods=["GET"]),
        Route("/contacts/v4/emails", profile.get_contact_emails, methods=["GET"]),
        Route("/data/v1/stats", profile.accept_report, methods=["POST"]),
        Route("/data/v1/stats/multiple", profile.accept_report, methods=["POST"]),
        Route("/data/v1/metrics", profile.accept_report, methods=["POST"]),
        Route("/feature/v2/frontend", profile.get_feature_flags, methods=["GET"]),
        Route("/tests/ping", profile.get_ping, methods=["GET"]),
    ]


class ProviderMiddleware(BaseHTTPMiddleware):
    """Offline mode, app-version checks, forced faults and the loopback guard."""

    async def dispatch(
        self, request: Request, call_next: RequestResponseEndpoint
    ) -> Response:
        path = request.url.path
        started = time.monotonic()

        if path.startswith(INTERNAL_PREFIX):
            client = request.client.host if request.client else ""
            if client not in LOOPBACK_HOSTS:
                return api.error_response(403, 403, "The control API is loopback only")
            return await call_next(request)

        if path != API_PREFIX and not path.startswith(API_PREFIX + "/"):
            return api.error_response(404, 404, "Unknown route")

        provider: Provider = request.app.state.provider
        refusal = await self._refusal(provider, request, path[len(API_PREFIX) :])
        response = refusal or await call_next(request)

        logger.info(
            "%s %s -> %d (%.0f ms)",
            request.method,
            path,
            response.status_code,
            (time.monotonic() - started) * 1000,
        )
        return response

    async def _refusal(
        self, provider: Provider, request: Request, api_path: str
    ) -> Response | None:
        if provider.offline:
            return api.error_response(503, 503, "Service unavailable")

        app_version = request.headers.get("x-pm-appversion", "")
        if not app_version:
            return api.error_response(
                400, api.APP_VERSION_MISSING, "Missing x-pm-appversion header"
            )

        version = api.parse_app_version(app_version)
        too_old = (
            version is not None
            and version != ()
            and provider.min_app_version is not None
            and version < provider.min_app_version
        )
        if version is None or too_old:
            return api.error_response(
                400,
                api.APP_VERSION_BAD,
                "This version of the app is no longer supported,"
                " please update to continue using the app",
            )

        rule = provider.faults.take(request.method, api_path or "/")
        if rule is None:
            return None
        if rule.delay:
            await asyncio.sleep(rule.delay)
        if rule.status is None:
            return None
        return fault_response(rule)


async def _api_error(request: Request, error: Exception) -> Response:
    assert isinstance(error, api.APIError)
    return error.response()


async def _http_error(request: Request, error: Exception) -> Response:
    assert isinstance(error, HTTPException)
    message = "Unknown route" if error.status_code == 404 else str(error.detail)
    return api.error_response(error.status_code, error.status_code, message)


async def _server_error(request: Request, error: Exception) -> Response:
    logger.error(
        "Unhandled error on %s %s", request.method, request.url.path, exc_info=error
    )
    return api.error_response(500, 500, "Internal server error")


def create_app(data_dir: Path, provider: Provider | None = None) -> Starlette:
    provider = provider or Provider.open(data_dir)

    app = Starlette(
        routes=[
            Mount(API_PREFIX, routes=api_routes()),
            Mount(INTERNAL_PREFIX, routes=internal.routes()),
        ],
        exception_handlers={
            api.APIError: _api_error,
            HTTPException: _http_error,
            Exception: _server_error,
        },
    )
    app.add_middleware(ProviderMiddleware)
    app.state.provider = provider
    return app
