"""Pages name their icon, so browsers do not ask for a missing /favicon.ico."""

from django.test import Client
from django.urls import reverse


def test_pages_declare_an_icon_without_a_file(db):
    page = Client().get(reverse("login")).content.decode()

    assert '<link rel="icon" href="data:,">' in page
