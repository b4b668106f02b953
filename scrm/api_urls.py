from django.urls import path
from drf_spectacular.views import SpectacularAPIView, SpectacularSwaggerView

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
]
