"""The sign-in pages under /accounts/: only those the product uses. Members sign in with their
phone and an SMS code; staff with their work email and password, which they may change, or reset
by email. allauth's other pages (sign-up, e-mail and phone management, setting a password,
re-authentication) are not served: a member who set a password could otherwise sign in on the
staff form without a code."""

from allauth.account import views as allauth_views
from django.urls import path, re_path

from accounts import views

urlpatterns = [
    path("login/", allauth_views.login, name="account_login"),
    path("logout/", allauth_views.logout, name="account_logout"),
    path("inactive/", allauth_views.account_inactive, name="account_inactive"),
    path("login/code/", allauth_views.request_login_code, name="account_request_login_code"),
    path("login/code/confirm/", views.confirm_sign_in_code, name="account_confirm_login_code"),
    path("password/change/", views.staff_password_change, name="account_change_password"),
    path("password/reset/", views.staff_password_reset, name="account_reset_password"),
    path(
        "password/reset/done/",
        allauth_views.password_reset_done,
        name="account_reset_password_done",
    ),
    re_path(
        r"^password/reset/key/(?P<uidb36>[0-9A-Za-z]+)-(?P<key>.+)/$",
        allauth_views.password_reset_from_key,
        name="account_reset_password_from_key",
    ),
    path(
        "password/reset/key/done/",
        allauth_views.password_reset_from_key_done,
        name="account_reset_password_from_key_done",
    ),
]
