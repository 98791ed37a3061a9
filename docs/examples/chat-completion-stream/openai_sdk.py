"""A streamed chat completion with the official OpenAI SDK."""

import os

from openai import OpenAI

client = OpenAI(base_url=os.environ["AGENTOPIA_URL"] + "/v1", api_key=os.environ["AGENTOPIA_KEY"])
stream = client.chat.completions.create(
    model="mock/echo",
    messages=[{"role": "user", "content": "Hello!"}],
    stream=True,
    stream_options={"include_usage": True},
)
for chunk in stream:
    print(chunk.model_dump_json())
