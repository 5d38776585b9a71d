from decimal import Decimal


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
