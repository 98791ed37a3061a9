"""Local stand-ins for upstream provider APIs (aiohttp servers on 127.0.0.1, port 0)."""
