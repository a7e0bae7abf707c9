"""Errors the order services raise for requests that cannot be carried out."""


class OrderError(Exception):
    """Base class: a request about an order that is refused, with a message for people."""


class TransitionNotAllowed(OrderError):
    def __init__(self, what: str, current: str, new: str) -> None:
        self.current, self.new = current, new
        super().__init__(f"{what} cannot move from '{current}' to '{new}'.")


class FieldRefused(OrderError):
    """A request refused because of one field's value (an unknown Event ID): the API answers
    400 naming ``field``, the pages show the message beside it."""

    def __init__(self, field: str, message: str) -> None:
        self.field = field
        super().__init__(message)
