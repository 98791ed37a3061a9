"""What `make run` prints once the mesh is up: where it is, the key, and examples."""

from __future__ import annotations

import json
import pathlib
import urllib.error
import urllib.request

from services.colocated.topology import COLOCATED, SPLIT

__all__ = ["banner", "first_model"]

_TOPOLOGY = {
    SPLIT: "split (router and provider service in processes of their own)",
    COLOCATED: "colocated (router and provider service in one process)",
}


def first_model(base_url: str, key: str, fallback: str = "mock/echo") -> str:
    """A model id the key may call, from GET /v1/models (fallback when unknown)."""
    request = urllib.request.Request(  # noqa: S310 (loopback URL we built)
        f"{base_url}/models", headers={"authorization": f"Bearer {key}"}
    )
    try:
        with urllib.request.urlopen(request, timeout=5.0) as reply:  # noqa: S310
            models = json.loads(reply.read()).get("data") or []
    except (OSError, urllib.error.URLError, ValueError):
        return fallback
    ids = [str(m.get("id")) for m in models if isinstance(m, dict) and m.get("id")]
    preferred = [i for i in ids if i.startswith("mock/")]
    return (preferred or ids or [fallback])[0]


def banner(
    *,
    edge: str,
    key: str,
    key_note: str,
    model: str,
    logs: str,
    console_dir: pathlib.Path | None = None,
    topology: str = SPLIT,
    docs_dir: pathlib.Path | None = None,
) -> str:
    """`console_dir`: the built console, announced only when it exists; `topology`:
    which one runs (AGENTOPIA_TOPOLOGY, docs/topologies.md); `docs_dir`: the API docs
    site (Swagger UI at /docs), announced when the edge serves it."""
    base = f"http://{edge}/v1"
    console = (
        f"  Console          http://{edge}/   (sign in with the admin key)\n"
        if console_dir is not None and (console_dir / "index.html").is_file()
        else ""
    )
    if docs_dir is not None:
        console += f"  API docs         http://{edge}/docs   (Authorize with the admin key)\n"
    body = json.dumps({"model": model, "messages": [{"role": "user", "content": "Hello!"}]})
    stream_body = body[:-1] + ', "stream": true}'
    return f"""
Agentopia is up.

  OpenAI base URL  {base}
  Admin key        {key}   ({key_note})
{console}  Topology         {_TOPOLOGY[topology]}
  Logs             {logs}/<service>.log      Ctrl-C stops everything.

  export AGENTOPIA_KEY={key}

curl, one response:
  curl -s {base}/chat/completions -H "Authorization: Bearer $AGENTOPIA_KEY" \\
    -H 'Content-Type: application/json' -d '{body}'

curl, streamed (server-sent events):
  curl -sN {base}/chat/completions -H "Authorization: Bearer $AGENTOPIA_KEY" \\
    -H 'Content-Type: application/json' -d '{stream_body}'

OpenAI Python SDK:
  .venv/bin/python - <<'PY'
  import os
  from openai import OpenAI
  client = OpenAI(base_url="{base}", api_key=os.environ["AGENTOPIA_KEY"])
  reply = client.chat.completions.create(
      model="{model}", messages=[{{"role": "user", "content": "Hello!"}}])
  print(reply.choices[0].message.content)
  for chunk in client.chat.completions.create(
          model="{model}", messages=[{{"role": "user", "content": "Hello!"}}], stream=True):
      print(chunk.choices[0].delta.content or "", end="", flush=True) if chunk.choices else None
  print()
  PY

Native gRPC on the same port (generated stubs, no grpcurl):
  .venv/bin/python - <<'PY'
  import os, grpc
  from agentopia.v1 import chat_pb2, inference_service_pb2 as pb, inference_service_pb2_grpc as rpc
  with grpc.insecure_channel("{edge}") as channel:
      stub = rpc.InferenceServiceStub(channel)
      request = chat_pb2.ChatCompletionRequest(
          model="{model}", messages=[chat_pb2.ChatMessage(role="user", text="Hello!")])
      reply = stub.CreateChatCompletion(
          pb.CreateChatCompletionRequest(request=request),
          metadata=[("authorization", "Bearer " + os.environ["AGENTOPIA_KEY"])])
      print(reply.completion.choices[0].message.text)
  PY
"""
