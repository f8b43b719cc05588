"""Parameter types shared by several commands."""

from typing import Any, Optional

import click

__all__ = ["LATITUDE", "LONGITUDE", "Coordinate"]


class Coordinate(click.ParamType):
    """Decimal degrees within a range; a decimal comma (``51,5``) is accepted.

    Many field laptops are set up for a language that writes decimals with
    a comma, and a single coordinate cannot be read any other way.
    """

    name = "degrees"

    def __init__(self, what: str, limit: float) -> None:
        self.what = what
        self.limit = limit

    def convert(
        self, value: Any, param: Optional[click.Parameter], ctx: Optional[click.Context]
    ) -> float:
        """Read the number and check its range, saying how to write it."""
        if isinstance(value, float):
            number = value
        else:
            text = str(value).strip()
            if text.count(",") == 1 and "." not in text:
                text = text.replace(",", ".")
            try:
                number = float(text)
            except ValueError:
                self.fail(
                    f"{value!r} is not a number. Write the {self.what} in "
                    "decimal degrees, e.g. 51.5 or -0.12.",
                    param,
                    ctx,
                )
        if not -self.limit <= number <= self.limit:
            self.fail(
                f"{number:g} is not a {self.what}: it must be between "
                f"-{self.limit:g} and {self.limit:g} degrees.",
                param,
                ctx,
            )
        return number


LATITUDE = Coordinate("latitude", 90)
LONGITUDE = Coordinate("longitude", 180)
