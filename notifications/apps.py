from django.apps import AppConfig


class NotificationsConfig(AppConfig):
    """Notifications: the in-app centre (the bell), browser notifications and Web Push,
    e-mail; made from what the other apps already record (docs/notifications.md).

    The app sits above orders, ai_processing and pmr: it listens to them (signals, the
    timeline) and none of them imports it.
    """

    name = "notifications"
    verbose_name = "Notifications"

    def ready(self) -> None:
        from django.contrib.auth.signals import user_login_failed
        from django.db.models.signals import post_save

        from orders import privacy as order_privacy
        from utilities import user_streams

        from . import hooks, live, privacy, signins, timeline

        post_save.connect(
            hooks.on_order_event_saved,
            sender="orders.OrderEvent",
            dispatch_uid="notifications.order_event",
        )
        user_login_failed.connect(signins.on_login_failed, dispatch_uid="notifications.signins")
        user_streams.register("notifications", live.bell_state)
        timeline.register()
        # A customer's data erased or exported: notifications name them, and their e-mail.
        order_privacy.register("emails_to_customer", erase=privacy.erase, export=privacy.export)
