from django.urls import path

from members import member360_views, views

app_name = "counter"

urlpatterns = [
    path("", views.counter_index, name="index"),
    path("<str:store_code>/", views.counter_store, name="store"),
    path("<str:store_code>/search/", views.counter_search, name="search"),
    path("<str:store_code>/members/<str:code>/", member360_views.counter_member, name="member"),
]
