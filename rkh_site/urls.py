"""Top-level URL map: pages, accounts, admin, API and health.

Media (customer photographs) is never served as static files: images are
served by views that apply the order access rule.
"""

from django.contrib import admin
from django.urls import include, path

from . import admin_login, health, metrics_view, pwa

admin.site.site_header = "RKH Photo Orders"
admin.site.site_title = "RKH Photo Orders admin"
admin.site.index_title = "Back office"

urlpatterns = [
    path("healthz", health.healthz, name="healthz"),
    path("healthz/ready", health.ready, name="ready"),
    # Prometheus: METRICS_TOKEN or staff only (rkh_site/metrics_view.py).
    path("metrics", metrics_view.metrics, name="metrics"),
    path("sw.js", pwa.service_worker, name="service_worker"),
    path("manifest.webmanifest", pwa.manifest, name="manifest"),
    path("favicon.ico", pwa.favicon, name="favicon"),
    path("offline/", pwa.offline, name="offline"),
    # Signed in without back-office access: the product's 403, not the admin's sign-in form.
    path("admin/login/", admin_login.login, name="admin_login"),
    path("admin/", admin.site.urls),
    path("accounts/", include("allauth.urls")),
    path("api/v1/", include("rkh_site.api_urls")),
    path("analytics/", include("analytics.urls")),
    path("review/", include("ai_processing.urls")),
    path("pmr/", include("pmr.urls")),
    # The order page's AI actions (retry, reprocess) live with the AI step.
    path("orders/", include("ai_processing.order_urls")),
    path("notifications/", include("notifications.urls")),
    path("", include("orders.urls")),
]

#: An outage of Redis or the database is answered 503 with Retry-After, not 500.
handler500 = "utilities.outages.server_error"
