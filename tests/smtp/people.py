"""Linked accounts made directly in the database, for tests without a provider."""

from django.contrib.auth import get_user_model

from accounts.models import Address, LinkedAccount


def make_account(
    primary: str,
    *,
    extra: list[str] = (),
    owner_name: str = "olivia",
    mode: str = LinkedAccount.AddressMode.COMBINED,
) -> LinkedAccount:
    """An account with a bridge password and enabled, sending addresses."""
    owner, _ = get_user_model().objects.get_or_create(username=owner_name)
    account = LinkedAccount(
        owner=owner,
        provider_user_id=f"user-{primary}",
        username=primary.split("@")[0],
        primary_email=primary,
        state=LinkedAccount.State.READY,
        address_mode=mode,
    )
    account.regenerate_bridge_password()
    account.save()

    for order, email in enumerate([primary, *extra]):
        add_address(account, email, order=order)
    return account


def add_address(account: LinkedAccount, email: str, **fields) -> Address:
    fields.setdefault("order", account.addresses.count())
    return Address.objects.create(
        account=account, provider_id=f"addr-{email}", email=email, **fields
    )
