"""The URL configuration: scrm's own routes, then each shell as the apps registered it
(``scrm.shells``)."""

from django.contrib import admin
from django.urls import include, path

from scrm import shells, views
from scrm.api_urls import urlpatterns as api_urlpatterns

urlpatterns = [
    path("", views.home, name="home"),
    path("healthz", views.healthz, name="healthz"),
    path("i18n/", include("django.conf.urls.i18n")),
    path("accounts/", include(shells.shell_patterns("auth"))),
    path("console/", include(shells.shell_urlpatterns("console"))),
    path("counter/", include(shells.shell_urlpatterns("counter"))),
    path("portal/", include(shells.shell_urlpatterns("portal"))),
    path("api/v1/", include((api_urlpatterns + shells.shell_patterns("api"), "api"))),
    # Reached without signing in: links in messages (unsubscribe) and providers' callbacks.
    path("public/", include(shells.shell_urlpatterns("public"))),
    path("admin/", admin.site.urls),
]

handler400 = "scrm.views.error_400"
handler403 = "scrm.views.error_403"
handler404 = "scrm.views.error_404"
handler500 = "scrm.views.error_500"
