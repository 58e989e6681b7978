"""The admin registrations never expose sealed columns."""

import pytest
from django.contrib import admin
from django.test import RequestFactory
from django.urls import NoReverseMatch, reverse

from accounts.models import LinkedAccount


def test_linked_account_admin_leaves_out_every_sealed_column(staff):
    request = RequestFactory().get("/")
    request.user = staff
    model_admin = admin.site._registry[LinkedAccount]

    fields = model_admin.get_fields(request)

    assert fields
    assert not [name for name in fields if name.endswith("_sealed")]


def test_admin_is_not_mounted():
    with pytest.raises(NoReverseMatch):
        reverse("admin:index")
