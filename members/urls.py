from django.urls import path

from members import import_views, rules_views, views

app_name = "members"

urlpatterns = [
    path("", views.member_list, name="list"),
    path("rules/", rules_views.rules_edit, name="rules"),
    path("<str:code>/points/", views.member_points, name="points"),
    path("imports/", import_views.import_list, name="import_list"),
    path("imports/<int:pk>/", import_views.import_detail, name="import_detail"),
    path("imports/<int:pk>/apply/", import_views.import_apply, name="import_apply"),
    path("imports/<int:pk>/errors.csv", import_views.import_errors, name="import_errors"),
]
