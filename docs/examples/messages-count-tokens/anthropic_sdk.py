"""Token counting with the official Anthropic SDK."""

import os

from anthropic import Anthropic

client = Anthropic(base_url=os.environ["AGENTOPIA_URL"], api_key=os.environ["AGENTOPIA_KEY"])
reply = client.messages.count_tokens(
    model="mock/echo", messages=[{"role": "user", "content": "Hello!"}]
)
print(reply.model_dump_json())
