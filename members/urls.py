"""The members app's pages in each shell; ``MembersConfig.ready()`` plugs them in through the
registry in ``scrm.shells``."""

from django.urls import path

from members.api import loyalty as loyalty_api
from members.api import views as member_api
from members.views import counter, portal
from members.views.console import (
    dashboard,
    imports,
    member360,
    members,
    offers,
    rules,
    segments,
)

console_urlpatterns = [
    path("", members.member_list, name="list"),
    path("rules/", rules.rules_edit, name="rules"),
    path("handover/", member360.handover, name="handover"),
    path("segments/", segments.segment_list, name="segment_list"),
    path("segments/new/", segments.segment_builder, name="segment_new"),
    path("segments/count/", segments.segment_count, name="segment_count"),
    path("segments/<int:pk>/", segments.segment_detail, name="segment_detail"),
    path("segments/<int:pk>/edit/", segments.segment_builder, name="segment_edit"),
    path("segments/<int:pk>/export.csv", segments.segment_export, name="segment_export"),
    path("fields/", segments.profile_fields, name="profile_fields"),
    path("imports/", imports.import_list, name="import_list"),
    path(
        "imports/sample-orders.csv",
        imports.import_sample_file,
        {"kind": "orders"},
        name="import_sample_orders",
    ),
    path(
        "imports/sample-members.csv",
        imports.import_sample_file,
        {"kind": "members"},
        name="import_sample_members",
    ),
    path("imports/<int:pk>/", imports.import_detail, name="import_detail"),
    path("imports/<int:pk>/apply/", imports.import_apply, name="import_apply"),
    path("imports/<int:pk>/errors.csv", imports.import_errors, name="import_errors"),
    path("events/", dashboard.event_log, name="event_log"),
    path("<str:code>/", member360.member_detail, name="detail"),
    path("<str:code>/points/", members.member_points, name="points"),
    path("<str:code>/privacy/export/", member360.member_privacy_export, name="privacy_export"),
    path("<str:code>/privacy/erase/", member360.member_privacy_erase, name="privacy_erase"),
]

# Offers (/console/offers/): voucher templates and issuing, rewards, the product catalogue.
offers_urlpatterns = [
    path("", offers.offers_home, name="home"),
    path("vouchers/", offers.template_list, name="template_list"),
    path("vouchers/new/", offers.template_edit, name="template_new"),
    path("vouchers/<int:pk>/", offers.template_edit, name="template_edit"),
    path("vouchers/<int:pk>/issue/", offers.template_issue, name="template_issue"),
    path("rewards/", offers.reward_list, name="reward_list"),
    path("rewards/new/", offers.reward_edit, name="reward_new"),
    path("rewards/<int:pk>/", offers.reward_edit, name="reward_edit"),
    path("products/", offers.product_list, name="product_list"),
    path("products/import/", offers.product_import, name="product_import"),
    path("products/sample.csv", offers.product_sample_file, name="product_sample"),
    path("products/<int:pk>/", offers.product_edit, name="product_edit"),
]

# The console's home page (the dashboard) lives at /console/ itself; /console/segments/ (where an
# operator may type it) leads to the segments.
console_home_urlpatterns = [
    path("", dashboard.console_home, name="home"),
    path("segments/", dashboard.segments_redirect, name="segments"),
]

counter_urlpatterns = [
    path("", counter.counter_index, name="index"),
    path("<str:store_code>/", counter.counter_store, name="store"),
    path("<str:store_code>/search/", counter.counter_search, name="search"),
    path("<str:store_code>/enrol/", counter.counter_enrol, name="enrol"),
    path("<str:store_code>/products/", counter.counter_products, name="products"),
    path("<str:store_code>/members/<str:code>/", counter.counter_card, name="member"),
    path(
        "<str:store_code>/members/<str:code>/profile/",
        counter.counter_member_profile,
        name="member_profile",
    ),
    path(
        "<str:store_code>/members/<str:code>/purchase/",
        counter.counter_purchase,
        name="purchase",
    ),
    path(
        "<str:store_code>/members/<str:code>/orders/<int:pk>/",
        counter.counter_receipt,
        name="receipt",
    ),
    path(
        "<str:store_code>/members/<str:code>/gifts/<int:pk>/fulfil/",
        counter.counter_gift_fulfil,
        name="gift_fulfil",
    ),
    path(
        "<str:store_code>/members/<str:code>/vouchers/redeem/",
        counter.counter_voucher_redeem,
        name="voucher_redeem",
    ),
    path("<str:store_code>/members/<str:code>/note/", counter.counter_note, name="note"),
]

portal_urlpatterns = [
    path("", portal.portal_home, name="home"),
    path("card/", portal.portal_card, name="card"),
    path("account/", portal.portal_account, name="account"),
    path("vouchers/", portal.portal_vouchers, name="vouchers"),
    path("points/", portal.portal_points, name="points"),
    path("rewards/", portal.portal_rewards, name="rewards"),
    path("tiers/", portal.portal_tiers, name="tiers"),
    path("profile/", portal.portal_profile, name="profile"),
    path("preferences/", portal.portal_preferences, name="preferences"),
    path("privacy/", portal.portal_privacy, name="privacy"),
]

api_urlpatterns = [
    path("members/", member_api.MemberListCreateApi.as_view(), name="member-list"),
    path("members/<str:code>/", member_api.MemberDetailApi.as_view(), name="member-detail"),
    path("members/<str:code>/points/", loyalty_api.PointsListApi.as_view(), name="member-points"),
    path(
        "members/<str:code>/points/redemptions/",
        loyalty_api.RedemptionCreateApi.as_view(),
        name="member-redemptions",
    ),
    path(
        "members/<str:code>/vouchers/",
        loyalty_api.MemberVouchersApi.as_view(),
        name="member-vouchers",
    ),
    path("orders/", loyalty_api.OrderCreateApi.as_view(), name="order-create"),
    path("orders/batch/", loyalty_api.OrderBatchApi.as_view(), name="order-batch"),
    path(
        "orders/<int:order_id>/refunds/",
        loyalty_api.RefundCreateApi.as_view(),
        name="order-refunds",
    ),
    path("vouchers/<str:code>/", loyalty_api.VoucherDetailApi.as_view(), name="voucher-detail"),
    path(
        "vouchers/<str:code>/redeem/",
        loyalty_api.VoucherRedeemApi.as_view(),
        name="voucher-redeem",
    ),
    path("tiers/", loyalty_api.TierListApi.as_view(), name="tiers"),
]
