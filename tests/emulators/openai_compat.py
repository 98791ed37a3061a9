"""An OpenAI-compatible upstream for tests: OpenAI's wire format, or Groq's.

    async with OpenAICompatEmulator("openai", api_keys=("sk-test",)) as emu:
        emu.enqueue(Fault(status=429, retry_after="2"), Reply(text="hi"))
        ... point the adapter at emu.base_url ...
        assert emu.requests[-1].body["model"] == "gpt-4o-mini"

Serves POST /v1/chat/completions, /v1/completions and /v1/embeddings (OpenAI; base URL
`<root>/v1`) or POST /openai/v1/chat/completions (Groq; base URL `<root>`, no
legacy completions). Checks `Authorization: Bearer`, validates the body like the
real API (Groq refuses the parameters its docs list as unsupported), answers with
JSON or SSE (`data: {...}\\n\\n` ... `data: [DONE]\\n\\n`), puts x-ratelimit-*
headers on every response, and plays scripted faults in order: any status with
the provider's error body, slow first byte, hold, hang, mid-stream disconnect,
in-band stream error. Every request received is recorded (path, headers, body).
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import Any

import orjson
from aiohttp import web

from tests.emulators._openai_compat_bodies import (
    chat_body,
    chat_chunks,
    legacy_body,
    legacy_chunks,
    scenario_reply,
)
from tests.emulators._openai_compat_wire import (
    Counter,
    Fault,
    Flavor,
    Json,
    Reply,
    ToolCall,
    error_body,
    mask_key,
)
from tests.emulators._openai_embeddings import embeddings_body, invalid_embeddings
from tests.emulators._server import EmulatorServer, RecordedRequest

__all__ = ["Fault", "OpenAICompatEmulator", "RecordedRequest", "Reply", "ToolCall"]

_PATHS: dict[Flavor, dict[str, str]] = {
    "openai": {
        "/v1/chat/completions": "chat",
        "/v1/completions": "completions",
        "/v1/embeddings": "embeddings",
    },
    "groq": {"/openai/v1/chat/completions": "chat"},
}
# Groq: "The following fields are currently not supported and will result in a
# 400 error if they are supplied" (https://console.groq.com/docs/openai).
_GROQ_UNSUPPORTED = ("logprobs", "logit_bias", "top_logprobs")


class OpenAICompatEmulator(EmulatorServer[Reply | Fault]):
    def __init__(
        self,
        flavor: Flavor = "openai",
        *,
        api_keys: tuple[str, ...] = ("sk-emulator-key",),
        default: Reply | None = None,
        fault_hook: Callable[[str], Reply | Fault | None] | None = None,
    ) -> None:
        super().__init__()
        self.flavor: Flavor = flavor
        self.api_keys = set(api_keys)
        self.default = default  # None: answer like a model would (`scenario_reply`)
        self.fault_hook = fault_hook  # raw request text -> a response to play, if any
        self._ids = Counter()

    @property
    def base_url(self) -> str:
        """What the provider's SDK calls its base URL (OpenAI's includes /v1)."""
        return self.root_url + ("/v1" if self.flavor == "openai" else "")

    @property
    def sdk_base_url(self) -> str:
        """The base URL an OpenAI SDK client needs (Groq: <root>/openai/v1)."""
        return self.root_url + ("/v1" if self.flavor == "openai" else "/openai/v1")

    # ---- request handling ----
    async def _answer(self, request: web.Request, recorded: RecordedRequest) -> web.StreamResponse:
        raw, body, headers = recorded.raw, recorded.body, recorded.headers
        number = self._ids.next()
        kind = _PATHS[self.flavor].get(request.path) if request.method == "POST" else None
        if kind is None:
            return self._not_found(request, number)
        denied = self._check_auth(headers.get("authorization", ""))
        if denied is None and not isinstance(body, dict):
            denied = Fault(status=400, message=_PARSE_ERROR)
        if denied is None and kind == "embeddings":
            return self._embeddings(body, number)
        if denied is None:
            denied = self._validate(kind, body)
        if denied is not None:
            return self._error(denied, number)
        item = self._next(raw, body)
        await self._behave(item)
        if isinstance(item, Fault):
            return self._error(item, number)
        if body.get("stream"):
            return await self._stream(request, kind, body, item, number)
        build = chat_body if kind == "chat" else legacy_body
        payload = build(self.flavor, body, item, number)
        return self._json(200, payload, number)

    def _embeddings(self, body: Json, number: int) -> web.Response:
        problem = invalid_embeddings(body)
        if problem is not None:
            return self._error(Fault(status=400, message=problem), number)
        return self._json(200, embeddings_body(body), number)

    def _next(self, raw: bytes, body: Json) -> Reply | Fault:
        hooked = self.fault_hook(raw.decode("utf-8", "replace")) if self.fault_hook else None
        if hooked is not None:
            return hooked
        if self._script:
            return self._script.popleft()
        return self.default or scenario_reply(body)

    async def _behave(self, item: Reply | Fault) -> None:
        if item.delay_s:
            await asyncio.sleep(item.delay_s)
        if item.hold:
            await self._release.wait()
        if item.hang:
            await self._closing.wait()

    def _check_auth(self, header: str) -> Fault | None:
        scheme, _, key = header.partition(" ")
        if not header or scheme != "Bearer":
            return Fault(
                status=401,
                message=_NO_KEY[self.flavor],
                code="" if self.flavor == "openai" else "invalid_api_key",
            )
        if key in self.api_keys:
            return None
        if self.flavor == "groq":
            return Fault(status=401, message="Invalid API Key", code="invalid_api_key")
        return Fault(
            status=401,
            message=(
                f"Incorrect API key provided: {mask_key(key)}. You can find your API key at "
                "https://platform.openai.com/account/api-keys."
            ),
            code="invalid_api_key",
        )

    def _validate(self, kind: str, body: Json) -> Fault | None:
        if not body.get("model"):
            return Fault(status=400, message="you must provide a model parameter")
        required = "messages" if kind == "chat" else "prompt"
        if required not in body:
            return Fault(
                status=400,
                message=f"Missing required parameter: '{required}'.",
                param=required,
                code="missing_required_parameter",
            )
        if (
            "stream_options" in body
            and body["stream_options"] is not None
            and not body.get("stream")
        ):
            return Fault(
                status=400,
                param="stream_options",
                message="The 'stream_options' parameter is only allowed when 'stream' is enabled.",
            )
        return self._validate_groq(body) if self.flavor == "groq" else None

    def _validate_groq(self, body: Json) -> Fault | None:
        for name in _GROQ_UNSUPPORTED:
            if name in body:
                return Fault(status=400, message=f"property '{name}' is unsupported")
        if "n" in body and body["n"] != 1:
            return Fault(status=400, message="'n' : number must be at most 1")
        for i, message in enumerate(body.get("messages") or []):
            if isinstance(message, dict) and "name" in message:
                return Fault(status=400, message=f"'messages.{i}' : property 'name' is unsupported")
        return None

    # ---- responses ----
    def _headers(self, number: int, *, exhausted: bool = False) -> dict[str, str]:
        if self.flavor == "groq":
            limits = ("14400", "18000", "6s", "7.66s")
            extra = {"x-request-id": f"req_01emu{number:020d}", "x-groq-region": "emu"}
        else:
            limits = ("10000", "2000000", "6ms", "0s")
            extra = {
                "x-request-id": f"req_emu{number:08d}",
                "openai-version": "2020-10-01",
                "openai-organization": "org-emulator",
                "openai-processing-ms": "12",
            }
        return {
            "x-ratelimit-limit-requests": limits[0],
            "x-ratelimit-limit-tokens": limits[1],
            "x-ratelimit-remaining-requests": "0" if exhausted else str(int(limits[0]) - number),
            "x-ratelimit-remaining-tokens": "0" if exhausted else str(int(limits[1]) - 100),
            "x-ratelimit-reset-requests": limits[2],
            "x-ratelimit-reset-tokens": limits[3],
            **extra,
        }

    def _json(self, status: int, payload: Json, number: int, **kw: Any) -> web.Response:
        headers = self._headers(number, exhausted=status == 429) | kw.get("headers", {})
        return web.Response(
            status=status,
            body=orjson.dumps(payload),
            headers=headers,
            content_type="application/json",
        )

    def _error(self, fault: Fault, number: int) -> web.Response:
        headers = dict(fault.headers)
        if fault.status == 429 and fault.retry_after != "":
            headers["retry-after"] = fault.retry_after or "1"
        elif fault.retry_after:
            headers["retry-after"] = fault.retry_after
        if fault.raw_body is not None:
            all_headers = self._headers(number) | headers
            return web.Response(
                status=fault.status,
                body=fault.raw_body,
                headers=all_headers,
                content_type=fault.content_type,
            )
        return self._json(
            fault.status, error_body(self.flavor, fault.status, fault), number, headers=headers
        )

    def _not_found(self, request: web.Request, number: int) -> web.Response:
        where = f"{request.method} {request.path}"
        if self.flavor == "groq":
            fault = Fault(
                status=404,
                code="unknown_url",
                message=(
                    f"Unknown request URL: {where}. Please check the URL for typos, "
                    "or see the docs at https://console.groq.com/docs/"
                ),
            )
        else:
            fault = Fault(status=404, code="", message=f"Invalid URL ({where})")
        return self._error(fault, number)

    async def _stream(
        self, request: web.Request, kind: str, body: Json, reply: Reply, number: int
    ) -> web.StreamResponse:
        builder = chat_chunks if kind == "chat" else legacy_chunks
        chunks = builder(self.flavor, body, reply, number)
        content_type = "text/event-stream" + ("; charset=utf-8" if self.flavor == "openai" else "")
        response = web.StreamResponse(
            status=200,
            headers=self._headers(number)
            | {"content-type": content_type, "cache-control": "no-cache"},
        )
        await response.prepare(request)
        for sent, chunk in enumerate(chunks):
            if sent == reply.disconnect_after:
                assert request.transport is not None
                request.transport.close()
                return response
            if sent == reply.error_after:
                error = error_body(self.flavor, 500)
                await response.write(b"data: " + orjson.dumps(error) + b"\n\n")
                await response.write_eof()
                return response
            if sent == reply.stall_after:
                await self._closing.wait()
            await response.write(b"data: " + orjson.dumps(chunk) + b"\n\n")
        await response.write(b"data: [DONE]\n\n")
        await response.write_eof()
        return response


_PARSE_ERROR = (
    "We could not parse the JSON body of your request. (HINT: This likely means you aren't "
    "using your HTTP library correctly. The OpenAI API expects a JSON payload, but what was "
    "sent was not valid JSON.)"
)
_NO_KEY: dict[Flavor, str] = {
    "openai": (
        "You didn't provide an API key. You need to provide your API key in an Authorization "
        "header using Bearer auth (i.e. Authorization: Bearer YOUR_KEY)."
    ),
    "groq": "Invalid API Key",
}
