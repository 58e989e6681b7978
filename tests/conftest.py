"""Test-suite wide configuration: fixture plugins live in tests/fixtures/."""

pytest_plugins: list[str] = ["tests.fixtures.refprovider", "tests.fixtures.dovecot"]
