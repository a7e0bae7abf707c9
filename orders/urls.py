from django.urls import path

from . import views

urlpatterns = [
    path("", views.home, name="home"),
    path("orders/<str:order_ref>/", views.order_detail, name="order_detail"),
]
