"""The order page's AI actions, under ``/orders/<ref>/`` (mounted before ``orders.urls``)."""

from django.urls import path

from . import approval_views, order_views

urlpatterns = [
    path(
        "<str:order_ref>/images/<int:image_id>/retry",
        order_views.retry_image,
        name="order_retry_image",
    ),
    path("<str:order_ref>/retry-failed/", order_views.retry_failed, name="order_retry_failed"),
    path("<str:order_ref>/reprocess/", order_views.reprocess, name="order_reprocess"),
    # Hold for approval: the before/after page and its answers (docs/approval.md).
    path("<str:order_ref>/approval/", approval_views.approval_page, name="order_approval"),
    path("<str:order_ref>/approval/approve", approval_views.approve_all, name="approval_approve"),
    path("<str:order_ref>/approval/reject", approval_views.reject_all, name="approval_reject"),
    path(
        "<str:order_ref>/approval/images/<int:image_id>/approve",
        approval_views.approve_one,
        name="approval_image_approve",
    ),
    path(
        "<str:order_ref>/approval/images/<int:image_id>/reject",
        approval_views.reject_one,
        name="approval_image_reject",
    ),
    path(
        "<str:order_ref>/approval/images/<int:image_id>/redo",
        approval_views.redo_one,
        name="approval_image_redo",
    ),
    path(
        "<str:order_ref>/approval/images/<int:image_id>/upload",
        approval_views.upload_one,
        name="approval_image_upload",
    ),
    path(
        "<str:order_ref>/approval/images/<int:image_id>/<str:kind>",
        approval_views.approval_file,
        name="approval_file",
    ),
]
