from django.urls import path

from members import import_views, member360_views, rules_views, segment_views, views

app_name = "members"

urlpatterns = [
    path("", views.member_list, name="list"),
    path("rules/", rules_views.rules_edit, name="rules"),
    path("handover/", member360_views.handover, name="handover"),
    path("segments/", segment_views.segment_list, name="segment_list"),
    path("segments/new/", segment_views.segment_builder, name="segment_new"),
    path("segments/count/", segment_views.segment_count, name="segment_count"),
    path("segments/<int:pk>/", segment_views.segment_detail, name="segment_detail"),
    path("segments/<int:pk>/edit/", segment_views.segment_builder, name="segment_edit"),
    path("segments/<int:pk>/export.csv", segment_views.segment_export, name="segment_export"),
    path("fields/", segment_views.profile_fields, name="profile_fields"),
    path("imports/", import_views.import_list, name="import_list"),
    path(
        "imports/sample-orders.csv",
        import_views.import_sample_file,
        {"kind": "orders"},
        name="import_sample_orders",
    ),
    path(
        "imports/sample-members.csv",
        import_views.import_sample_file,
        {"kind": "members"},
        name="import_sample_members",
    ),
    path("imports/<int:pk>/", import_views.import_detail, name="import_detail"),
    path("imports/<int:pk>/apply/", import_views.import_apply, name="import_apply"),
    path("imports/<int:pk>/errors.csv", import_views.import_errors, name="import_errors"),
    path("<str:code>/", member360_views.member_detail, name="detail"),
    path("<str:code>/points/", views.member_points, name="points"),
    path(
        "<str:code>/privacy/export/", member360_views.member_privacy_export, name="privacy_export"
    ),
    path("<str:code>/privacy/erase/", member360_views.member_privacy_erase, name="privacy_erase"),
]
