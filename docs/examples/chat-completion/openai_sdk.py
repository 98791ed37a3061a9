"""One chat completion with the official OpenAI SDK."""

import os

from openai import OpenAI

client = OpenAI(base_url=os.environ["AGENTOPIA_URL"] + "/v1", api_key=os.environ["AGENTOPIA_KEY"])
reply = client.chat.completions.create(
    model="mock/echo", messages=[{"role": "user", "content": "Hello!"}]
)
print(reply.model_dump_json(indent=2))
