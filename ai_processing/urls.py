from django.urls import path

from . import views

urlpatterns = [
    path("", views.review_queue, name="review_queue"),
    path("answer", views.review_bulk, name="review_bulk"),
    path("<int:image_id>/approve", views.review_approve, name="review_approve"),
    path("<int:image_id>/reject", views.review_reject, name="review_reject"),
    path("<int:image_id>/redo", views.review_redo, name="review_redo"),
    path("<int:image_id>/upload", views.review_upload, name="review_upload"),
]
