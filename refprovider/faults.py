"""Forced failures for tests: status codes, rate limits and slow answers.

A rule names a path (a prefix of the API path, or else a regular expression
searched in it), optionally a method, and what to do: answer with a status
(429 comes with Retry-After), and/or wait some seconds first. A rule with a
count stops after that many matches.
"""

import logging
import re
import threading
from dataclasses import dataclass
from typing import Any

from . import api

logger = logging.getLogger(__name__)

API_PREFIX = "/api"
# Longer waits than this would outlast any client's patience and the tests'.
MAX_DELAY = 600


@dataclass
class FaultRule:
    path: str
    method: str | None = None
    status: int | None = None
    code: int | None = None
    count: int | None = None
    retry_after: int | None = None
    delay: float = 0.0

    def matches(self, method: str, path: str) -> bool:
        if self.method and self.method.upper() != method.upper():
            return False
        if path.startswith(self.path):
            return True
        try:
            return re.search(self.path, path) is not None
        except re.error:
            return False

    def describe(self) -> dict[str, Any]:
        return {
            "Method": self.method,
            "Path": self.path,
            "Status": self.status,
            "Code": self.code,
            "Count": self.count,
            "RetryAfter": self.retry_after,
            "Delay": self.delay,
        }


def rule_from_request(body: dict[str, Any]) -> FaultRule:
    path = api.as_str(body.get("Path"), "Path")
    if path.startswith(API_PREFIX + "/"):
        path = path[len(API_PREFIX) :]

    status = body.get("Status")
    delay = api.as_number(body.get("Delay"), "Delay", minimum=0, maximum=MAX_DELAY)
    if status is None and not delay:
        raise api.invalid("A fault needs a Status, a Delay, or both")

    count = body.get("Count")
    retry_after = body.get("RetryAfter")
    return FaultRule(
        path=path,
        method=api.as_str(body.get("Method"), "Method", required=False) or None,
        status=(
            api.as_int(status, "Status", minimum=100, maximum=599)
            if status is not None
            else None
        ),
        code=api.as_int(body.get("Code"), "Code") if body.get("Code") else None,
        count=(api.as_int(count, "Count", minimum=1) if count is not None else None),
        retry_after=(
            api.as_int(retry_after, "RetryAfter", minimum=0)
            if retry_after is not None
            else None
        ),
        delay=delay,
    )


class FaultRules:
    """The live set of rules; the first matching rule applies."""

    def __init__(self) -> None:
        self._rules: list[FaultRule] = []
        self._lock = threading.Lock()

    def add(self, rule: FaultRule) -> None:
        with self._lock:
            self._rules.append(rule)
        logger.info(
            "Fault added: %s %s -> status %s delay %s count %s",
            rule.method or "*",
            rule.path,
            rule.status,
            rule.delay,
            rule.count,
        )

    def clear(self) -> None:
        with self._lock:
            self._rules.clear()

    def describe(self) -> list[dict[str, Any]]:
        with self._lock:
            return [rule.describe() for rule in self._rules]

    def take(self, method: str, path: str) -> FaultRule | None:
        """The rule for this request, counting the use."""
        with self._lock:
            for rule in self._rules:
                if not rule.matches(method, path):
                    continue

                if rule.count is not None:
                    rule.count -= 1
                    if rule.count <= 0:
                        self._rules.remove(rule)
                return rule

        return None


def fault_response(rule: FaultRule) -> Any:
    assert rule.status is not None

    headers = {}
    retry_after = rule.retry_after
    if retry_after is None and rule.status == 429:
        retry_after = 1
    if retry_after is not None:
        headers["Retry-After"] = str(retry_after)

    code = rule.code
    if code is None:
        code = 401 if rule.status == 401 else api.INVALID_VALUE

    return api.error_response(
        rule.status, code, f"Request failed with status {rule.status}", None, headers
    )
