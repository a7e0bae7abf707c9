from django.urls import path

from . import views

urlpatterns = [
    path("", views.notification_list, name="notification_list"),
    path("settings/", views.notification_settings, name="notification_settings"),
    path("read-all", views.notification_read_all, name="notification_read_all"),
    path("<int:pk>/open", views.notification_open, name="notification_open"),
    path("<int:pk>/read", views.notification_read, name="notification_read"),
]
