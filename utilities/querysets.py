"""The one access rule applied to querysets: ``Model.objects.restrict(user, action)``.

NetBox's ``RestrictedQuerySet`` idea: every list a page, the API, the admin or a socket shows
is narrowed by the same rule (``utilities.access.order_scope``), so no view can forget it.
``order_path`` is how the model reaches its order ("" for Order itself, ``order__`` for its
images and the rows that hang off an order).
"""

from __future__ import annotations

from django.db import models

from . import access


class RestrictedQuerySet(models.QuerySet):
    """A queryset that can be narrowed to what a user may do (NetBox's idea).

    ``order_path`` is how the model reaches its order ("" for Order itself).
    """

    order_path = ""

    def restrict(self, user, action: access.Action | str = access.Action.VIEW):
        scope = access.order_scope(user, action, prefix=self.order_path)
        return self.none() if scope is None else self.filter(scope)

    def visible_to(self, user):
        return self.restrict(user, access.Action.VIEW)
