"""Every page and endpoint of the order intake, per role: allowed, 403, 404 or sign-in.

The subject order belongs to the plain User; a Manager and an Admin see and
work on every order, a Viewer only looks, a user without a role sees nothing,
and an anonymous visitor is sent to sign in (pages) or refused (script endpoints).
"""

from __future__ import annotations

import json

import pytest

from orders.models import Upload
from tests.conftest import orders_of_customer
from tests.orders.pages.conftest import ROLES

pytestmark = pytest.mark.django_db

LOGIN = "/accounts/login/"

#: role -> expected status per check; "login" means a redirect to the sign-in page.
MATRIX = {
    #            dashboard list  new-get new-post detail file  json  up-create up-status up-patch
    "Admin": (200, 200, 200, 302, 200, 200, 200, 201, 404, 404),
    "Manager": (200, 200, 200, 302, 200, 200, 200, 201, 404, 404),
    "User": (200, 200, 200, 302, 200, 200, 200, 201, 200, 200),
    "Viewer": (200, 200, 403, 403, 200, 200, 200, 403, 403, 403),
    "norole": (200, 200, 403, 403, 404, 404, 404, 404, 404, 404),
    "anonymous": ("login", "login", "login", "login", "login", "login", 403, 403, 403, 403),
}
CHECKS = (
    "dashboard",
    "list",
    "new_get",
    "new_post",
    "detail",
    "file",
    "images_json",
    "upload_create",
    "upload_status",
    "upload_patch",
)


@pytest.fixture
def subject(users, own_order, make_image, with_renditions):
    image = with_renditions(make_image(own_order))
    upload = Upload.objects.create(
        order=own_order, created_by=users["User"], filename="a.jpg", size=4
    )
    return own_order, image, upload


def _call(client, check, order, image, upload, event):
    ref = order.order_ref
    if check == "dashboard":
        return client.get("/")
    if check == "list":
        return client.get("/orders/")
    if check == "new_get":
        return client.get("/orders/new/")
    if check == "new_post":
        return client.post(
            "/orders/new/", {"event_id": event.event_id, "customer_name": "Matrix customer"}
        )
    if check == "detail":
        return client.get(f"/orders/{ref}/")
    if check == "file":
        return client.get(f"/orders/{ref}/images/{image.pk}/thumbnail")
    if check == "images_json":
        return client.get(f"/orders/{ref}/images.json")
    if check == "upload_create":
        return client.post(
            f"/orders/{ref}/uploads/",
            json.dumps({"filename": "x.jpg", "size": 4}),
            content_type="application/json",
        )
    if check == "upload_status":
        return client.head(f"/orders/{ref}/uploads/{upload.pk}/")
    if check == "upload_patch":
        return client.generic(
            "PATCH",
            f"/orders/{ref}/uploads/{upload.pk}/",
            b"ab",
            content_type="application/offset+octet-stream",
            headers={"Upload-Offset": "0"},
        )
    raise AssertionError(check)


@pytest.mark.parametrize("who", ROLES)
@pytest.mark.parametrize("check", CHECKS)
def test_role_matrix(as_role, subject, event, media_root, who, check):
    order, image, upload = subject
    client = as_role(who)
    expected = MATRIX[who][CHECKS.index(check)]
    response = _call(client, check, order, image, upload, event)
    if expected == "login":
        assert response.status_code == 302, (who, check)
        assert response["Location"].startswith(LOGIN)
        return
    assert response.status_code == expected, (who, check, response.content[:200])
    if check.startswith("upload") or check == "images_json":
        if check != "upload_status" or expected != 200:  # HEAD has no body
            assert response["Content-Type"] == "application/json"
        if expected >= 400 and check != "upload_status":
            assert response.json()["error"]
    if check == "new_post" and expected == 302:
        (created,) = orders_of_customer("Matrix customer")
        assert response["Location"] == f"/orders/{created.order_ref}/"


@pytest.mark.parametrize("who", ["User", "norole"])
def test_foreign_order_is_404_everywhere(as_role, users, foreign_order, make_image, who):
    image = make_image(foreign_order)
    client = as_role(who)
    ref = foreign_order.order_ref
    upload = Upload.objects.create(
        order=foreign_order, created_by=users["other"], filename="a.jpg", size=4
    )
    for url in (
        f"/orders/{ref}/",
        f"/orders/{ref}/images.json",
        f"/orders/{ref}/images/{image.pk}/original",
        f"/orders/{ref}/images/{image.pk}/preview",
        f"/orders/{ref}/uploads/{upload.pk}/",
    ):
        assert client.get(url).status_code == 404, url
    response = client.post(
        f"/orders/{ref}/uploads/", json.dumps({"filename": "x.jpg", "size": 1}), "application/json"
    )
    assert response.status_code == 404


def test_new_order_link_only_for_those_who_may_create(as_role, own_order):
    for who, shown in (("User", True), ("Viewer", False), ("norole", False)):
        html = as_role(who).get("/").content.decode()
        assert ('href="/orders/new/"' in html) is shown, who


def test_upload_panel_only_for_those_who_may_upload(as_role, own_order):
    for who, shown in (("User", True), ("Manager", True), ("Viewer", False)):
        html = as_role(who).get(f"/orders/{own_order.order_ref}/").content.decode()
        assert ('id="dropzone"' in html) is shown, who
        assert ("js/upload.js" in html) is shown, who
        assert "js/order.js" in html
