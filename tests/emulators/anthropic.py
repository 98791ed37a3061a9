"""An Anthropic Messages API upstream for tests.

    async with AnthropicEmulator(api_keys=("sk-ant-test",)) as emu:
        emu.enqueue(Fault(status=529), Reply(content=[text("hi")]))
        ... point the adapter (or the official SDK) at emu.base_url ...
        assert emu.last.body["max_tokens"] == 1024

Serves POST /v1/messages and /v1/messages/count_tokens on 127.0.0.1 (port 0); the
base URL has no /v1, as the real one. Checks `x-api-key` (or `Authorization:
Bearer`, which API version 2026-10-21 SDKs send) and `anthropic-version`, validates
the body like the real API (see _anthropic_wire.py) with its error bodies, answers with JSON or SSE
(`event: <name>\\ndata: {...}\\n\\n`), sends `request-id` and
`anthropic-ratelimit-*` headers, and plays scripted replies and faults in order:
any status with Anthropic's error body, 529 overloaded_error, 429 with
retry-after, slow first byte (hold/release), hang, mid-stream `event: error`,
disconnect, stall. A `hook` may choose the reply from the request (the conformance
entry uses it). Every request received is recorded (path, headers, body).
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable

import orjson
from aiohttp import web

from tests.emulators._anthropic_wire import (
    VERSIONS,
    Fault,
    Invalid,
    Json,
    Reply,
    count_tokens,
    error_body,
    message_body,
    sse_events,
    text,
    thinking,
    tool_use,
    validate,
    validate_count,
)
from tests.emulators._server import EmulatorServer, RecordedRequest

__all__ = [
    "AnthropicEmulator",
    "Fault",
    "Hook",
    "RecordedRequest",
    "Reply",
    "text",
    "thinking",
    "tool_use",
]

# Consulted first for every valid request: (parsed body, raw body text) → what to play,
# or None to fall through to the script, then `default`.
Hook = Callable[[Json, str], "Reply | Fault | None"]

RATE_LIMITS = {
    "anthropic-ratelimit-requests-limit": "4000",
    "anthropic-ratelimit-requests-remaining": "3999",
    "anthropic-ratelimit-requests-reset": "2026-01-01T00:00:01Z",
    "anthropic-ratelimit-tokens-limit": "400000",
    "anthropic-ratelimit-tokens-remaining": "399000",
    "anthropic-ratelimit-tokens-reset": "2026-01-01T00:00:01Z",
    "anthropic-ratelimit-input-tokens-limit": "300000",
    "anthropic-ratelimit-input-tokens-remaining": "299000",
    "anthropic-ratelimit-input-tokens-reset": "2026-01-01T00:00:01Z",
    "anthropic-ratelimit-output-tokens-limit": "100000",
    "anthropic-ratelimit-output-tokens-remaining": "100000",
    "anthropic-ratelimit-output-tokens-reset": "2026-01-01T00:00:01Z",
}


class AnthropicEmulator(EmulatorServer[Reply | Fault]):
    def __init__(
        self,
        *,
        api_keys: tuple[str, ...] = ("sk-ant-emulator-key",),
        default: Reply | None = None,
        hook: Hook | None = None,
    ) -> None:
        super().__init__()
        self.api_keys = set(api_keys)
        self.default = default or Reply()
        self.hook = hook
        self._count = 0

    @property
    def base_url(self) -> str:
        """The SDK's base URL (ANTHROPIC_BASE_URL): no /v1."""
        return self.root_url

    # ---- request handling ----
    async def _answer(self, request: web.Request, recorded: RecordedRequest) -> web.StreamResponse:
        raw, body, headers = recorded.raw, recorded.body, recorded.headers
        self._count += 1
        request_id = f"req_emu{self._count:010d}"
        if request.method == "POST" and request.path == "/v1/messages/count_tokens":
            return self._count_reply(body, headers, request_id)
        if request.method != "POST" or request.path != "/v1/messages":
            return self._error(Fault(404, message="Not found"), request_id)
        denied = self._check(headers)
        if denied is None:
            try:
                validate(body, headers["anthropic-version"])
            except Invalid as exc:
                denied = Fault(400, message=str(exc))
        if denied is not None:
            return self._error(denied, request_id)
        item = self.hook(body, raw.decode("utf-8", "replace")) if self.hook else None
        if item is None:
            item = self._script.popleft() if self._script else self.default
        await self._behave(item)
        if isinstance(item, Fault):
            return self._error(item, request_id)
        message_id = f"msg_emu{self._count:010d}"
        if body.get("stream"):
            return await self._stream(request, body, item, message_id, request_id)
        return self._json(200, message_body(item, body, message_id), request_id)

    def _count_reply(self, body: Json, headers: dict[str, str], request_id: str) -> web.Response:
        denied = self._check(headers)
        if denied is None:
            try:
                validate_count(body)
            except Invalid as exc:
                denied = Fault(400, message=str(exc))
        if denied is not None:
            return self._error(denied, request_id)
        return self._json(200, {"input_tokens": count_tokens(body)}, request_id)

    def _check(self, headers: dict[str, str]) -> Fault | None:
        key = headers.get("x-api-key")
        scheme, _, bearer = headers.get("authorization", "").partition(" ")
        if key is None and scheme == "Bearer":
            key = bearer
        if not key:
            return Fault(401, message="x-api-key header is required")
        if key not in self.api_keys:
            return Fault(401, message="invalid x-api-key")
        version = headers.get("anthropic-version")
        if version is None:
            return Fault(400, message="anthropic-version: header is required")
        if version not in VERSIONS:
            return Fault(400, message=f"anthropic-version: invalid version {version!r}")
        if not headers.get("content-type", "").startswith("application/json"):
            return Fault(400, message="content-type: must be application/json")
        return None

    async def _behave(self, item: Reply | Fault) -> None:
        if item.delay_s:
            await asyncio.sleep(item.delay_s)
        if item.hold:
            await self._release.wait()
        if item.hang:
            await self._closing.wait()

    # ---- responses ----
    def _headers(self, request_id: str) -> dict[str, str]:
        return {"request-id": request_id, **RATE_LIMITS}

    def _json(self, status: int, payload: Json, request_id: str, **extra: str) -> web.Response:
        return web.Response(
            status=status,
            body=orjson.dumps(payload),
            headers=self._headers(request_id) | extra,
            content_type="application/json",
        )

    def _error(self, fault: Fault, request_id: str) -> web.Response:
        headers = dict(fault.headers)
        if fault.retry_after is not None:
            headers["retry-after"] = fault.retry_after
        if fault.status == 429:
            headers["anthropic-ratelimit-requests-remaining"] = "0"
        if fault.raw_body is not None:
            return web.Response(
                status=fault.status,
                body=fault.raw_body,
                headers=self._headers(request_id) | headers,
                content_type="text/html",
            )
        payload = error_body(fault.status, fault.message, fault.type, request_id)
        return self._json(fault.status, payload, request_id, **headers)

    async def _stream(
        self, request: web.Request, body: Json, reply: Reply, message_id: str, request_id: str
    ) -> web.StreamResponse:
        response = web.StreamResponse(
            status=200,
            headers=self._headers(request_id)
            | {"content-type": "text/event-stream; charset=utf-8", "cache-control": "no-cache"},
        )
        await response.prepare(request)
        for sent, (name, data) in enumerate(sse_events(reply, body, message_id)):
            if sent == reply.disconnect_after:
                assert request.transport is not None
                request.transport.close()
                return response
            if sent == reply.stall_after:
                await self._closing.wait()
            if sent == reply.error_after:
                error = reply.stream_error or error_body(529, "Overloaded")
                await response.write(_event("error", error))
                await response.write_eof()
                return response
            await response.write(_event(name, data))
        await response.write_eof()
        return response


def _event(name: str, data: Json) -> bytes:
    return b"event: " + name.encode() + b"\ndata: " + orjson.dumps(data) + b"\n\n"
