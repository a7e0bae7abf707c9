"""Fixtures of the page tests: an order per owner, images with real renditions, upload calls."""

from __future__ import annotations

import io
import json

import pytest
from django.core.files.base import ContentFile
from PIL import Image as PILImage

from orders.models import Image

ROLES = ("Admin", "Manager", "User", "Viewer", "norole", "anonymous")


def jpeg_bytes(size=(40, 30), color=(200, 120, 40)) -> bytes:
    buffer = io.BytesIO()
    PILImage.new("RGB", size, color).save(buffer, "JPEG", quality=70)
    return buffer.getvalue()


@pytest.fixture
def as_role(client, users):
    """Sign the test client in as ``who`` (a key of ``users``, or "anonymous")."""

    def _login(who: str):
        client.logout()
        if who != "anonymous":
            client.force_login(users[who])
        return client

    return _login


@pytest.fixture
def own_order(users, make_order):
    """An order of the plain User (the one the role matrix is about)."""
    return make_order(users["User"], customer_name="Own Customer")


@pytest.fixture
def foreign_order(users, make_order):
    """An order of another User: invisible to "User" and to people without a role."""
    return make_order(users["other"], customer_name="Foreign Customer")


@pytest.fixture
def with_renditions():
    """Give an image a real JPEG thumbnail and preview, as ingest would."""

    def _add(image: Image, *, width: int = 40, height: int = 30) -> Image:
        image.thumbnail.save("t.jpg", ContentFile(jpeg_bytes((20, 15))), save=False)
        image.preview.save("p.jpg", ContentFile(jpeg_bytes((width, height))), save=False)
        image.width, image.height = width, height
        image.save(update_fields=["thumbnail", "preview", "width", "height"])
        return image

    return _add


@pytest.fixture
def upload_api(client):
    """Calls of the resumable upload protocol through the test client."""

    class Api:
        def create(self, order, filename="photo.jpg", size=10, *, body=None, raw=None):
            url = f"/orders/{order.order_ref}/uploads/"
            if raw is not None:
                return client.generic("POST", url, raw, content_type="application/json")
            payload = body if body is not None else {"filename": filename, "size": size}
            return client.post(url, json.dumps(payload), content_type="application/json")

        def url(self, order, upload_id):
            return f"/orders/{order.order_ref}/uploads/{upload_id}/"

        def status(self, order, upload_id, method="get"):
            return getattr(client, method)(self.url(order, upload_id))

        def patch(self, order, upload_id, data: bytes, offset):
            headers = {} if offset is None else {"Upload-Offset": str(offset)}
            return client.generic(
                "PATCH",
                self.url(order, upload_id),
                data,
                content_type="application/offset+octet-stream",
                headers=headers,
            )

    return Api()
