from django.urls import path

from . import print_views, views

urlpatterns = [
    path("", views.home, name="home"),
    path("orders/", views.order_list, name="order_list"),
    path("orders/new/", views.order_create, name="order_create"),
    path("orders/<str:order_ref>/", views.order_detail, name="order_detail"),
    path("orders/<str:order_ref>/images.json", views.order_images_json, name="order_images_json"),
    path("orders/<str:order_ref>/edit/", views.order_edit, name="order_edit"),
    path("orders/<str:order_ref>/cancel/", views.order_cancel, name="order_cancel"),
    path(
        "orders/<str:order_ref>/actions/",
        views.order_actions_fragment,
        name="order_actions_fragment",
    ),
    path(
        "orders/<str:order_ref>/deliver-without-failed/",
        views.order_deliver_without_failed,
        name="order_deliver_without_failed",
    ),
    path("orders/<str:order_ref>/submit/", views.order_submit, name="order_submit"),
    path(
        "orders/<str:order_ref>/images/<int:image_id>/thumbnail",
        views.image_file,
        {"kind": "thumbnail"},
        name="image_thumbnail",
    ),
    path(
        "orders/<str:order_ref>/images/<int:image_id>/preview",
        views.image_file,
        {"kind": "preview"},
        name="image_preview",
    ),
    path(
        "orders/<str:order_ref>/images/<int:image_id>/original",
        views.image_file,
        {"kind": "original"},
        name="image_original",
    ),
    path(
        "orders/<str:order_ref>/images/<int:image_id>/prints/",
        print_views.image_prints,
        name="image_prints",
    ),
    path("orders/<str:order_ref>/uploads/", views.upload_create, name="upload_create"),
    path(
        "orders/<str:order_ref>/uploads/<uuid:upload_id>/",
        views.upload_detail,
        name="upload_detail",
    ),
]
