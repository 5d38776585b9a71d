"""Adjustments to the generated OpenAPI schema."""


def forbid_unknown_request_fields(result, generator, request, public):
    """Mark request bodies closed: the API refuses fields it does not know (400)."""
    for name, component in result.get("components", {}).get("schemas", {}).items():
        if name.endswith("Request") and component.get("type") == "object":
            component["additionalProperties"] = False
    return result


# What RefuseNulMiddleware (config/middleware.py) refuses in any query parameter.
NO_NUL = r"^[^\u0000]*$"


def document_query_conventions(result, generator, request, public):
    """Say of every query parameter what the API does with it: an empty value means the
    parameter is not given (allowEmptyValue), and a free-text one may not hold NUL."""
    for operations in result.get("paths", {}).values():
        for operation in operations.values():
            for parameter in operation.get("parameters", []):
                if parameter.get("in") != "query":
                    continue
                parameter["allowEmptyValue"] = True
                schema = parameter.get("schema", {})
                if schema.get("type") == "string" and not {"enum", "format", "pattern"} & set(
                    schema
                ):
                    schema["pattern"] = NO_NUL
    return result
