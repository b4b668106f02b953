from django.urls import path

from accounts import views

urlpatterns = [
    path("settings/stores/", views.store_list, name="store_list"),
    path("settings/stores/new/", views.store_edit, name="store_new"),
    path("settings/stores/<int:pk>/", views.store_edit, name="store_edit"),
    path("settings/staff/", views.staff_list, name="staff_list"),
    path("settings/staff/new/", views.staff_edit, name="staff_new"),
    path("settings/staff/<int:pk>/", views.staff_edit, name="staff_edit"),
    path("settings/api-keys/", views.apikey_list, name="apikey_list"),
    path("settings/api-keys/<int:pk>/revoke/", views.apikey_revoke, name="apikey_revoke"),
    path("audit/", views.audit_list, name="audit_list"),
]
