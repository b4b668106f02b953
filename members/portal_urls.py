from django.urls import path

from members import portal_views, views

app_name = "portal"

urlpatterns = [
    path("", views.portal_home, name="home"),
    path("card/", views.portal_card, name="card"),
    path("account/", views.portal_account, name="account"),
    path("vouchers/", portal_views.portal_vouchers, name="vouchers"),
    path("points/", portal_views.portal_points, name="points"),
    path("rewards/", portal_views.portal_rewards, name="rewards"),
    path("tiers/", portal_views.portal_tiers, name="tiers"),
    path("profile/", portal_views.portal_profile, name="profile"),
    path("preferences/", portal_views.portal_preferences, name="preferences"),
    path("privacy/", portal_views.portal_privacy, name="privacy"),
]
