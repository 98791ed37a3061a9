"""Inputs that end-to-end tests of several surfaces send: a tiny image and a prompt
that asks for two tool calls at once."""

from __future__ import annotations

import base64

__all__ = ["PARALLEL", "PNG"]

PARALLEL = "Call get_weather for Paris and get_time for Tokyo, both at once."
# A one-pixel PNG, base64.
PNG = base64.b64encode(
    bytes.fromhex(
        "89504e470d0a1a0a0000000d4948445200000001000000010806000000"
        "1f15c4890000000d49444154789c63f8cf00000301010018dd8db00000000049454e44ae426082"
    )
).decode()
