"""Sign-in, role-scoped home page, sign-out, password reset and keyboard access,
driven through a real Chromium against the live server."""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import Page, expect

from accounts.roles import ADMIN, MANAGER, USER, VIEWER
from orders import services as order_services
from tests.conftest import make_user

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

PASSWORD = "Known-pass-4711"
LOGIN_PATH = "/accounts/login/"
HOME_SCREENSHOT = "/tmp/rkh-home-manager.png"


def _path_re(path: str) -> re.Pattern[str]:
    """Matches a full URL whose path is exactly ``path`` (any query string)."""
    return re.compile(rf"^https?://[^/]+{re.escape(path)}(\?.*)?$")


def sign_in(page: Page, login: str, password: str) -> None:
    """Fill allauth's sign-in form with the keyboard only, then submit with Enter."""
    expect(page).to_have_url(_path_re(LOGIN_PATH))
    # allauth labels the field "Login" (placeholder "Username or email").
    login_box = page.get_by_label("Login", exact=False)
    login_box.focus()
    page.keyboard.press("ControlOrMeta+A")  # replace what a failed attempt left
    page.keyboard.type(login)
    page.keyboard.press("Tab")
    expect(page.get_by_label("Password", exact=False)).to_be_focused()
    page.keyboard.press("ControlOrMeta+A")
    page.keyboard.type(password)
    page.keyboard.press("Enter")


def order_refs_in_table(page: Page) -> set[str]:
    table = page.get_by_test_id("order-table")
    expect(table).to_be_visible()
    return set(table.locator("tbody tr td:first-child").all_inner_texts())


@pytest.mark.parametrize("role", [ADMIN, MANAGER, USER, VIEWER])
def test_sign_in_shows_role_and_the_orders_the_role_may_see(page, live_server, event, role):
    subject = make_user(role, password=PASSWORD)
    boss = make_user(MANAGER)
    colleague = make_user(USER)

    others_order = order_services.create_order(
        actor=colleague, event=event, customer_name="Colleague's customer"
    )
    assigned_order = order_services.create_order(
        actor=boss, event=event, customer_name="Assigned customer", assigned_to=subject
    )
    bosses_order = order_services.create_order(
        actor=boss, event=event, customer_name="Boss's customer"
    )
    own_orders = []
    if role != VIEWER:  # Viewers cannot create orders
        own_orders.append(
            order_services.create_order(actor=subject, event=event, customer_name="Own customer")
        )

    page.goto("/")
    expect(page).to_have_url(_path_re(LOGIN_PATH))
    assert "next=/" in page.url.replace("%2F", "/")
    sign_in(page, subject.username, PASSWORD)

    expect(page).to_have_url(_path_re("/"))
    expect(page.get_by_role("heading", name="Orders", exact=True)).to_be_visible()
    expect(page.get_by_test_id("role")).to_have_text(role)
    expect(page.get_by_test_id("whoami")).to_have_text(subject.username)

    all_refs = {o.order_ref for o in [others_order, assigned_order, bosses_order, *own_orders]}
    if role == USER:
        expected = {assigned_order.order_ref} | {o.order_ref for o in own_orders}
        assert others_order.order_ref not in order_refs_in_table(page)
        assert bosses_order.order_ref not in order_refs_in_table(page)
    else:
        expected = all_refs
    assert order_refs_in_table(page) == expected
    expect(page.get_by_test_id("count-total")).to_have_text(str(len(expected)))

    back_office = page.get_by_role("link", name="Back office")
    if role in (ADMIN, MANAGER):
        expect(back_office).to_be_visible()
    else:
        expect(back_office).to_have_count(0)

    if role == MANAGER:
        page.screenshot(path=HOME_SCREENSHOT, full_page=True)


def test_sign_in_by_email_address(page, live_server, event):
    user = make_user(USER, password=PASSWORD)
    order = order_services.create_order(actor=user, event=event, customer_name="Mine")

    page.goto("/")
    sign_in(page, user.email.upper(), PASSWORD)

    expect(page).to_have_url(_path_re("/"))
    expect(page.get_by_test_id("role")).to_have_text(USER)
    assert order_refs_in_table(page) == {order.order_ref}


def test_wrong_password_shows_an_error_and_stays_on_sign_in(page, live_server):
    user = make_user(VIEWER, password=PASSWORD)

    page.goto(LOGIN_PATH)
    sign_in(page, user.username, PASSWORD + "-wrong")

    expect(page).to_have_url(_path_re(LOGIN_PATH))
    expect(
        page.get_by_text("The username and/or password you specified are not correct.")
    ).to_be_visible()
    expect(page.get_by_test_id("role")).to_have_count(0)
    # The form is still there, ready for another attempt.
    expect(page.get_by_label("Login", exact=False)).to_have_value(user.username)
    expect(page.get_by_label("Password", exact=False)).to_have_value("")


def test_sign_out_ends_the_session(page, live_server):
    user = make_user(MANAGER, password=PASSWORD)
    page.goto("/")
    sign_in(page, user.username, PASSWORD)
    expect(page.get_by_test_id("role")).to_have_text(MANAGER)

    page.get_by_role("button", name="Sign out").click()
    expect(page).to_have_url(_path_re(LOGIN_PATH))
    expect(page.get_by_role("button", name="Sign out")).to_have_count(0)

    page.goto("/")
    expect(page).to_have_url(_path_re(LOGIN_PATH))
    expect(page.get_by_test_id("role")).to_have_count(0)


def test_password_reset_by_email(page, live_server, mailoutbox):
    user = make_user(USER, password=PASSWORD)
    new_password = "Fresh-secret-9321"

    page.goto(LOGIN_PATH)
    page.get_by_role("link", name="Forgot your password?").click()
    expect(page).to_have_url(_path_re("/accounts/password/reset/"))
    page.get_by_label("Email", exact=False).fill(user.email)
    page.get_by_role("button", name="Reset My Password").click()
    expect(page).to_have_url(_path_re("/accounts/password/reset/done/"))

    assert len(mailoutbox) == 1
    message = mailoutbox[0]
    assert message.to == [user.email]
    links = re.findall(r"https?://\S+/accounts/password/reset/key/\S+/", message.body)
    assert len(links) == 1, message.body
    assert links[0].startswith(live_server.url)

    page.goto(links[0])
    expect(page.get_by_role("heading", name="Change Password")).to_be_visible()
    page.get_by_label(re.compile(r"^New Password:?$")).fill(new_password)
    page.get_by_label(re.compile(r"^New Password \(again\):?$")).fill(new_password)
    page.get_by_role("button", name="Change Password").click()
    expect(page.get_by_text("Your password is now changed.")).to_be_visible()

    # The old password no longer works; the new one does.
    page.goto("/")
    sign_in(page, user.username, PASSWORD)
    expect(page).to_have_url(_path_re(LOGIN_PATH))
    sign_in(page, user.username, new_password)
    expect(page).to_have_url(_path_re("/"))
    expect(page.get_by_test_id("role")).to_have_text(USER)


def test_skip_link_is_the_first_tab_stop(page, live_server):
    user = make_user(VIEWER, password=PASSWORD)
    page.goto("/")
    sign_in(page, user.username, PASSWORD)
    expect(page.get_by_test_id("role")).to_have_text(VIEWER)

    page.keyboard.press("Tab")
    skip = page.get_by_role("link", name="Skip to content")
    expect(skip).to_be_focused()
    box = skip.bounding_box()  # moved on screen while focused
    assert box is not None
    assert box["x"] >= 0
    assert box["y"] >= 0

    page.keyboard.press("Enter")
    expect(page.locator("main#main")).to_be_focused()
