"""The order page's actions, per role: edit details, cancel, retry failed images, reprocess.

Every action is checked twice, in the view and in the service: a Viewer sees no
button and gets 403 on a POST; a User acts on own and assigned orders only (404
for others' orders, which they cannot see); Managers and Admins act on all.
Refusals are sentences, shown on the page, and change nothing.
"""

from __future__ import annotations

import datetime as dt

import pytest
from django.utils import timezone

from ai_processing import services as ai_services
from ai_processing.models import ProcessingPreset
from orders import services
from orders.models import Image, Order

pytestmark = pytest.mark.django_db

#: who → (the order they act on, the status code every action answers with)
ALLOWED, HIDDEN, FORBIDDEN = "allowed", 404, 403
ROLE_CASES = [
    ("Admin", "own", ALLOWED),
    ("Manager", "own", ALLOWED),
    ("User", "own", ALLOWED),
    ("User", "assigned", ALLOWED),
    ("User", "foreign", HIDDEN),
    ("Viewer", "own", FORBIDDEN),
]


@pytest.fixture
def subject(users, make_order):
    """``subject(which)``: an order the plain User created ("own"), was assigned ("assigned"),
    or has nothing to do with ("foreign")."""

    def _make(which: str) -> Order:
        if which == "own":
            return make_order(users["User"], customer_name="Own Customer")
        if which == "assigned":
            return make_order(users["Manager"], assigned_to=users["User"])
        return make_order(users["other"], customer_name="Foreign Customer")

    return _make


@pytest.fixture
def preset(db):
    return ProcessingPreset.objects.create(name="Warm prints", slug="warm-prints", operations=[])


@pytest.fixture
def other_preset(db):
    return ProcessingPreset.objects.create(name="Cool prints", slug="cool-prints", operations=[])


def _status(order: Order, status: str, **fields) -> Order:
    Order.objects.filter(pk=order.pk).update(status=status, **fields)
    order.refresh_from_db()
    return order


def _image(make_image, order, status, *, name="photo.jpg", ingested=True, **fields) -> Image:
    image = make_image(order, status, name=name)
    if ingested:
        fields.setdefault("ingested_at", timezone.now())
    if fields:
        Image.objects.filter(pk=image.pk).update(**fields)
        image.refresh_from_db()
    services.refresh_image_counters(order.pk)
    return image


def _messages(response) -> list[str]:
    return [str(m) for m in response.wsgi_request._messages]


# --- who may do what ------------------------------------------------------------------------


@pytest.mark.parametrize(("who", "which", "expected"), ROLE_CASES)
def test_edit_details_per_role(client, users, subject, who, which, expected):
    order = subject(which)
    client.force_login(users[who])
    url = f"/orders/{order.order_ref}/edit/"
    get = client.get(url)
    date = timezone.localtime(order.order_date).strftime("%Y-%m-%dT%H:%M")
    post = client.post(
        url, {"customer_name": "Renamed", "customer_email": "", "notes": "n", "order_date": date}
    )
    order.refresh_from_db()
    if expected == ALLOWED:
        assert get.status_code == 200
        assert post.status_code == 302
        assert order.customer_name == "Renamed"
    else:
        assert (get.status_code, post.status_code) == (expected, expected)
        assert order.customer_name != "Renamed"


@pytest.mark.parametrize(("who", "which", "expected"), ROLE_CASES)
def test_cancel_per_role(client, users, subject, who, which, expected):
    order = subject(which)
    client.force_login(users[who])
    url = f"/orders/{order.order_ref}/cancel/"
    get = client.get(url)
    post = client.post(url, {"reason": "customer changed their mind"})
    order.refresh_from_db()
    if expected == ALLOWED:
        assert get.status_code == 200
        assert "cannot be undone" in get.content.decode()
        assert post.status_code == 302
        assert order.status == Order.Status.CANCELLED
        assert order.timeline.filter(payload__reason="customer changed their mind").exists()
    else:
        assert (get.status_code, post.status_code) == (expected, expected)
        assert order.status == Order.Status.DRAFT


@pytest.mark.parametrize(("who", "which", "expected"), ROLE_CASES)
def test_retry_per_role(
    client, users, subject, make_image, who, which, expected, django_capture_on_commit_callbacks
):
    order = _status(subject(which), Order.Status.NEEDS_REVIEW)
    one = _image(make_image, order, Image.Status.FAILED, name="a.jpg")
    two = _image(make_image, order, Image.Status.FAILED, name="b.jpg", ingested=False)
    client.force_login(users[who])
    with django_capture_on_commit_callbacks() as queued:
        single = client.post(f"/orders/{order.order_ref}/images/{one.pk}/retry")
        every = client.post(f"/orders/{order.order_ref}/retry-failed/")
    one.refresh_from_db()
    two.refresh_from_db()
    if expected == ALLOWED:
        assert (single.status_code, every.status_code) == (302, 302)
        assert one.status == Image.Status.INGESTED  # the AI step again
        assert two.status == Image.Status.UPLOADED  # ingest again
        assert len(queued) >= 2
    else:
        assert (single.status_code, every.status_code) == (expected, expected)
        assert (one.status, two.status) == (Image.Status.FAILED, Image.Status.FAILED)


@pytest.mark.parametrize(("who", "which", "expected"), ROLE_CASES)
def test_reprocess_per_role(client, users, subject, make_image, preset, who, which, expected):
    order = _status(subject(which), Order.Status.NEEDS_REVIEW)
    image = _image(make_image, order, Image.Status.NEEDS_REVIEW)
    Image.objects.filter(pk=image.pk).update(ai_metadata={"trail": {"edit": []}})
    client.force_login(users[who])
    response = client.post(f"/orders/{order.order_ref}/reprocess/", {"preset": preset.slug})
    order.refresh_from_db()
    image.refresh_from_db()
    if expected == ALLOWED:
        assert response.status_code == 302
        assert order.preset == preset
        assert order.status == Order.Status.PROCESSING
        assert image.status == Image.Status.INGESTED
    else:
        assert response.status_code == expected
        assert order.preset is None
        assert image.status == Image.Status.NEEDS_REVIEW


@pytest.mark.parametrize(
    ("call", "kwargs"),
    [
        (services.update_order, {"notes": "x"}),
        (services.change_order_status, {"new_status": Order.Status.CANCELLED}),
    ],
)
def test_the_services_refuse_a_viewer_and_a_stranger_too(users, own_order, call, kwargs):
    from django.core.exceptions import PermissionDenied

    for who in ("Viewer", "other"):
        with pytest.raises(PermissionDenied):
            call(own_order, actor=users[who], **kwargs)


def test_ai_services_refuse_a_viewer_and_a_stranger_too(users, own_order, make_image, preset):
    from django.core.exceptions import PermissionDenied

    _status(own_order, Order.Status.NEEDS_REVIEW)
    image = _image(make_image, own_order, Image.Status.FAILED)
    for who in ("Viewer", "other"):
        with pytest.raises(PermissionDenied):
            ai_services.retry_failed_image(image, actor=users[who])
        with pytest.raises(PermissionDenied):
            ai_services.retry_failed_images(own_order, actor=users[who])
        with pytest.raises(PermissionDenied):
            ai_services.reprocess_order(own_order, actor=users[who], preset=preset)
    image.refresh_from_db()
    assert image.status == Image.Status.FAILED


def test_viewer_sees_the_facts_and_no_buttons(client, users, own_order, make_image, preset):
    _status(own_order, Order.Status.NEEDS_REVIEW)
    _image(make_image, own_order, Image.Status.FAILED, name="broken.jpg")
    _image(make_image, own_order, Image.Status.PROCESSED, name="fine.jpg")
    client.force_login(users["Viewer"])
    html = client.get(f"/orders/{own_order.order_ref}/").content.decode()
    assert "What happens next" in html
    assert "broken.jpg" in html  # the facts
    for button in ("Edit details", "Cancel order", ">Retry<", "Retry all failed", "Reprocess"):
        assert button not in html
    assert "Your role does not add images to this order." in html


def test_user_sees_every_action_on_their_order(client, users, own_order, make_image, preset):
    _status(own_order, Order.Status.NEEDS_REVIEW)
    _image(make_image, own_order, Image.Status.FAILED, name="broken.jpg")
    _image(make_image, own_order, Image.Status.FAILED, name="broken2.jpg")
    _image(make_image, own_order, Image.Status.PROCESSED, name="fine.jpg")
    client.force_login(users["User"])
    html = client.get(f"/orders/{own_order.order_ref}/").content.decode()
    for button in ("Edit details", "Cancel order", ">Retry<", "Retry all failed", ">Reprocess<"):
        assert button in html
    assert 'id="dropzone"' in html


# --- edit details -------------------------------------------------------------------------------


def test_edit_shows_errors_as_sentences_and_keeps_the_input(user_client, own_order):
    response = user_client.post(
        f"/orders/{own_order.order_ref}/edit/",
        {"customer_name": "  ", "customer_email": "not-an-address", "notes": "kept"},
    )
    assert response.status_code == 400
    html = response.content.decode()
    assert "Enter the customer&#x27;s name." in html
    assert "Enter a valid email address." in html
    assert "kept" in html
    assert "Enter the order date and time." in html
    own_order.refresh_from_db()
    assert own_order.notes == ""


def test_edit_in_draft_changes_date_and_preset(user_client, own_order, preset):
    response = user_client.post(
        f"/orders/{own_order.order_ref}/edit/",
        {
            "customer_name": "Ada",
            "customer_email": "ADA@example.com",
            "order_date": "2026-12-04T09:21",
            "preset": preset.pk,
            "notes": "",
        },
    )
    assert response.status_code == 302
    own_order.refresh_from_db()
    assert own_order.customer_email == "ada@example.com"
    assert own_order.preset == preset
    local = timezone.localtime(own_order.order_date)
    assert (local.year, local.month, local.day, local.hour, local.minute) == (2026, 12, 4, 9, 21)
    entry = own_order.timeline.order_by("-seq").first()
    assert entry.kind == "order.updated"
    assert set(entry.payload["fields"]) == {
        "customer_name",
        "customer_email",
        "order_date",
        "preset",
    }


def test_untouched_date_is_no_change(user_client, own_order):
    page = user_client.get(f"/orders/{own_order.order_ref}/edit/")
    shown = page.context["form"]["order_date"].value()
    local = timezone.localtime(own_order.order_date).strftime("%Y-%m-%dT%H:%M")
    assert shown.strftime("%Y-%m-%dT%H:%M") == local
    user_client.post(
        f"/orders/{own_order.order_ref}/edit/",
        {"customer_name": own_order.customer_name, "order_date": local, "notes": "only notes"},
    )
    entry = own_order.timeline.order_by("-seq").first()
    assert entry.payload["fields"] == ["notes"]


def test_once_processing_the_date_and_preset_are_not_offered_and_refused(
    user_client, users, own_order, preset
):
    _status(own_order, Order.Status.PROCESSING)
    form = user_client.get(f"/orders/{own_order.order_ref}/edit/").context["form"]
    assert "order_date" not in form.fields
    assert "preset" not in form.fields
    from utilities.errors import OrderError

    with pytest.raises(OrderError, match=r"date .* can no longer change"):
        services.update_order(
            own_order, actor=users["User"], order_date=timezone.now() - dt.timedelta(days=3)
        )
    with pytest.raises(OrderError, match="preset can no longer change"):
        services.update_order(own_order, actor=users["User"], preset=preset)


def test_closed_order_cannot_be_edited(user_client, own_order):
    _status(own_order, Order.Status.COMPLETED)
    page = user_client.get(f"/orders/{own_order.order_ref}/edit/")
    assert "its details can no longer be edited" in page.content.decode()
    response = user_client.post(
        f"/orders/{own_order.order_ref}/edit/", {"customer_name": "Late change"}
    )
    assert response.status_code == 400
    own_order.refresh_from_db()
    assert own_order.customer_name == "Own Customer"
    detail = user_client.get(f"/orders/{own_order.order_ref}/").content.decode()
    assert "Edit details" not in detail


# --- cancel ---------------------------------------------------------------------------------------


def test_cancel_of_a_finished_order_is_refused_with_a_sentence(user_client, own_order):
    _status(own_order, Order.Status.COMPLETED)
    page = user_client.get(f"/orders/{own_order.order_ref}/cancel/").content.decode()
    assert "a finished order cannot be cancelled" in page
    assert "Cancel the order</button>" not in page
    response = user_client.post(f"/orders/{own_order.order_ref}/cancel/", {"reason": ""})
    assert response.status_code == 302
    assert "a finished order cannot be cancelled" in " ".join(_messages(response))
    own_order.refresh_from_db()
    assert own_order.status == Order.Status.COMPLETED


def test_cancelled_order_says_nothing_more_happens(user_client, own_order):
    response = user_client.post(
        f"/orders/{own_order.order_ref}/cancel/", {"reason": ""}, follow=True
    )
    html = response.content.decode()
    assert f"Order {own_order.order_ref} is cancelled." in html
    assert "Cancelled. Nothing more happens to it." in html
    assert 'id="dropzone"' not in html
    assert "is cancelled; no more images can be added." in html


# --- why review, what happens next ----------------------------------------------------------------


def test_needs_review_says_which_images_why_and_who_acts(
    client, users, own_order, make_image, make_order
):
    earlier = make_order(users["other"])
    original = _image(make_image, earlier, Image.Status.PROCESSED, name="IMG_0001.jpg")
    _status(own_order, Order.Status.NEEDS_REVIEW)
    _image(
        make_image,
        own_order,
        Image.Status.NEEDS_REVIEW,
        name="IMG_0001 copy.jpg",
        duplicate_of=original,
        status_reason=f"Looks like IMG_0001.jpg in {earlier.order_ref}",
    )
    _image(
        make_image,
        own_order,
        Image.Status.NEEDS_REVIEW,
        name="dark.jpg",
        status_reason="No AI provider could edit: runware unavailable; gemini circuit_open",
        ai_metadata={
            "trail": {
                "analyze": [{"provider": "runware", "outcome": "ok"}],
                "edit": [
                    {"provider": "runware", "outcome": "unavailable", "reason": "timeout"},
                    {"provider": "gemini", "outcome": "circuit_open", "reason": "open"},
                ],
            }
        },
    )
    client.force_login(users["User"])
    html = client.get(f"/orders/{own_order.order_ref}/").content.decode()
    assert "2 images need a person&#x27;s decision before the order can go on" in html
    assert "Why 2 images need review" in html
    assert (
        f"It looks very much like IMG_0001.jpg in order {earlier.order_ref}; a person decides "
        "whether it is a duplicate." in html
    )
    assert (
        "No AI service could edit it: Runware could not be reached and Gemini was paused "
        "after repeated failures." in html
    )
    assert "A manager reviews these images" in html
    assert "/review/" not in html.split('id="actions"')[1].split("</section>")[0]

    client.force_login(users["Manager"])
    html = client.get(f"/orders/{own_order.order_ref}/").content.decode()
    assert "You answer these in the review queue" in html
    assert f"/review/?q={own_order.order_ref}" in html


def test_next_step_follows_the_order(user_client, own_order, make_image):
    page = user_client.get(f"/orders/{own_order.order_ref}/").content.decode()
    assert "No images yet. Add the order&#x27;s photos" in page
    _status(own_order, Order.Status.PROCESSING)
    _image(make_image, own_order, Image.Status.PROCESSED)
    _image(make_image, own_order, Image.Status.INGESTED)
    fragment = user_client.get(f"/orders/{own_order.order_ref}/actions/")
    assert fragment.status_code == 200
    assert fragment["Cache-Control"] == "no-store"
    assert "AI processing is under way: 1 of 2 images done." in fragment.content.decode()


def test_actions_fragment_follows_the_access_rule(client, users, own_order):
    url = f"/orders/{own_order.order_ref}/actions/"
    client.force_login(users["other"])
    assert client.get(url).status_code == 404
    client.force_login(users["Viewer"])
    html = client.get(url).content.decode()
    assert "What happens next" in html
    assert "Edit details" not in html


# --- add images -----------------------------------------------------------------------------------


def test_handed_to_the_pmr_the_page_says_why_no_images_can_be_added(
    user_client, own_order, upload_api
):
    _status(own_order, Order.Status.PROCESSING, ai_processed=True)
    html = user_client.get(f"/orders/{own_order.order_ref}/").content.decode()
    assert 'id="dropzone"' not in html
    assert "has been handed to the PMR delivery; no more images can be added" in html
    response = upload_api.create(own_order)
    assert response.status_code == 409
    assert "Create a new order for more images." in response.json()["error"]["message"]


# --- retry ----------------------------------------------------------------------------------------


def test_retry_is_refused_once_the_order_went_to_the_pmr(user_client, own_order, make_image):
    _status(own_order, Order.Status.PROCESSING, ai_processed=True)
    image = _image(make_image, own_order, Image.Status.FAILED, name="late.jpg")
    html = user_client.get(f"/orders/{own_order.order_ref}/").content.decode()
    assert ">Retry<" not in html
    assert "can no longer join it. Add them to a new order." in html
    response = user_client.post(f"/orders/{own_order.order_ref}/images/{image.pk}/retry")
    assert "can no longer join it" in " ".join(_messages(response))
    image.refresh_from_db()
    assert image.status == Image.Status.FAILED


def test_retry_of_an_image_that_has_not_failed_says_so(user_client, own_order, make_image):
    _status(own_order, Order.Status.PROCESSING)
    image = _image(make_image, own_order, Image.Status.PROCESSED, name="ok.jpg")
    response = user_client.post(f"/orders/{own_order.order_ref}/images/{image.pk}/retry")
    assert "ok.jpg has not failed; nothing to retry." in _messages(response)


def test_retry_of_an_image_of_another_order_is_not_found(
    user_client, own_order, users, make_order, make_image
):
    theirs = make_order(users["User"])
    image = _image(make_image, theirs, Image.Status.FAILED)
    response = user_client.post(f"/orders/{own_order.order_ref}/images/{image.pk}/retry")
    assert response.status_code == 404


def test_ai_retry_keeps_the_analysis_and_queues_the_image(
    users, own_order, make_image, django_capture_on_commit_callbacks
):
    _status(own_order, Order.Status.NEEDS_REVIEW)
    image = _image(
        make_image,
        own_order,
        Image.Status.FAILED,
        ai_analyzed=True,
        ai_metadata={"analyze": {"facts": {}}, "attempts": 3, "failure": {"detail": "x"}},
    )
    with django_capture_on_commit_callbacks() as queued:
        ai_services.retry_failed_image(image, actor=users["User"])
    image.refresh_from_db()
    assert image.status == Image.Status.ANALYZED  # resumes after the stored analysis
    assert image.ai_analyzed
    assert image.ai_metadata == {"analyze": {"facts": {}}}
    assert len(queued) >= 1
    assert own_order.timeline.filter(payload__reason="AI processing retried").exists()


# --- reprocess ------------------------------------------------------------------------------------


def test_reprocess_redoes_what_can_be_redone_and_keeps_duplicate_holds(
    users, own_order, make_image, make_order, preset, other_preset
):
    services.update_order(own_order, actor=users["User"], preset=preset)
    _status(own_order, Order.Status.NEEDS_REVIEW)
    done = _image(
        make_image,
        own_order,
        Image.Status.PROCESSED,
        name="done.jpg",
        ai_metadata={"trail": {}, "caption": {"caption": "old"}, "edit": {"model": "m"}},
    )
    reviewed = _image(
        make_image,
        own_order,
        Image.Status.NEEDS_REVIEW,
        name="reviewed.jpg",
        ai_metadata={"trail": {"edit": []}, "preset_override": "warm-prints"},
    )
    failed = _image(make_image, own_order, Image.Status.FAILED, name="failed.jpg")
    never = _image(make_image, own_order, Image.Status.FAILED, name="never.jpg", ingested=False)
    earlier = _image(make_image, make_order(users["other"]), Image.Status.PROCESSED)
    hold = _image(
        make_image, own_order, Image.Status.NEEDS_REVIEW, name="twin.jpg", duplicate_of=earlier
    )
    count = ai_services.reprocess_order(own_order, actor=users["User"], preset=other_preset)
    assert count == 3
    for image in (done, reviewed, failed, never, hold):
        image.refresh_from_db()
    assert [done.status, reviewed.status, failed.status] == [Image.Status.INGESTED] * 3
    assert never.status == Image.Status.FAILED  # its ingest failed: a retry, not a redo
    assert hold.status == Image.Status.NEEDS_REVIEW  # a manager decides on duplicates
    assert done.ai_metadata == {"trail": {}, "redo": True}
    assert "preset_override" not in reviewed.ai_metadata
    own_order.refresh_from_db()
    assert own_order.preset == other_preset
    assert own_order.status == Order.Status.PROCESSING
    assert own_order.timeline.filter(kind="order.preset_changed").count() == 1


@pytest.mark.parametrize(
    ("setup", "sentence"),
    [
        ("in_work", "1 image of {ref} is still being processed; reprocess once it is done."),
        ("completed", "Order {ref} is completed; its images can no longer be reprocessed."),
        ("delivering", "Order {ref} has been handed to the PMR delivery"),
    ],
)
def test_reprocess_refusals_are_sentences_and_change_nothing(
    user_client, users, own_order, make_image, preset, setup, sentence
):
    _image(make_image, own_order, Image.Status.PROCESSED, name="done.jpg")
    if setup == "in_work":
        _status(own_order, Order.Status.PROCESSING)
        _image(make_image, own_order, Image.Status.INGESTED, name="busy.jpg")
    elif setup == "completed":
        _status(own_order, Order.Status.COMPLETED)
    else:
        _status(own_order, Order.Status.PROCESSING, ai_processed=True)
    response = user_client.post(
        f"/orders/{own_order.order_ref}/reprocess/", {"preset": preset.slug}
    )
    assert response.status_code == 302
    assert sentence.format(ref=own_order.order_ref) in " ".join(_messages(response))
    own_order.refresh_from_db()
    assert own_order.preset is None
    assert not own_order.images.filter(status=Image.Status.INGESTED, original_filename="done.jpg")


def test_reprocess_needs_a_preset(user_client, own_order):
    response = user_client.post(f"/orders/{own_order.order_ref}/reprocess/", {"preset": "nope"})
    assert "Choose the preset to reprocess the images with." in _messages(response)


@pytest.fixture
def user_client(client, users):
    client.force_login(users["User"])
    return client
