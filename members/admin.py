from django.contrib import admin

from members.models import Member


@admin.register(Member)
class MemberAdmin(admin.ModelAdmin):
    list_display = ["code", "name", "phone", "store", "channel", "joined_at"]
    list_filter = ["store", "channel"]
    search_fields = ["code", "name", "phone"]
    raw_id_fields = ["user"]


from members.models import (  # noqa: E402
    Benefit,
    GiftGrant,
    ImportJob,
    Milestone,
    Order,
    PointsEntry,
    Product,
    Reward,
    Tier,
    Voucher,
    VoucherTemplate,
)


@admin.register(Product)
class ProductAdmin(admin.ModelAdmin):
    list_display = ["sku", "name", "category", "cycle_days", "kind", "price"]
    list_filter = ["category", "kind"]
    search_fields = ["sku", "name"]


@admin.register(VoucherTemplate)
class VoucherTemplateAdmin(admin.ModelAdmin):
    list_display = [
        "code",
        "name_zh",
        "name_en",
        "kind",
        "amount",
        "percent",
        "min_spend",
        "valid_days",
        "is_active",
    ]
    list_filter = ["kind", "is_active"]


@admin.register(Voucher)
class VoucherAdmin(admin.ModelAdmin):
    list_display = [
        "code",
        "template",
        "member",
        "status",
        "issued_at",
        "expires_at",
        "redeemed_at",
    ]
    list_filter = ["status", "template"]
    search_fields = ["code", "member__code"]
    raw_id_fields = ["member", "redeemed_order"]

    def has_change_permission(self, request, obj=None):
        return False  # redemption goes through the service: exactly once, audited


@admin.register(Reward)
class RewardAdmin(admin.ModelAdmin):
    list_display = ["code", "name_zh", "name_en", "kind", "points_cost", "is_active"]


@admin.register(Tier)
class TierAdmin(admin.ModelAdmin):
    list_display = [
        "rank",
        "code",
        "name_zh",
        "name_en",
        "min_purchases",
        "min_annual_spend",
        "multiplier",
    ]

    def has_change_permission(self, request, obj=None):
        return False  # edited in the console's rules page: versioned, dry-run, audited


@admin.register(Benefit)
class BenefitAdmin(admin.ModelAdmin):
    list_display = ["code", "kind", "percent", "name_zh", "name_en"]


@admin.register(Milestone)
class MilestoneAdmin(TierAdmin):
    list_display = ["code", "name_zh", "at_purchase", "at_spend", "reward", "is_active"]


@admin.register(GiftGrant)
class GiftGrantAdmin(admin.ModelAdmin):
    list_display = ["member", "name_zh", "status", "granted_at", "fulfilled_at"]
    list_filter = ["status"]
    raw_id_fields = ["member", "order"]


@admin.register(Order)
class OrderAdmin(admin.ModelAdmin):
    list_display = [
        "source",
        "external_id",
        "member",
        "store",
        "placed_at",
        "total",
        "status",
        "points_earned",
    ]
    list_filter = ["status", "source", "store"]
    search_fields = ["external_id", "member__code"]
    raw_id_fields = ["member"]

    def has_change_permission(self, request, obj=None):
        return False


@admin.register(PointsEntry)
class PointsEntryAdmin(admin.ModelAdmin):
    list_display = ["member", "kind", "points", "balance_after", "reason", "created_at"]
    list_filter = ["kind"]
    raw_id_fields = ["member", "order", "refund"]

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False


@admin.register(ImportJob)
class ImportJobAdmin(admin.ModelAdmin):
    list_display = ["filename", "kind", "status", "total_rows", "error_rows", "created_at"]


from members.models import AttributeDefinition, Segment, Tag  # noqa: E402


@admin.register(AttributeDefinition)
class AttributeDefinitionAdmin(admin.ModelAdmin):
    list_display = ["label", "key", "kind"]
    search_fields = ["label", "key"]


@admin.register(Tag)
class TagAdmin(admin.ModelAdmin):
    list_display = ["name", "kind", "rule_category"]
    list_filter = ["kind"]
    search_fields = ["name"]


@admin.register(Segment)
class SegmentAdmin(admin.ModelAdmin):
    list_display = ["name", "for_marketing", "last_count", "updated_at"]
    readonly_fields = ["definition", "last_count", "last_counted_at", "created_by"]
