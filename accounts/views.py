"""Dashboard views: accounts, the add-account wizard, people and settings.

Every view needs a signed-in person. A person only ever sees their own
linked accounts (another person's account is a 404, staff included); people
and bridge settings are for staff. Nothing secret is put in a page, except
the bridge password its owner asked to see after re-entering their password.
"""

import logging
from functools import wraps
from urllib.parse import parse_qs, urlsplit

from asgiref.sync import async_to_sync
from django.conf import settings
from django.contrib import messages
from django.contrib.auth import get_user_model
from django.contrib.auth.decorators import login_required
from django.core.cache import cache
from django.core.exceptions import PermissionDenied
from django.db.models import Count, Q
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_POST

from accounts import settings_store
from accounts.consumers import accounts_with_status, status_snapshot
from accounts.forms import (
    AddressModeForm,
    BridgeSettingsForm,
    CertificateUploadForm,
    ConfirmPasswordForm,
    LinkStartForm,
    MailboxPasswordForm,
    PersonForm,
    TwoFactorForm,
)
from accounts.models import Activity, LinkedAccount, record_activity
from mailsync.models import Mailbox
from mailsync.notify import publish_status
from mailsync.provider.errors import ProviderError
from mailsync.session import new_client, stored_session

logger = logging.getLogger(__name__)

# Wrong dashboard passwords tolerated before revealing is paused.
REVEAL_MAX_FAILURES = 5
REVEAL_FAILURE_WINDOW = 15 * 60

WIZARD_SESSION_KEY = "link_wizard"
VERIFICATION_SESSION_KEY = "link_verification"
WIZARD_STEP_URLS = {
    "two_factor": "add_account_two_factor",
    "mailbox_password": "add_account_mailbox_password",
}

MAILBOX_KIND_ORDER = {
    Mailbox.Kind.SYSTEM: 0,
    Mailbox.Kind.FOLDER: 1,
    Mailbox.Kind.LABEL: 2,
}


def staff_required(view):
    """Signed-in staff only; anyone else signed in gets a 403."""

    @wraps(view)
    @login_required
    def wrapper(request: HttpRequest, *args, **kwargs) -> HttpResponse:
        if not request.user.is_staff:
            raise PermissionDenied("This page is for the bridge's administrators.")
        return view(request, *args, **kwargs)

    return wrapper


def own_account(request: HttpRequest, account_id: int) -> LinkedAccount:
    return get_object_or_404(LinkedAccount, pk=account_id, owner=request.user)


# Account list and account page.


@login_required
def dashboard(request: HttpRequest) -> HttpResponse:
    accounts = accounts_with_status().filter(owner=request.user)
    rows = [(account, status_snapshot(account)) for account in accounts]
    return render(request, "accounts/dashboard.html", {"rows": rows})


@never_cache
@login_required
def account_detail(request: HttpRequest, account_id: int) -> HttpResponse:
    account = own_account(request, account_id)
    return render_account_page(request, account)


def render_account_page(
    request: HttpRequest,
    account: LinkedAccount,
    reveal_form: ConfirmPasswordForm | None = None,
    revealed_password: str = "",
    status: int = 200,
) -> HttpResponse:
    context = {
        "account": account,
        "status": status_snapshot(accounts_with_status().get(pk=account.pk)),
        "connection": connection_settings(request, account),
        "addresses": account.addresses.all(),
        "mailboxes": mailboxes_with_counts(account),
        "activities": account.activities.all()[:25],
        "reveal_form": reveal_form or ConfirmPasswordForm(request.user),
        "revealed_password": revealed_password,
        "mode_form": AddressModeForm(initial={"address_mode": account.address_mode}),
    }
    return render(request, "accounts/account_detail.html", context, status=status)


def connection_settings(request: HttpRequest, account: LinkedAccount) -> dict:
    """What a mail program needs: host, ports, security and the username."""
    bridge = settings_store.effective()
    return {
        "imap_host": client_host(request, bridge.imap_host),
        "imap_port": bridge.imap_port,
        "imaps_port": bridge.imaps_port,
        "smtp_host": client_host(request, bridge.smtp_host),
        "smtp_port": bridge.smtp_port,
        "smtps_port": bridge.smtps_port,
        "username": account.primary_email,
    }


def client_host(request: HttpRequest, listen_host: str) -> str:
    # A wildcard address is where the bridge listens, not where a mail
    # program connects; the name this page was reached by is the better guess.
    if listen_host not in ("0.0.0.0", "::", ""):  # noqa: S104
        return listen_host
    host = request.get_host()
    if host.startswith("["):
        return host[1 : host.index("]")]
    return host.rsplit(":", 1)[0]


def mailboxes_with_counts(account: LinkedAccount) -> list[Mailbox]:
    mailboxes = (
        Mailbox.objects.filter(account=account)
        .exclude(kind=Mailbox.Kind.PLACEHOLDER)
        .annotate(
            message_count=Count("entries", filter=Q(entries__deleted=False)),
            unread_count=Count(
                "entries",
                filter=Q(entries__deleted=False, entries__message__unread=True),
            ),
        )
    )
    return sorted(
        mailboxes, key=lambda box: (MAILBOX_KIND_ORDER.get(box.kind, 9), box.name)
    )


@never_cache
@login_required
@require_POST
def reveal_bridge_password(request: HttpRequest, account_id: int) -> HttpResponse:
    account = own_account(request, account_id)
    failures_key = f"reveal-failures:{request.user.pk}"

    if cache.get(failures_key, 0) >= REVEAL_MAX_FAILURES:
        messages.error(
            request,
            "Too many wrong passwords. Wait 15 minutes before trying again.",
        )
        return redirect("account_detail", account_id=account.pk)

    form = ConfirmPasswordForm(request.user, request.POST)
    if not form.is_valid():
        cache.add(failures_key, 0, REVEAL_FAILURE_WINDOW)
        cache.incr(failures_key)
        logger.warning(
            "wrong dashboard password when revealing the bridge password "
            "(person %s, account %s)",
            request.user.pk,
            account.pk,
        )
        return render_account_page(request, account, reveal_form=form, status=400)

    password = account.bridge_password
    if not password:
        # Accounts linked before bridge passwords existed get one now.
        password = account.regenerate_bridge_password()
        account.save(update_fields=["bridge_password_sealed", "updated_at"])

    cache.delete(failures_key)
    record_activity(account, Activity.Kind.ACCOUNT, "Bridge password shown")
    logger.info("bridge password shown to the owner of account %s", account.pk)
    return render_account_page(request, account, revealed_password=password)


@login_required
def regenerate_bridge_password(request: HttpRequest, account_id: int) -> HttpResponse:
    account = own_account(request, account_id)
    if request.method != "POST":
        return render(request, "accounts/regenerate_confirm.html", {"account": account})

    account.regenerate_bridge_password()
    account.save(update_fields=["bridge_password_sealed", "updated_at"])
    record_activity(account, Activity.Kind.ACCOUNT, "New bridge password made")
    logger.info("bridge password regenerated for account %s", account.pk)

    messages.success(
        request,
        "A new bridge password was made; the old one no longer works. Reveal "
        "it below and update your mail programs.",
    )
    return redirect("account_detail", account_id=account.pk)


@login_required
@require_POST
def change_address_mode(request: HttpRequest, account_id: int) -> HttpResponse:
    account = own_account(request, account_id)
    form = AddressModeForm(request.POST)
    if not form.is_valid():
        messages.error(request, "Choose combined or split address mode.")
        return redirect("account_detail", account_id=account.pk)

    mode = form.cleaned_data["address_mode"]
    if mode != account.address_mode:
        account.address_mode = mode
        account.save(update_fields=["address_mode", "updated_at"])
        record_activity(
            account, Activity.Kind.ACCOUNT, f"Address mode changed to {mode}"
        )
        logger.info("account %s switched to %s address mode", account.pk, mode)
        messages.success(
            request,
            f"Address mode is now {mode}. Mail programs may need to refresh "
            "their folder list.",
        )
    return redirect("account_detail", account_id=account.pk)


@login_required
@require_POST
def provider_logout(request: HttpRequest, account_id: int) -> HttpResponse:
    account = own_account(request, account_id)
    end_provider_session(account)
    account.forget_session()
    account.state = LinkedAccount.State.NEEDS_LOGIN
    account.last_error = ""
    account.save()
    record_activity(account, Activity.Kind.ACCOUNT, "Logged out of the provider")
    logger.info("account %s logged out of the provider by its owner", account.pk)
    publish_status(account.pk, {"state": account.state, "last_error": ""})

    messages.success(
        request,
        "Logged out of the provider. Mail stays on this bridge; log in again "
        "to receive new mail.",
    )
    return redirect("account_detail", account_id=account.pk)


@login_required
def remove_account(request: HttpRequest, account_id: int) -> HttpResponse:
    account = own_account(request, account_id)
    if request.method != "POST":
        return render(request, "accounts/remove_confirm.html", {"account": account})

    email, removed_id = account.primary_email, account.pk
    end_provider_session(account)
    # The index, the message cache and the activity go with the account row.
    account.delete()
    logger.info("account %s removed by its owner", removed_id)
    publish_status(removed_id, {"removed": True})

    messages.success(request, f"{email} was removed from this bridge.")
    return redirect("dashboard")


def end_provider_session(account: LinkedAccount) -> None:
    """Ask the provider to end the bridge's session; local state goes anyway."""
    session = stored_session(account)
    if session is None:
        return

    try:
        async_to_sync(logout_at_provider)(session)
    except ProviderError as exc:
        # The session then expires at the provider on its own; what the
        # person asked for (no session kept here) still happens.
        logger.info("provider logout of account %s failed: %r", account.pk, exc)


async def logout_at_provider(session) -> None:
    async with new_client(session=session) as client:
        await client.logout()


@login_required
def certificate_download(request: HttpRequest) -> HttpResponse:
    response = HttpResponse(
        settings_store.certificate_pem(), content_type="application/x-pem-file"
    )
    response["Content-Disposition"] = 'attachment; filename="mail-bridge-cert.pem"'
    return response


# The add-account wizard. Between steps the session keeps the pending link's
# id and step, never a password.


@login_required
def add_account(request: HttpRequest) -> HttpResponse:
    from accounts import linking

    verification = request.session.get(VERIFICATION_SESSION_KEY)
    if request.method != "POST":
        form = LinkStartForm(initial={"username": request.GET.get("username", "")})
        return render_add_account(request, form, verification)

    form = LinkStartForm(request.POST)
    if not form.is_valid():
        return render_add_account(request, form, verification)

    username = form.cleaned_data["username"]
    try:
        progress = linking.start_link(
            request.user,
            username,
            form.cleaned_data["password"],
            hv_token=verification["token"] if verification else None,
            hv_type=verification["type"] if verification else None,
        )
    except linking.HumanVerificationNeeded as exc:
        verification = human_verification(exc)
        request.session[VERIFICATION_SESSION_KEY] = verification
        logger.info("human verification asked while linking for %s", request.user.pk)
        return render_add_account(
            request, LinkStartForm(initial={"username": username}), verification
        )
    except linking.LinkError as exc:
        # A verification token is good for one try; the next try gets a new one.
        request.session.pop(VERIFICATION_SESSION_KEY, None)
        form.add_error(None, str(exc))
        return render_add_account(request, form, None)

    request.session.pop(VERIFICATION_SESSION_KEY, None)
    return next_wizard_step(request, progress, username)


def render_add_account(
    request: HttpRequest, form: LinkStartForm, verification: dict | None
) -> HttpResponse:
    context = {"form": form, "verification": verification, "step": "credentials"}
    return render(request, "accounts/add_account.html", context)


def human_verification(exc: Exception) -> dict:
    """What the page needs to send a person to verify, and to retry after."""
    url = str(getattr(exc, "url", "") or "")
    query = parse_qs(urlsplit(url).query)
    token = getattr(exc, "token", None) or query.get("token", [""])[0]
    methods = getattr(exc, "methods", None) or ",".join(query.get("methods", [])).split(
        ","
    )
    methods = [method for method in methods if method]

    # The provider wants the kind of check that was passed; captcha is what
    # a browser-based check almost always is.
    token_type = "captcha" if "captcha" in methods or not methods else methods[0]
    safe_url = url if urlsplit(url).scheme in ("https", "http") else ""
    return {"url": safe_url, "token": token, "type": token_type}


def next_wizard_step(request: HttpRequest, progress, username: str) -> HttpResponse:
    if progress.step == "done":
        request.session.pop(WIZARD_SESSION_KEY, None)
        account = progress.account
        logger.info("account %s linked by person %s", account.pk, request.user.pk)
        if account.state == LinkedAccount.State.SYNCING:
            text = "The first sync has started; its progress shows below."
        else:
            text = "Its mail is already on this bridge."
        messages.success(request, f"{account.primary_email} is linked. {text}")
        return redirect("account_detail", account_id=account.pk)

    request.session[WIZARD_SESSION_KEY] = {
        "pending_id": progress.pending_id,
        "step": progress.step,
        "username": username,
    }
    return redirect(WIZARD_STEP_URLS[progress.step])


def wizard_step(step: str, form_class, submit_name: str):
    """A wizard step view that hands its one field to ``linking.<submit_name>``."""

    @login_required
    def view(request: HttpRequest) -> HttpResponse:
        from accounts import linking

        wizard = request.session.get(WIZARD_SESSION_KEY)
        if not wizard or wizard.get("step") != step:
            return redirect("add_account")

        form = form_class(request.POST or None)
        if request.method == "POST" and form.is_valid():
            (value,) = form.cleaned_data.values()
            submit = getattr(linking, submit_name)
            try:
                progress = submit(request.user, wizard["pending_id"], value)
            except linking.LinkError as exc:
                form.add_error(None, str(exc))
            else:
                return next_wizard_step(request, progress, wizard["username"])

        context = {"form": form, "step": step, "username": wizard["username"]}
        return render(request, "accounts/add_account.html", context)

    return view


add_account_two_factor = wizard_step("two_factor", TwoFactorForm, "submit_two_factor")
add_account_mailbox_password = wizard_step(
    "mailbox_password", MailboxPasswordForm, "submit_mailbox_password"
)


@login_required
@require_POST
def add_account_cancel(request: HttpRequest) -> HttpResponse:
    from accounts import linking

    wizard = request.session.pop(WIZARD_SESSION_KEY, None)
    request.session.pop(VERIFICATION_SESSION_KEY, None)
    if wizard and wizard.get("pending_id") is not None:
        try:
            linking.cancel_link(request.user, wizard["pending_id"])
        except linking.LinkError:
            # Already expired or finished: nothing left to cancel.
            logger.info("pending link of person %s was already gone", request.user.pk)
    return redirect("dashboard")


# People (staff).


@staff_required
def people(request: HttpRequest) -> HttpResponse:
    form = PersonForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        person = form.save()
        logger.info("person %s added by %s", person.pk, request.user.pk)
        messages.success(
            request,
            f"{person.username} can now sign in with the password you chose "
            "and change it under \u201cPassword\u201d.",
        )
        return redirect("people")

    everyone = (
        get_user_model()
        .objects.annotate(account_count=Count("linked_accounts"))
        .order_by("username")
    )
    return render(request, "accounts/people.html", {"form": form, "people": everyone})


@staff_required
@require_POST
def person_set_active(request: HttpRequest, person_id: int, active: bool):
    person = get_object_or_404(get_user_model(), pk=person_id)
    if person.pk == request.user.pk:
        messages.error(request, "You cannot deactivate yourself.")
        return redirect("people")

    person.is_active = active
    person.save(update_fields=["is_active"])
    logger.info(
        "person %s %s by %s",
        person.pk,
        "reactivated" if active else "deactivated",
        request.user.pk,
    )
    if active:
        messages.success(request, f"{person.username} can sign in again.")
    else:
        messages.success(
            request,
            f"{person.username} can no longer sign in to the dashboard.",
        )
    return redirect("people")


# Bridge settings (staff).


@staff_required
def bridge_settings(request: HttpRequest) -> HttpResponse:
    form = BridgeSettingsForm(
        request.POST or None, initial=vars(settings_store.effective())
    )
    if request.method == "POST" and form.is_valid():
        changed = settings_store.save(form.cleaned_data)
        logger.info("bridge settings saved by %s", request.user.pk)
        if changed:
            messages.success(
                request,
                "Saved. The new values apply the next time the bridge starts "
                "(manage.py runbridge).",
            )
        else:
            messages.info(request, "Nothing changed.")
        return redirect("bridge_settings")

    return render_settings_page(request, form, CertificateUploadForm())


def render_settings_page(
    request: HttpRequest,
    form: BridgeSettingsForm,
    upload_form: CertificateUploadForm,
    status: int = 200,
) -> HttpResponse:
    context = {
        "form": form,
        "upload_form": upload_form,
        "defaults": vars(settings_store.defaults()),
        "stored": settings_store.stored(),
        "certificate": settings_store.certificate_info(),
        "environment_certificate": bool(
            settings.BRIDGE_TLS_CERT and settings.BRIDGE_TLS_KEY
        ),
    }
    return render(request, "accounts/settings.html", context, status=status)


@staff_required
@require_POST
def certificate_upload(request: HttpRequest) -> HttpResponse:
    upload_form = CertificateUploadForm(request.POST, request.FILES)
    if not upload_form.is_valid():
        settings_form = BridgeSettingsForm(initial=vars(settings_store.effective()))
        return render_settings_page(request, settings_form, upload_form, status=400)

    settings_store.install_certificate(
        upload_form.cleaned_data["certificate"],
        upload_form.cleaned_data["private_key"],
    )
    logger.info("TLS certificate uploaded by %s", request.user.pk)
    messages.success(
        request,
        "Certificate saved. The bridge presents it from its next start.",
    )
    return redirect("bridge_settings")


@staff_required
@require_POST
def certificate_remove(request: HttpRequest) -> HttpResponse:
    if settings_store.remove_certificate():
        logger.info("uploaded TLS certificate removed by %s", request.user.pk)
        messages.success(
            request,
            "Uploaded certificate removed. From its next start the bridge "
            "presents its self-signed certificate.",
        )
    return redirect("bridge_settings")
