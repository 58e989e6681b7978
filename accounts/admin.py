"""Django's admin registrations: accounts without their secrets.

The dashboard does not mount the admin: it would show every person's linked
accounts to superusers, while the dashboard keeps each person to their own.
Should a deployment mount it anyway, the sealed columns are left out of every
form and list, so it shows neither ciphertext nor a way to overwrite a token.
"""

from django.contrib import admin

from accounts.models import Activity, Address, BridgeSetting, LinkedAccount

SEALED_FIELDS = (
    "session_uid_sealed",
    "access_token_sealed",
    "refresh_token_sealed",
    "key_passphrase_sealed",
    "bridge_password_sealed",
)


class AddressInline(admin.TabularInline):
    model = Address
    extra = 0
    can_delete = False
    readonly_fields = ("email", "display_name", "status", "send", "receive", "order")
    exclude = ("provider_id", "address_type")


@admin.register(LinkedAccount)
class LinkedAccountAdmin(admin.ModelAdmin):
    list_display = ("primary_email", "owner", "state", "address_mode", "last_event_at")
    list_filter = ("state", "address_mode")
    search_fields = ("primary_email", "username", "owner__username")
    exclude = SEALED_FIELDS
    readonly_fields = (
        "provider_user_id",
        "username",
        "primary_email",
        "display_name",
        "created_at",
        "updated_at",
        "last_event_at",
    )
    inlines = [AddressInline]


@admin.register(Activity)
class ActivityAdmin(admin.ModelAdmin):
    list_display = ("at", "account", "kind", "text")
    list_filter = ("kind",)
    readonly_fields = ("account", "kind", "text", "at")


@admin.register(BridgeSetting)
class BridgeSettingAdmin(admin.ModelAdmin):
    list_display = ("key", "value", "updated_at")
