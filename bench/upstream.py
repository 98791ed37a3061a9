"""A fixed-answer OpenAI-style upstream for benchmarks (`python -m bench.upstream PORT_FILE`).

It answers every POST to .../chat/completions with one canned chat.completion,
so the benchmark measures the gateway rather than a provider emulator's logic.
"""

from __future__ import annotations

import asyncio
import os
import sys
import time

from aiohttp import web

_BODY = (
    b'{"id":"chatcmpl-bench","object":"chat.completion","created":%d,"model":"bench-model",'
    b'"choices":[{"index":0,"message":{"role":"assistant","content":"pong"},'
    b'"logprobs":null,"finish_reason":"stop"}],'
    b'"usage":{"prompt_tokens":8,"completion_tokens":1,"total_tokens":9}}'
)


async def _chat(request: web.Request) -> web.Response:
    await request.read()
    return web.Response(body=_BODY % int(time.time()), content_type="application/json")


async def main(port_file: str) -> None:
    app = web.Application()
    app.router.add_post("/v1/chat/completions", _chat)
    app.router.add_post("/chat/completions", _chat)
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = runner.addresses[0][1]
    with open(f"{port_file}.tmp", "w", encoding="ascii") as handle:
        handle.write(str(port))
    os.replace(f"{port_file}.tmp", port_file)
    await asyncio.Event().wait()


if __name__ == "__main__":
    asyncio.run(main(sys.argv[1]))
