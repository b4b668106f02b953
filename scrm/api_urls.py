from django.urls import path
from drf_spectacular.views import SpectacularAPIView, SpectacularSwaggerView

from members.api.loyalty import (
    MemberVouchersApi,
    OrderBatchApi,
    OrderCreateApi,
    PointsListApi,
    RedemptionCreateApi,
    RefundCreateApi,
    TierListApi,
    VoucherDetailApi,
    VoucherRedeemApi,
)
from members.api.views import MemberDetailApi, MemberListCreateApi

app_name = "api"

urlpatterns = [
    path("schema/", SpectacularAPIView.as_view(permission_classes=[]), name="schema"),
    path(
        "docs/",
        SpectacularSwaggerView.as_view(url_name="api:schema", permission_classes=[]),
        name="docs",
    ),
    path("members/", MemberListCreateApi.as_view(), name="member-list"),
    path("members/<str:code>/", MemberDetailApi.as_view(), name="member-detail"),
    path("members/<str:code>/points/", PointsListApi.as_view(), name="member-points"),
    path(
        "members/<str:code>/points/redemptions/",
        RedemptionCreateApi.as_view(),
        name="member-redemptions",
    ),
    path("members/<str:code>/vouchers/", MemberVouchersApi.as_view(), name="member-vouchers"),
    path("orders/", OrderCreateApi.as_view(), name="order-create"),
    path("orders/batch/", OrderBatchApi.as_view(), name="order-batch"),
    path("orders/<int:order_id>/refunds/", RefundCreateApi.as_view(), name="order-refunds"),
    path("vouchers/<str:code>/", VoucherDetailApi.as_view(), name="voucher-detail"),
    path("vouchers/<str:code>/redeem/", VoucherRedeemApi.as_view(), name="voucher-redeem"),
    path("tiers/", TierListApi.as_view(), name="tiers"),
]
