"""The notification centre's pages: the list, opening one, marking read, the settings page.

Thin: reads start from ``Notification.objects.for_user`` (the user's own, and
only those about orders the access rule still lets them view: another user's
notification, or one about an order taken away, is a 404); writes go through
``notifications.services``.
"""

from __future__ import annotations

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.paginator import Paginator
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.utils.http import url_has_allowed_host_and_scheme
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from accounts import preferences

from . import push, services
from .forms import PreferencesForm
from .live import at_label
from .models import Notification

PAGE_SIZE = 25


def _mine(request, pk: int) -> Notification:
    return get_object_or_404(Notification.objects.for_user(request.user), pk=pk)


def _back(request) -> str:
    """Where a form on the list sends the user back to (the same page of the list)."""
    target = request.POST.get("next", "")
    if target and url_has_allowed_host_and_scheme(
        target, allowed_hosts={request.get_host()}, require_https=request.is_secure()
    ):
        return target
    return reverse("notification_list")


@login_required
@require_GET
def notification_list(request):
    entries = Notification.objects.for_user(request.user).in_app().order_by("-created_at", "-id")
    page = Paginator(entries, PAGE_SIZE).get_page(request.GET.get("page"))
    for entry in page.object_list:
        entry.at_label = at_label(entry.created_at)
    return render(
        request,
        "notifications/list.html",
        {
            "page": page,
            "notifications": page.object_list,
            "unread": entries.unread().count(),
            "here": request.get_full_path(),
        },
    )


@login_required
@require_GET
def notification_open(request, pk: int):
    """Mark it read and go where it leads (its order, the review queue, the back office)."""
    notification = _mine(request, pk)
    services.mark_read(notification, actor=request.user)
    target = notification.url
    if not (
        target
        and target.startswith("/")
        and url_has_allowed_host_and_scheme(target, allowed_hosts={request.get_host()})
    ):
        target = reverse("notification_list")
    return redirect(target)


@login_required
@require_POST
def notification_read(request, pk: int):
    services.mark_read(_mine(request, pk), actor=request.user)
    return redirect(_back(request))


@login_required
@require_POST
def notification_read_all(request):
    count = services.mark_all_read(actor=request.user)
    if count:
        messages.success(
            request, f"{count} notification{'s' if count != 1 else ''} marked as read."
        )
    return redirect(_back(request))


@login_required
@require_http_methods(["GET", "POST"])
def notification_settings(request):
    form = PreferencesForm(request.POST or None, user=request.user)
    if request.method == "POST" and form.is_valid():
        services.save_preferences(request.user, form.table())
        messages.success(request, "Your notification settings are saved.")
        return redirect("notification_settings")
    return render(
        request,
        "notifications/settings.html",
        {
            "form": form,
            "channel_labels": list(preferences.CHANNELS.values()),
            "push_enabled": push.enabled(),
            "push_public_key": push.public_key(),
        },
    )
