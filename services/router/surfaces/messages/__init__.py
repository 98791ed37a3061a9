"""The Messages API surface (`POST /v1/messages`, `/v1/messages/count_tokens`):
request translation to the unified format (request.py), the unified response and
stream back (response.py, stream.py), and errors in its own shape (errors.py).
Translation is pure; a backend that takes the format natively gets the client's
body as is instead (the provider service decides, see docs/surfaces.md)."""
