"""The order page's AI actions, under ``/orders/<ref>/`` (mounted before ``orders.urls``)."""

from django.urls import path

from . import order_views

urlpatterns = [
    path(
        "<str:order_ref>/images/<int:image_id>/retry",
        order_views.retry_image,
        name="order_retry_image",
    ),
    path("<str:order_ref>/retry-failed/", order_views.retry_failed, name="order_retry_failed"),
    path("<str:order_ref>/reprocess/", order_views.reprocess, name="order_reprocess"),
]
