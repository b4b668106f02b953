from django.contrib import admin
from django.contrib.auth.admin import UserAdmin as BaseUserAdmin

from accounts.models import ApiKey, AuditEntry, Store, User


@admin.register(User)
class UserAdmin(BaseUserAdmin):
    ordering = ["email"]
    list_display = ["email", "phone", "name", "kind", "is_active", "is_staff"]
    list_filter = ["kind", "is_active", "is_staff", "groups"]
    search_fields = ["email", "phone", "name"]
    filter_horizontal = ["groups", "user_permissions", "stores"]
    fieldsets = [
        (None, {"fields": ["kind", "email", "phone", "phone_verified", "name", "password"]}),
        ("Access", {"fields": ["is_active", "is_staff", "is_superuser", "groups", "stores"]}),
        ("Dates", {"fields": ["last_login", "date_joined"]}),
    ]
    add_fieldsets = [
        (None, {"classes": ["wide"], "fields": ["email", "name", "password1", "password2"]})
    ]


@admin.register(Store)
class StoreAdmin(admin.ModelAdmin):
    list_display = ["code", "name", "city", "time_zone", "is_active"]
    search_fields = ["code", "name", "city"]


@admin.register(ApiKey)
class ApiKeyAdmin(admin.ModelAdmin):
    list_display = ["name", "prefix", "store", "created_at", "last_used_at", "revoked_at"]
    readonly_fields = ["prefix", "key_hash", "created_at", "last_used_at"]


@admin.register(AuditEntry)
class AuditEntryAdmin(admin.ModelAdmin):
    list_display = ["created_at", "actor_label", "action", "target_label", "ip"]
    list_filter = ["action", "via"]
    search_fields = ["actor_label", "target_label", "action"]

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False


# Roles are managed in the console (Settings → Staff and roles), and members have no e-mail
# addresses to manage: these admin pages are not the product's.
def _unregister_unused() -> None:
    from allauth.account.models import EmailAddress
    from django.contrib.auth.models import Group

    for model in (Group, EmailAddress):
        if admin.site.is_registered(model):
            admin.site.unregister(model)


_unregister_unused()
