"""Embeddings with the official OpenAI SDK."""

import os

from openai import OpenAI

client = OpenAI(base_url=os.environ["AGENTOPIA_URL"] + "/v1", api_key=os.environ["AGENTOPIA_KEY"])
reply = client.embeddings.create(model="mock/embed", input=["Hello", "World"])
print(reply.model_dump_json())
