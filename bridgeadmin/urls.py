"""URL routes: the dashboard lives in the accounts app."""

from django.urls import include, path

urlpatterns = [
    path("", include("accounts.urls")),
]
