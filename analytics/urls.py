from django.urls import path

from . import views

urlpatterns = [
    path("", views.dashboard, name="analytics"),
    path("data.json", views.dashboard_json, name="analytics_json"),
    path("export.csv", views.dashboard_csv, name="analytics_csv"),
]
