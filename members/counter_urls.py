from django.urls import path

from members import counter_views, views

app_name = "counter"

urlpatterns = [
    path("", views.counter_index, name="index"),
    path("<str:store_code>/", views.counter_store, name="store"),
    path("<str:store_code>/search/", views.counter_search, name="search"),
    path("<str:store_code>/enrol/", counter_views.counter_enrol, name="enrol"),
    path("<str:store_code>/products/", counter_views.counter_products, name="products"),
    path("<str:store_code>/members/<str:code>/", counter_views.counter_card, name="member"),
    path(
        "<str:store_code>/members/<str:code>/profile/",
        counter_views.counter_member_profile,
        name="member_profile",
    ),
    path(
        "<str:store_code>/members/<str:code>/purchase/",
        counter_views.counter_purchase,
        name="purchase",
    ),
    path(
        "<str:store_code>/members/<str:code>/orders/<int:pk>/",
        counter_views.counter_receipt,
        name="receipt",
    ),
    path(
        "<str:store_code>/members/<str:code>/gifts/<int:pk>/fulfil/",
        counter_views.counter_gift_fulfil,
        name="gift_fulfil",
    ),
    path(
        "<str:store_code>/members/<str:code>/vouchers/redeem/",
        counter_views.counter_voucher_redeem,
        name="voucher_redeem",
    ),
    path("<str:store_code>/members/<str:code>/note/", counter_views.counter_note, name="note"),
]
