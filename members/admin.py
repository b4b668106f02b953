from django.contrib import admin

from members.models import Member


@admin.register(Member)
class MemberAdmin(admin.ModelAdmin):
    list_display = ["code", "name", "phone", "store", "channel", "joined_at"]
    list_filter = ["store", "channel"]
    search_fields = ["code", "name", "phone"]
    raw_id_fields = ["user"]
