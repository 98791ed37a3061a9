"""One model with the official OpenAI SDK."""

import os

from openai import OpenAI

client = OpenAI(base_url=os.environ["AGENTOPIA_URL"] + "/v1", api_key=os.environ["AGENTOPIA_KEY"])
print(client.models.retrieve("mock/echo").model_dump_json(indent=2))
