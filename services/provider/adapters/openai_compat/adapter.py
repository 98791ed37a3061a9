"""The one adapter for every OpenAI-compatible provider, driven by a CompatSpec.

It only wires the pure translation (translate.py, stream.py) to the injected
UpstreamHttp and the provider service's error table, read with the spec's
vocabulary. The credential comes from the call (key vault) or, failing that, the
configured key; it is sent in the spec's auth header and nowhere else: never
logged, never in an error.
"""

from __future__ import annotations

import logging
import time
from collections.abc import AsyncIterator, Mapping
from typing import Any

import orjson

from services.kernel.errors import GatewayError
from services.provider.adapters.base import (
    Call,
    CapabilityValue,
    Chunk,
    Operation,
    Result,
    StreamEnd,
    Timing,
    UpstreamHttp,
    Usage,
)
from services.provider.adapters.holdback import Holdback
from services.provider.adapters.openai_compat.spec import CompatSpec
from services.provider.adapters.openai_compat.stream import InBandError, StreamTranslator
from services.provider.adapters.openai_compat.translate import (
    UpstreamRequest,
    build_request,
    extract_usage,
    parse_body,
    translate_response,
    usage_from,
)
from services.provider.errors import provider_not_configured, stream_error, upstream_error
from services.provider.http import rate_limits
from services.provider.redact import GENERIC_REDACTOR, Redactor

__all__ = ["OpenAICompatAdapter"]

_log = logging.getLogger(__name__)


class OpenAICompatAdapter:
    def __init__(
        self,
        spec: CompatSpec,
        http: UpstreamHttp,
        *,
        api_key: str = "",
        redactor: Redactor = GENERIC_REDACTOR,
    ) -> None:
        self._spec = spec
        self._http = http
        self._api_key = api_key
        self._redactor = redactor

    @property
    def name(self) -> str:
        return self._spec.name

    @property
    def capabilities(self) -> frozenset[CapabilityValue]:
        return self._spec.capabilities

    async def generate(self, call: Call) -> Result:
        if call.operation is Operation.EMBEDDINGS:
            return await self._embed(call)
        request = build_request(self._spec, call, stream=False)
        secret = self._secret(call)
        self._log_dropped(call, request)
        response = await self._http.post(
            request.path, headers=self._headers(secret, stream=False), body=_encode(request)
        )
        if not 200 <= response.status < 300:
            raise self._http_error(response.status, response.headers, response.body, secret)
        payload = parse_body(self.name, response.body)
        if payload.get("error"):  # an error inside a 200: still an error
            raise self._in_band_error(payload, secret)
        return Result(
            body=translate_response(self._spec, payload, response_model=call.response_model),
            usage=usage_from(extract_usage(self._spec, payload)),
            timing=response.timing,
            rate_limits=rate_limits(response.headers, self._spec.vocabulary),
        )

    async def stream(self, call: Call) -> AsyncIterator[Chunk | StreamEnd]:
        request = build_request(self._spec, call, stream=True)
        secret = self._secret(call)
        self._log_dropped(call, request)
        started = time.monotonic()
        headers = self._headers(secret, stream=True)
        async with self._http.stream(request.path, headers=headers, body=_encode(request)) as up:
            if not 200 <= up.status < 300:
                raise self._http_error(up.status, up.headers, await up.read_body(), secret)
            translator = StreamTranslator(
                self._spec, response_model=call.response_model, include_usage=call.include_usage
            )
            hold = Holdback()
            try:
                events = up.events()
                async for event in events:
                    for chunk in translator.feed(event.data, event.event):
                        if (ready := hold.push(chunk)) is not None:
                            yield ready
                    if translator.done:
                        break
                    if not events.buffered and (ready := hold.release(more=False)) is not None:
                        yield ready  # the read is used up: send before waiting for more
            except InBandError as failure:
                if (ready := hold.release(more=False)) is not None:
                    yield ready  # what arrived before the error still reaches the client
                raise self._in_band_error(failure.payload, secret) from None
            for chunk in translator.finish():
                if (ready := hold.push(chunk)) is not None:
                    yield ready
            if (ready := hold.release(more=True)) is not None:
                yield ready  # travels with the end of the stream
            total_ms = (time.monotonic() - started) * 1000.0
            yield StreamEnd(
                usage=translator.usage,
                timing=Timing(first_byte_ms=up.first_byte_ms, total_ms=total_ms),
                rate_limits=rate_limits(up.headers, self._spec.vocabulary),
            )

    async def _embed(self, call: Call) -> Result:
        """Embeddings pass through as sent (`input` in every form, `encoding_format`,
        `dimensions`), with the upstream model id; the answer's `model` is the
        client's."""
        path = self._spec.embeddings_path
        assert path is not None  # the servicer checks CAPABILITY_EMBEDDINGS first
        secret = self._secret(call)
        payload = orjson.dumps({**call.body, "model": call.upstream_model})
        response = await self._http.post(
            path, headers=self._headers(secret, stream=False), body=payload
        )
        if not 200 <= response.status < 300:
            raise self._http_error(response.status, response.headers, response.body, secret)
        body = parse_body(self.name, response.body)
        if body.get("error"):
            raise self._in_band_error(body, secret)
        usage = body.get("usage") if isinstance(body.get("usage"), dict) else {}
        prompt = usage.get("prompt_tokens") if isinstance(usage, dict) else None
        return Result(
            body={**body, "model": call.response_model},
            usage=Usage(prompt_tokens=prompt if isinstance(prompt, int) else 0),
            timing=response.timing,
            rate_limits=rate_limits(response.headers, self._spec.vocabulary),
        )

    def _http_error(
        self, status: int, headers: Mapping[str, str], body: bytes, secret: str
    ) -> GatewayError:
        return upstream_error(
            provider=self.name,
            status=status,
            headers=headers,
            body=body,
            secrets=(secret,),
            vocabulary=self._spec.vocabulary,
            redactor=self._redactor,
        )

    def _in_band_error(self, payload: Mapping[str, Any], secret: str) -> GatewayError:
        return stream_error(
            provider=self.name,
            payload=payload,
            secrets=(secret,),
            vocabulary=self._spec.vocabulary,
            redactor=self._redactor,
        )

    def _secret(self, call: Call) -> str:
        secret = call.credential.secret if call.credential is not None else self._api_key
        if not secret:
            raise provider_not_configured(self.name, self._spec.api_key_env)
        return secret

    def _headers(self, secret: str, *, stream: bool) -> dict[str, str]:
        spec = self._spec
        value = f"{spec.auth_scheme} {secret}" if spec.auth_scheme else secret
        headers = {
            "content-type": "application/json",
            "accept": "text/event-stream" if stream else "application/json",
            spec.auth_header: value,
        }
        headers.update(spec.extra_headers)
        return headers

    def _log_dropped(self, call: Call, request: UpstreamRequest) -> None:
        if request.dropped:
            _log.debug(
                "dropped parameters that %s does not accept: %s",
                self.name,
                ", ".join(request.dropped),
                extra={
                    "provider": self.name,
                    "request_id": call.request_id,
                    "model": call.upstream_model,
                },
            )


def _encode(request: UpstreamRequest) -> bytes:
    return orjson.dumps(request.body)
