from django.urls import path

from . import views

urlpatterns = [
    path("orders/<str:order_ref>/export.zip", views.export_zip, name="pmr_export"),
]
