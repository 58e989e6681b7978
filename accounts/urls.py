"""The dashboard's pages."""

from django.contrib.auth import views as auth_views
from django.urls import path

from accounts import views
from accounts.forms import SignInForm

urlpatterns = [
    path("", views.dashboard, name="dashboard"),
    # Signing in and out, and the person's own dashboard password.
    path(
        "login/",
        auth_views.LoginView.as_view(authentication_form=SignInForm),
        name="login",
    ),
    path("logout/", auth_views.LogoutView.as_view(), name="logout"),
    path(
        "password/",
        auth_views.PasswordChangeView.as_view(),
        name="password_change",
    ),
    path(
        "password/done/",
        auth_views.PasswordChangeDoneView.as_view(),
        name="password_change_done",
    ),
    # Linking a provider account.
    path("accounts/add/", views.add_account, name="add_account"),
    path(
        "accounts/add/two-factor/",
        views.add_account_two_factor,
        name="add_account_two_factor",
    ),
    path(
        "accounts/add/mailbox-password/",
        views.add_account_mailbox_password,
        name="add_account_mailbox_password",
    ),
    path("accounts/add/cancel/", views.add_account_cancel, name="add_account_cancel"),
    # One linked account.
    path("accounts/<int:account_id>/", views.account_detail, name="account_detail"),
    path(
        "accounts/<int:account_id>/bridge-password/",
        views.reveal_bridge_password,
        name="reveal_bridge_password",
    ),
    path(
        "accounts/<int:account_id>/bridge-password/regenerate/",
        views.regenerate_bridge_password,
        name="regenerate_bridge_password",
    ),
    path(
        "accounts/<int:account_id>/address-mode/",
        views.change_address_mode,
        name="change_address_mode",
    ),
    path(
        "accounts/<int:account_id>/logout/",
        views.provider_logout,
        name="provider_logout",
    ),
    path(
        "accounts/<int:account_id>/remove/",
        views.remove_account,
        name="remove_account",
    ),
    path("certificate.pem", views.certificate_download, name="certificate_download"),
    # Staff pages.
    path("people/", views.people, name="people"),
    path(
        "people/<int:person_id>/deactivate/",
        views.person_set_active,
        {"active": False},
        name="person_deactivate",
    ),
    path(
        "people/<int:person_id>/activate/",
        views.person_set_active,
        {"active": True},
        name="person_activate",
    ),
    path("settings/", views.bridge_settings, name="bridge_settings"),
    path(
        "settings/certificate/",
        views.certificate_upload,
        name="certificate_upload",
    ),
    path(
        "settings/certificate/remove/",
        views.certificate_remove,
        name="certificate_remove",
    ),
]
