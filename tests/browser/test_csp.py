"""Every page works under the Content Security Policy: a real browser opens each page a role
uses and the policy blocks nothing (no inline script, no style, no asset from elsewhere)."""

from __future__ import annotations

import pytest
from playwright.sync_api import Page

from orders import services as order_services
from tests.conftest import make_user
from tests.live.conftest import session_cookie

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

#: Records what the browser refused (the page's own event, before any script of ours runs).
RECORD_VIOLATIONS = """
window.__csp = [];
document.addEventListener("securitypolicyviolation", (e) => {
  window.__csp.push(`${e.violatedDirective} ${e.blockedURI} ${e.sourceFile}:${e.lineNumber}`);
});
"""

PAGES = {
    "Admin": [
        "/",
        "/orders/",
        "/orders/new/",
        "{order}",
        "{order}edit/",
        "/review/",
        "/analytics/",
        "/notifications/",
        "/notifications/settings/",
        "/admin/",
        "/admin/orders/order/",
        "/admin/orders/order/{pk}/change/",
        "/admin/accounts/user/",
        "/api/v1/docs/",
    ],
    "User": ["/", "{order}", "/notifications/"],
    "Viewer": ["/", "{order}"],
    None: ["/accounts/login/", "/accounts/password/reset/", "/offline/"],
}


def _violations(page: Page, path: str) -> list[str]:
    response = page.goto(path)
    assert response is not None, path
    assert response.status < 400, (path, response.status)
    assert "script-src 'self'" in (response.headers.get("content-security-policy") or ""), path
    page.wait_for_load_state("networkidle")
    return page.evaluate("window.__csp")


@pytest.mark.parametrize("role", list(PAGES))
def test_pages_run_under_the_policy(context, live_server, event, role):
    owner = make_user("User")
    order = order_services.create_order(actor=owner, event=event, customer_name="Ann")
    if role is not None:
        user = owner if role == "User" else make_user(role)
        context.add_cookies(
            [{"name": "sessionid", "value": session_cookie(user), "url": live_server.url}]
        )
    context.add_init_script(RECORD_VIOLATIONS)
    page = context.new_page()
    blocked = {}
    for template in PAGES[role]:
        path = template.format(order=f"/orders/{order.order_ref}/", pk=order.pk)
        found = _violations(page, path)
        if found:
            blocked[path] = found
    assert blocked == {}
