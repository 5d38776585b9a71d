from decimal import Decimal
from zoneinfo import ZoneInfo

from shop.models import Store


def iso(value) -> str | None:
    """Render a datetime as the API does."""
    if value is None:
        return None
    text = value.isoformat()
    return text[:-6] + "Z" if text.endswith("+00:00") else text


def money(value) -> float:
    return float(Decimal(value).quantize(Decimal("0.01")))


def ids(response) -> list[int]:
    return [item["id"] for item in response.json()["data"]]


def store_day(value) -> str:
    """The day a datetime falls on in the store's time zone, as the API's day filters read it."""
    return value.astimezone(ZoneInfo(Store.load().time_zone)).date().isoformat()
