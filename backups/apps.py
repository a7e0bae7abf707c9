from django.apps import AppConfig


class BackupsConfig(AppConfig):
    """Backups of the database and the media, their record, and the restore.

    The app sits above notifications (a failed backup tells the Admins) and below the wiring;
    nothing imports it. It adds a line to the dashboard's "Needs attention" panel for the
    people who look after backups (``orders.attention``'s registry).
    """

    name = "backups"
    verbose_name = "Backups"

    def ready(self) -> None:
        from orders import attention

        from . import status

        attention.register("backups", status.provide)
