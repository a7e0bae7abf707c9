"""The image grid is in the files' natural name order (IMG_2 before IMG_10), page after page.

The order comes from ``orders.natural.natural_key`` stored as ``Image.name_key``: the
database sorts and pages by it, the browser compares it with ``<`` to place images that
arrive live (tests/browser/test_order_page_live.py). All three must agree.
"""

from __future__ import annotations

import importlib
import random
import re
import string

import pytest
from django.apps import apps as django_apps

from orders import selectors
from orders.models import Image
from orders.natural import natural_key

pytestmark = pytest.mark.django_db

#: Names in the order a person expects, whatever the order they arrived in.
NATURAL = [
    ".hidden",
    "a.jpg",
    "a1.jpg",
    "ab.jpg",
    "DSC_0009.JPG",
    "DSC_0010.JPG",
    "Élan 2.jpg",
    "élan 10.jpg",
    "IMG_1.jpg",
    "img_2.jpg",
    "IMG_9.jpg",
    "IMG_10.jpg",
    "IMG_10a.jpg",
    "IMG_11.jpg",
    "IMG_12 (copy).jpg",
    "photo.jpg",
    "Photo 2.jpg",
    "photo 10.jpg",
    "Zebra.tif",
    "zz.jpg",
    "写真 1.jpg",
]
ARRIVAL = random.Random(10).sample(NATURAL, len(NATURAL))


def test_natural_keys_sort_names_as_people_do():
    assert ARRIVAL != NATURAL
    assert sorted(ARRIVAL, key=natural_key) == NATURAL
    assert sorted(NATURAL) != NATURAL  # plain text order would be wrong
    for name in NATURAL:  # digits and lower-case letters only: every collation agrees
        assert set(natural_key(name)) <= set(string.digits + string.ascii_lowercase)
    assert natural_key("IMG_0002.jpg") == natural_key("img_2.JPG")  # the id breaks the tie
    assert len(natural_key("." * 255)) <= Image._meta.get_field("name_key").max_length


def test_the_database_orders_keys_as_python_and_javascript_do(own_order, make_image):
    for name in ARRIVAL:
        make_image(own_order, name=name)
    by_database = list(
        Image.objects.filter(order=own_order)
        .order_by("name_key", "id")
        .values_list("original_filename", flat=True)
    )
    assert by_database == NATURAL
    keys = list(
        Image.objects.filter(order=own_order)
        .order_by("name_key")
        .values_list("name_key", flat=True)
    )
    assert keys == sorted(keys)  # the collation sorts the keys by their bytes (JavaScript's <)


def test_the_grid_shows_images_in_name_order_not_arrival_order(
    client, users, own_order, make_image
):
    for name in ARRIVAL:
        make_image(own_order, name=name)
    client.force_login(users["User"])
    html = client.get(f"/orders/{own_order.order_ref}/").content.decode()
    shown = re.findall(r'<span class="filename" title="([^"]*)"', html)
    assert [name.replace("&#x27;", "'") for name in shown] == NATURAL
    # Each card carries its key: the page places images that arrive live by it.
    first = Image.objects.get(order=own_order, original_filename=NATURAL[0])
    assert f'data-key="{first.name_key}"' in html


def test_pages_follow_the_name_order_without_gaps_or_repeats(
    client, users, own_order, make_image, monkeypatch
):
    monkeypatch.setattr(selectors, "IMAGE_PAGE_SIZE", 6)
    for name in ARRIVAL:
        make_image(own_order, name=name)
    client.force_login(users["User"])
    url, seen, pages = f"/orders/{own_order.order_ref}/", [], 0
    while url:
        response = client.get(url)
        images = response.context["images"]
        seen += [i.original_filename for i in images]
        html = response.content.decode()
        more = re.search(r'href="(\?images_after=\d+)" rel="next"', html)
        if more:  # the page says where it ends, so live images land on the right page
            assert f'data-until-key="{images[-1].name_key}"' in html
            assert f'data-until-id="{images[-1].pk}"' in html
        else:
            assert 'data-until-key=""' in html
        url = f"/orders/{own_order.order_ref}/{more.group(1)}" if more else ""
        pages += 1
    assert seen == NATURAL
    assert pages == 4  # 21 images, 6 a page


def test_a_page_after_an_image_of_another_order_is_the_first_page(
    client, users, own_order, foreign_order, make_image
):
    mine = [make_image(own_order, name=n) for n in ("IMG_2.jpg", "IMG_1.jpg")]
    theirs = make_image(foreign_order, name="IMG_0.jpg")
    client.force_login(users["User"])
    response = client.get(f"/orders/{own_order.order_ref}/?images_after={theirs.pk}")
    assert [i.pk for i in response.context["images"]] == [mine[1].pk, mine[0].pk]
    assert response.context["images_after"] == 0
    assert response.context["last_image_id"] == mine[1].pk  # the newest, for live arrivals


def test_the_images_json_carries_the_sort_key(client, users, own_order, make_image):
    image = make_image(own_order, name="IMG_10.jpg")
    client.force_login(users["User"])
    body = client.get(f"/orders/{own_order.order_ref}/images.json?after=0").json()
    assert body["images"][0]["sort_key"] == image.name_key == natural_key("IMG_10.jpg")


def test_existing_images_get_their_keys_from_the_migration(own_order, make_image):
    image = make_image(own_order, name="IMG_10.jpg")
    Image.objects.filter(pk=image.pk).update(name_key="")
    migration = importlib.import_module("orders.migrations.0005_image_name_order_and_labels")
    migration.fill_name_keys(django_apps, None)
    image.refresh_from_db()
    assert image.name_key == natural_key("IMG_10.jpg")
