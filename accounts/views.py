"""Dashboard views."""

from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render


@login_required
def dashboard(request: HttpRequest) -> HttpResponse:
    accounts = request.user.linked_accounts.all()
    return render(request, "accounts/dashboard.html", {"accounts": accounts})
