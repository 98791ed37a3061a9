"""One message with the official Anthropic SDK (it sends the key as `x-api-key`)."""

import os

from anthropic import Anthropic

client = Anthropic(base_url=os.environ["AGENTOPIA_URL"], api_key=os.environ["AGENTOPIA_KEY"])
reply = client.messages.create(
    model="mock/echo", max_tokens=64, messages=[{"role": "user", "content": "Hello!"}]
)
print(reply.model_dump_json(indent=2))
