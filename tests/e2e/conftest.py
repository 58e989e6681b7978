"""End-to-end tests: the bridge as real processes, used by real mail programs."""

from tests.fixtures.e2e import processes  # noqa: F401 - a fixture
