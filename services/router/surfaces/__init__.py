"""Client surfaces other than the unified (OpenAI-shaped) one: each is a pure
translator between its wire format and the unified request, response and stream
that the one pipeline, and every provider adapter, speak. docs/surfaces.md lists
them and says what each feature becomes on each backend."""
