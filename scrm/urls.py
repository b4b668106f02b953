from django.contrib import admin
from django.urls import include, path, re_path

from scrm import views

console_patterns = (
    [
        path("", views.console_home, name="home"),
        path("settings/", views.console_settings, name="settings"),
        re_path(
            r"^(?P<section>segments|campaigns|community)/$", views.console_section, name="section"
        ),
    ],
    "console",
)

urlpatterns = [
    path("", views.home, name="home"),
    path("healthz", views.healthz, name="healthz"),
    path("i18n/", include("django.conf.urls.i18n")),
    path("accounts/", include("allauth.urls")),
    path("console/", include(console_patterns)),
    path("console/", include("accounts.urls")),
    path("console/members/", include("members.urls")),
    path("counter/", include("members.counter_urls")),
    path("portal/", include("members.portal_urls")),
    path("api/v1/", include("scrm.api_urls")),
    path("admin/", admin.site.urls),
]

handler403 = "scrm.views.error_403"
handler404 = "scrm.views.error_404"
handler500 = "scrm.views.error_500"
