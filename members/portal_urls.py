from django.urls import path

from members import views

app_name = "portal"

urlpatterns = [
    path("", views.portal_home, name="home"),
    path("card/", views.portal_card, name="card"),
    path("account/", views.portal_account, name="account"),
]
