"""Adjustments to the generated OpenAPI schema."""


def forbid_unknown_request_fields(result, generator, request, public):
    """Mark request bodies closed: the API refuses fields it does not know (400)."""
    for name, component in result.get("components", {}).get("schemas", {}).items():
        if name.endswith("Request") and component.get("type") == "object":
            component["additionalProperties"] = False
    return result


# What RefuseNulMiddleware (core/middleware.py) refuses in any query parameter.
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


def answers_list_nullable_fields_as_optional(result, generator, request, public):
    """Leave a nullable field of an answer out of its `required` list.

    The API always sends the field; but datamodel-code-generator, at its default settings,
    reads OpenAPI 3.0's `nullable` only on an optional field, and its models would refuse
    every null. (OpenAPI 3.1's "null" type would say it plainly, but 3.1 makes 1.0 an
    integer, which the API's whole-number parameters refuse.) Request bodies keep theirs.
    """
    for name, component in result.get("components", {}).get("schemas", {}).items():
        if name.endswith("Request") or "required" not in component:
            continue
        properties = component.get("properties", {})
        required = [
            field for field in component["required"] if not properties[field].get("nullable")
        ]
        if required:
            component["required"] = required
        else:
            del component["required"]
    return result


def name_titled_objects(result, generator, request, public):
    """Make each object schema with a title a component of that name, referred to by $ref:
    generators name a class after each title, and number the ones they meet twice."""
    components = result.setdefault("components", {}).setdefault("schemas", {})

    def hoist(node, top: bool = False):
        if isinstance(node, list):
            return [hoist(value) for value in node]
        if not isinstance(node, dict):
            return node
        node = {key: hoist(value) for key, value in node.items()}
        title = node.get("title")
        if top or node.get("type") != "object" or not title:
            return node
        if components.setdefault(title, node) != node:
            raise ValueError(f"Two different schemas have the title {title!r}.")
        return {"$ref": f"#/components/schemas/{title}"}

    for name, component in list(components.items()):
        components[name] = hoist(component, top=True)
    result["components"]["schemas"] = dict(sorted(components.items()))
    return result


def document_idempotency_keys(result, generator, request, public):
    """Declare the Idempotency-Key header (shop/api/idempotency.py) on every write."""
    from .idempotency import HEADER, PATTERN, REPLAYED_HEADER, WRITE_METHODS

    header = {
        "in": "header",
        "name": HEADER,
        "required": False,
        "schema": {"type": "string", "minLength": 1, "maxLength": 255, "pattern": PATTERN},
        "description": (
            "Makes a retry safe: the first answer is kept 24 hours per key and API key (or "
            "staff user). The same key with the same method, path and body replays it, with "
            f"`{REPLAYED_HEADER}: true`; with another request it is a 422; while the first "
            "still runs, a 409. E.g. a UUID."
        ),
    }
    replayed = {
        REPLAYED_HEADER: {
            "schema": {"type": "string", "enum": ["true"]},
            "description": "Sent when the answer is the stored one of an earlier request.",
        }
    }
    error = {"application/json": {"schema": {"$ref": "#/components/schemas/Error"}}}
    for operations in result.get("paths", {}).values():
        for method, operation in operations.items():
            if method.upper() not in WRITE_METHODS:
                continue
            operation.setdefault("parameters", []).append(header)
            responses = operation.setdefault("responses", {})
            responses.setdefault(
                "422",
                {
                    "description": (
                        f"The {HEADER} was sent with another request in the last 24 hours."
                    ),
                    "content": error,
                },
            )
            if "409" in responses:
                responses["409"]["description"] += (
                    f" Or a request with the same {HEADER} is still running."
                )
            for code, response in responses.items():
                if code.startswith("2"):
                    response.setdefault("headers", {}).update(replayed)
    return result
