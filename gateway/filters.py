"""The edge's HTTP filter chain: native filters on every request, Lua only on errors.

Request path, in order:

1. `header_to_metadata` keeps the request's own `:path`, `:method` and content type
   (before the transcoder rewrites them to the RPC's) as dynamic metadata
   `agentopia.edge`, for the access log, the error messages `edge_filter.lua` writes
   and the matchers below.
2. `header_mutation`, for REST callers only, removes `grpc-*`, `x-envoy-*` and the
   services' `x-agentopia-error`/`x-agentopia-http-status` from response headers and
   (HTTP/2) trailers. Native gRPC callers skip it: those headers are their protocol.
3. `edge_filter.lua`, for REST callers only, and on the response only when it is an
   error (a status outside 2xx, or the services' `x-agentopia-error`): it rewrites
   the body into the OpenAI error shape. A successful reply, streamed or not, never
   runs Lua, so no chunk of a successful stream costs Lua work.
4. `health_check` (the edge's own `/healthz`), the transcoder, the router.

Responses run the other way, so the Lua filter reads the services' headers before
`header_mutation` removes them. Steps 2 and 3 are wrapped in `ExtensionWithMatcher`,
whose match tree skips the filter on the request's content type or on the response
headers; a filter skipped on the response still sees the request, which neither does
anything with (the Lua script has no request function).
"""

from __future__ import annotations

from typing import Any

from gateway.clusters import T

__all__ = [
    "EDGE_METADATA",
    "ERROR_HEADER",
    "HTTP_STATUS_HEADER",
    "INTERNAL_HEADERS",
    "INTERNAL_PREFIXES",
    "error_filter",
    "header_metadata",
    "rest_header_hygiene",
]

EDGE_METADATA = "agentopia.edge"
# The contract with the services (see edge_filter.lua).
ERROR_HEADER = "x-agentopia-error"
HTTP_STATUS_HEADER = "x-agentopia-http-status"
# Response headers and trailers a REST caller never sees: gRPC's and Envoy's own, and
# the error contract with the services.
INTERNAL_PREFIXES = ("grpc-", "x-envoy-")
INTERNAL_HEADERS = (ERROR_HEADER, HTTP_STATUS_HEADER)

_SKIP = {
    "name": "skip",
    "typed_config": {"@type": T + "envoy.extensions.filters.common.matcher.action.v3.SkipFilter"},
}


def _header(name: str, *, response: bool) -> dict[str, Any]:
    kind = "HttpResponseHeaderMatchInput" if response else "HttpRequestHeaderMatchInput"
    return {
        "name": f"{'response' if response else 'request'}-{name}",
        "typed_config": {"@type": T + f"envoy.type.matcher.v3.{kind}", "header_name": name},
    }


def _metadata(key: str) -> dict[str, Any]:
    return {
        "name": f"metadata-{key}",
        "typed_config": {
            "@type": T + "envoy.extensions.matching.common_inputs.network.v3.DynamicMetadataInput",
            "filter": EDGE_METADATA,
            "path": [{"key": key}],
        },
    }


def _predicate(name: str, match: dict[str, Any], *, response: bool = False) -> dict[str, Any]:
    return {"single_predicate": {"input": _header(name, response=response), "value_match": match}}


# The request's content type as it arrived: the transcoder rewrites the header itself
# to application/grpc, and a match tree evaluated again on the response would read
# the rewritten value.
_NATIVE_GRPC = {
    "single_predicate": {
        "input": _metadata("content_type"),
        "custom_match": {
            "name": "metadata",
            "typed_config": {
                "@type": T + "envoy.extensions.matching.input_matchers.metadata.v3.Metadata",
                "value": {"string_match": {"prefix": "application/grpc"}},
            },
        },
    }
}
_SUCCESS = {
    "and_matcher": {
        "predicate": [
            _predicate(":status", {"prefix": "2"}, response=True),
            {
                "not_matcher": _predicate(
                    ERROR_HEADER, {"safe_regex": {"google_re2": {}, "regex": ".*"}}, response=True
                )
            },
        ]
    }
}


def _skip_when(*predicates: dict[str, Any]) -> dict[str, Any]:
    return {
        "matcher_list": {
            "matchers": [
                {"predicate": predicate, "on_match": {"action": _SKIP}} for predicate in predicates
            ]
        }
    }


def _with_matcher(name: str, config: dict[str, Any], matcher: dict[str, Any]) -> dict[str, Any]:
    return {
        "name": name,
        "typed_config": {
            "@type": T + "envoy.extensions.common.matching.v3.ExtensionWithMatcher",
            "extension_config": {"name": name, "typed_config": config},
            "xds_matcher": matcher,
        },
    }


def header_metadata() -> dict[str, Any]:
    """The request's path and method as dynamic metadata (before any rewrite)."""
    rules = [
        {
            "header": header,
            "on_header_present": {"metadata_namespace": EDGE_METADATA, "key": key},
            "remove": False,
        }
        for header, key in (
            (":path", "path"),
            (":method", "method"),
            ("content-type", "content_type"),
        )
    ]
    return {
        "name": "envoy.filters.http.header_to_metadata",
        "typed_config": {
            "@type": T + "envoy.extensions.filters.http.header_to_metadata.v3.Config",
            "request_rules": rules,
        },
    }


def _removals() -> list[dict[str, Any]]:
    by_prefix = [{"remove_on_match": {"key_matcher": {"prefix": p}}} for p in INTERNAL_PREFIXES]
    return by_prefix + [{"remove": name} for name in INTERNAL_HEADERS]


def rest_header_hygiene() -> dict[str, Any]:
    """Internal headers and trailers removed from every REST response, natively."""
    config = {
        "@type": T + "envoy.extensions.filters.http.header_mutation.v3.HeaderMutation",
        "mutations": {
            "response_mutations": _removals(),
            "response_trailers_mutations": _removals(),
        },
    }
    return _with_matcher("envoy.filters.http.header_mutation", config, _skip_when(_NATIVE_GRPC))


def error_filter(lua_source: str) -> dict[str, Any]:
    """`edge_filter.lua`, run on REST error responses only."""
    config = {
        "@type": T + "envoy.extensions.filters.http.lua.v3.Lua",
        "default_source_code": {"inline_string": lua_source},
    }
    return _with_matcher("envoy.filters.http.lua", config, _skip_when(_NATIVE_GRPC, _SUCCESS))
