"""/docs (Swagger UI) and /openapi.json through the real Envoy edge."""

from __future__ import annotations

import json
import pathlib

import aiohttp
import pytest

from gateway.envoy_config import render_bootstrap
from gateway.routes import with_static_routes
from gateway.settings import EdgeSettings, docs_from_env
from services.kernel.config import ConfigError
from tests.support.edge import run_edge
from tools.localrun.banner import banner
from tools.openapi.site import SWAGGER_ASSETS

_TYPES = {
    ".css": "text/css; charset=utf-8",
    ".js": "text/javascript; charset=utf-8",
    ".png": "image/png",
    ".html": "text/html; charset=utf-8",
}


async def test_swagger_ui_and_the_document_are_served_by_the_edge(site: pathlib.Path) -> None:
    settings = EdgeSettings(console_dir=None, docs_dir=site)
    async with run_edge(settings=settings) as edge, aiohttp.ClientSession(edge.url) as http:
        for url in ("/docs", "/docs/", "/docs/index.html"):
            async with http.get(url) as reply:
                assert reply.status == 200, url
                assert reply.headers["content-type"] == "text/html; charset=utf-8"
                page = await reply.text()
                assert '<div id="swagger-ui">' in page
        for name in (*SWAGGER_ASSETS, "swagger-initializer.js"):
            async with http.get(f"/docs/{name}") as reply:
                assert reply.status == 200, name
                assert reply.headers["content-type"] == _TYPES[pathlib.Path(name).suffix]
                assert await reply.read() == (site / name).read_bytes()
        async with http.get("/docs/swagger-initializer.js") as reply:
            initializer = await reply.text()
            assert 'url: "/openapi.json"' in initializer  # same origin
        async with http.get("/openapi.json") as reply:
            assert reply.status == 200
            assert reply.headers["content-type"] == "application/json"
            assert reply.headers["cache-control"] == "no-cache"
            served = json.loads(await reply.read())
        assert served["servers"] == [{"url": "/", "description": "this gateway"}]
        assert "/v1/chat/completions" in served["paths"]
        async with http.get("/docs/missing.js") as reply:
            assert reply.status == 404


async def test_without_docs_the_paths_answer_404() -> None:
    settings = EdgeSettings(console_dir=None, docs_dir=None)
    async with run_edge(settings=settings) as edge, aiohttp.ClientSession(edge.url) as http:
        for url in ("/docs", "/openapi.json"):
            async with http.get(url) as reply:
                assert reply.status == 404


def test_docs_dir_from_the_environment(site: pathlib.Path, tmp_path: pathlib.Path) -> None:
    assert docs_from_env({"AGENTOPIA_DOCS_DIR": str(site)}) == site
    assert docs_from_env({"AGENTOPIA_DOCS_DIR": "off"}) is None
    with pytest.raises(ConfigError, match=r"AGENTOPIA_DOCS_DIR=.*no index.html, openapi.json"):
        docs_from_env({"AGENTOPIA_DOCS_DIR": str(tmp_path)})


def test_the_helm_bootstrap_gets_the_same_static_routes(site: pathlib.Path) -> None:
    """`python -m gateway --config` (the chart's edge) adds what the image carries."""
    settings = EdgeSettings(console_dir=None, docs_dir=site)
    prerendered = render_bootstrap(EdgeSettings(console_dir=None, docs_dir=None))
    assert with_static_routes(prerendered, settings.static_mounts()) == render_bootstrap(settings)


def test_make_run_announces_the_docs(site: pathlib.Path) -> None:
    text = banner(edge="127.0.0.1:8080", key="k", key_note="n", model="m", logs="l", docs_dir=site)
    assert "API docs         http://127.0.0.1:8080/docs" in text
