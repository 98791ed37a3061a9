"""The folder the edge serves at /docs/ and /openapi.json: the OpenAPI document and
Swagger UI (swagger-ui-dist from node_modules, pinned by package-lock.json) with an
initializer that loads the document from the same origin and keeps the bearer key
the user authorises with."""

from __future__ import annotations

import json
import pathlib
import shutil
from typing import Any

__all__ = ["SWAGGER_ASSETS", "write_site"]

SWAGGER_DIST = pathlib.Path(__file__).resolve().parents[2] / "node_modules" / "swagger-ui-dist"
SWAGGER_ASSETS = (
    "swagger-ui.css",
    "swagger-ui-bundle.js",
    "swagger-ui-standalone-preset.js",
    "favicon-32x32.png",
    "favicon-16x16.png",
    "oauth2-redirect.html",
)
# Absolute asset paths: the page is served at /docs and at /docs/.
_INDEX = """<!doctype html>
<html lang="en">
  <head>
    <meta charset="utf-8">
    <title>Agentopia API</title>
    <link rel="stylesheet" href="/docs/swagger-ui.css">
    <link rel="icon" type="image/png" href="/docs/favicon-32x32.png" sizes="32x32">
    <style>body { margin: 0; }</style>
  </head>
  <body>
    <div id="swagger-ui"></div>
    <script src="/docs/swagger-ui-bundle.js"></script>
    <script src="/docs/swagger-ui-standalone-preset.js"></script>
    <script src="/docs/swagger-initializer.js"></script>
  </body>
</html>
"""
_INITIALIZER = """// Agentopia: the document from this gateway; try-it calls this gateway with the
// key entered under "Authorize" (kept across reloads in this browser only).
window.onload = function () {
  window.ui = SwaggerUIBundle({
    url: "/openapi.json",
    dom_id: "#swagger-ui",
    deepLinking: true,
    persistAuthorization: true,
    tryItOutEnabled: true,
    displayRequestDuration: true,
    presets: [SwaggerUIBundle.presets.apis, SwaggerUIStandalonePreset],
    layout: "BaseLayout",
  });
};
"""


def write_site(
    document: dict[str, Any], out: pathlib.Path, dist: pathlib.Path = SWAGGER_DIST
) -> None:
    """Write openapi.json, index.html, the initializer and Swagger UI's assets into `out`."""
    missing = [name for name in SWAGGER_ASSETS if not (dist / name).is_file()]
    if missing:
        raise SystemExit(
            f"openapi: swagger-ui-dist is not installed ({dist}); run `make deps` "
            f"(missing {', '.join(missing)})"
        )
    out.mkdir(parents=True, exist_ok=True)
    for name in SWAGGER_ASSETS:
        shutil.copyfile(dist / name, out / name)
    (out / "index.html").write_text(_INDEX)
    (out / "swagger-initializer.js").write_text(_INITIALIZER)
    (out / "openapi.json").write_text(json.dumps(document, indent=1, sort_keys=False) + "\n")
