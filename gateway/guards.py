"""Requests refused at the edge on their headers alone, before any body is read.

A request body is buffered whole before the router can check its key (the
transcoder builds one gRPC message from it): without these routes, anyone could make
the edge hold up to the body limit per connection with no key at all. A POST, PUT or
PATCH to the REST API with no credential, or with one that cannot be a key (too
short, not printable ASCII), is answered 401 from the route table — the
router filter matches routes on headers, so the answer goes out before the body is
read. The answer has the router's own code and message; the error filter shapes it
for the path's API (OpenAI's shape, or the Messages API's on /v1/messages).

Whether a well-formed key is valid is still the router's to say.
"""

from __future__ import annotations

from typing import Any

__all__ = [
    "INVALID_KEY_MESSAGE",
    "MALFORMED_KEY_MESSAGE",
    "MISSING_KEY_MESSAGE",
    "key_guard_routes",
]

# The router says the same (keyvault/client/keycache.py; a test keeps them equal).
MISSING_KEY_MESSAGE = "You didn't provide an API key. Send it as 'Authorization: Bearer <key>'."
MALFORMED_KEY_MESSAGE = "The Authorization header must be 'Bearer <key>'."
INVALID_KEY_MESSAGE = "Incorrect API key provided. Check the key and try again."

_REST_PREFIXES = ("/v1/", "/agentopia/v1/")
_WITH_BODY = r"^(POST|PUT|PATCH)$"
# What a key can look like: printable ASCII without spaces, 8 characters or more
# (the router reads the scheme case-insensitively and strips spaces around the key;
# the connection manager bounds a header's size, and RE2's program-size limit keeps
# a counted upper bound out of the pattern).
_KEY = r"[!-~]{8,}"
_BEARER = "^[Bb][Ee][Aa][Rr][Ee][Rr] "
_CREDENTIAL_HEADERS = (
    ("authorization", rf"{_BEARER} *{_KEY} *$"),
    ("x-api-key", rf"^ *{_KEY} *$"),
)
_FILTER_CONFIG = "type.googleapis.com/envoy.config.route.v3.FilterConfig"
_TRANSCODER = "envoy.filters.http.grpc_json_transcoder"


def _status_json(code: str, message: str) -> str:
    # google.rpc.Status-like JSON, which the error filter reads as the router's own
    # errors (reason → code, type → type) and renders in the path's API shape.
    return (
        '{"code":16,"message":"' + message.replace('"', '\\"') + '",'
        '"type":"invalid_request_error","reason":"' + code.upper() + '"}'
    )


def _refusal(prefix: str, headers: list[dict[str, Any]], code: str, message: str) -> dict[str, Any]:
    return {
        "match": {
            "prefix": prefix,
            "headers": [
                {"name": ":method", "string_match": {"safe_regex": {"regex": _WITH_BODY}}},
                *headers,
            ],
        },
        "direct_response": {
            "status": 401,
            "body": {"inline_string": _status_json(code, message)},
        },
        "response_headers_to_add": [
            {
                "header": {"key": "content-type", "value": "application/json"},
                "append_action": "OVERWRITE_IF_EXISTS_OR_ADD",
            }
        ],
        "typed_per_filter_config": {_TRANSCODER: {"@type": _FILTER_CONFIG, "disabled": True}},
    }


def key_guard_routes() -> list[dict[str, Any]]:
    """The refusals, first in the route table, in the router's own order: no
    credential at all, an Authorization header of another scheme, then no credential
    that could be a key."""
    absent = [
        {"name": name, "present_match": True, "invert_match": True}
        for name, _ in _CREDENTIAL_HEADERS
    ]
    other_scheme = [
        {"name": "authorization", "present_match": True},
        {
            "name": "authorization",
            "string_match": {"safe_regex": {"regex": _BEARER + ".*"}},
            "invert_match": True,
        },
        {"name": "x-api-key", "present_match": True, "invert_match": True},
    ]
    unusable = [
        {
            "name": name,
            "string_match": {"safe_regex": {"regex": pattern}},
            "invert_match": True,
            "treat_missing_header_as_empty": True,
        }
        for name, pattern in _CREDENTIAL_HEADERS
    ]
    routes: list[dict[str, Any]] = []
    for prefix in _REST_PREFIXES:
        routes.append(_refusal(prefix, absent, "missing_api_key", MISSING_KEY_MESSAGE))
        routes.append(_refusal(prefix, other_scheme, "malformed_api_key", MALFORMED_KEY_MESSAGE))
        routes.append(_refusal(prefix, unusable, "invalid_api_key", INVALID_KEY_MESSAGE))
    return routes
