"""Adjustments to the generated OpenAPI schema."""


def forbid_unknown_request_fields(result, generator, request, public):
    """Mark request bodies closed: the API refuses fields it does not know (400)."""
    for name, component in result.get("components", {}).get("schemas", {}).items():
        if name.endswith("Request") and component.get("type") == "object":
            component["additionalProperties"] = False
    return result
