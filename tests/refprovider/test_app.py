"""The application in-process: unexpected errors and the loopback guard."""

import httpx

from refprovider.app import create_app
from refprovider.context import Provider

HEADERS = {"x-pm-appversion": "linux-bridge@3.21.1"}


async def test_an_unexpected_error_is_a_json_500_without_a_traceback(tmp_path):
    provider = Provider.open(tmp_path)
    app = create_app(tmp_path, provider)
    provider.identity = None  # breaks GET auth/v4/modulus from the inside

    transport = httpx.ASGITransport(app=app, raise_app_exceptions=False)
    async with httpx.AsyncClient(transport=transport, base_url="http://t") as client:
        response = await client.get("/api/auth/v4/modulus", headers=HEADERS)

    assert response.status_code == 500
    assert response.json() == {"Code": 500, "Error": "Internal server error"}
    assert "Traceback" not in response.text


async def test_the_control_api_answers_loopback_only(tmp_path):
    app = create_app(tmp_path)

    outside = httpx.ASGITransport(app=app, client=("192.0.2.10", 5555))
    async with httpx.AsyncClient(transport=outside, base_url="http://t") as client:
        refused = await client.get("/internal/faults")

    inside = httpx.ASGITransport(app=app, client=("127.0.0.1", 5555))
    async with httpx.AsyncClient(transport=inside, base_url="http://t") as client:
        allowed = await client.get("/internal/faults")

    assert (refused.status_code, refused.json()["Code"]) == (403, 403)
    assert allowed.json() == {"Code": 1000, "Faults": []}
