"""A legacy text completion with the official OpenAI SDK."""

import os

from openai import OpenAI

client = OpenAI(base_url=os.environ["AGENTOPIA_URL"] + "/v1", api_key=os.environ["AGENTOPIA_KEY"])
reply = client.completions.create(model="mock/echo", prompt="Say hello", max_tokens=16)
print(reply.model_dump_json(indent=2))
