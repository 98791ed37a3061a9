"""`python -m gateway`: render the edge bootstrap and run Envoy under supervision.

    python -m gateway                  # render from the environment, run Envoy
    python -m gateway --print-config   # print the rendered bootstrap and exit
    python -m gateway --validate       # `envoy --mode validate` on it and exit
    python -m gateway --config FILE    # run a pre-rendered bootstrap (the Helm
                                       # ConfigMap), adding the static files (the
                                       # console, /docs and /openapi.json)

Variables: see gateway/settings.py (AGENTOPIA_EDGE_*, AGENTOPIA_*_TARGET, OTEL_*).
"""

from __future__ import annotations

import argparse
import logging
import pathlib
import subprocess
import sys
import tempfile
from typing import Any

import yaml

from gateway.envoy_config import render_bootstrap, to_yaml
from gateway.launcher import LaunchError, Reporting, check_descriptor, envoy_command, supervise
from gateway.ports import admin_address_flag
from gateway.routes import with_static_routes
from gateway.settings import EdgeSettings, LaunchSettings
from services.kernel.config import ConfigError
from services.kernel.logs import configure_logging

_log = logging.getLogger("gateway")


def _parse(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m gateway", description="Run the Envoy edge.")
    parser.add_argument("--config", type=pathlib.Path, help="run this bootstrap instead")
    parser.add_argument("--print-config", action="store_true", help="print the bootstrap, exit")
    parser.add_argument("--validate", action="store_true", help="validate with Envoy, exit")
    return parser.parse_args(argv)


def _bootstrap(settings: EdgeSettings, prerendered: pathlib.Path | None) -> dict[str, Any]:
    if prerendered is None:
        return render_bootstrap(settings)
    try:
        loaded: dict[str, Any] = yaml.safe_load(prerendered.read_text())
    except (OSError, yaml.YAMLError) as exc:
        raise LaunchError(f"cannot read the bootstrap {prerendered}: {exc}") from exc
    mounts = settings.static_mounts()
    return with_static_routes(loaded, mounts) if mounts else loaded


def _write(text: str, launch: LaunchSettings, scratch: pathlib.Path) -> pathlib.Path:
    target = launch.config_path or scratch / "envoy.yaml"
    target.parent.mkdir(parents=True, exist_ok=True)
    target.write_text(text)
    return target


def main(argv: list[str] | None = None) -> int:
    configure_logging("edge")
    args = _parse(argv)
    with tempfile.TemporaryDirectory(prefix="agentopia-edge-") as scratch:
        return _run(args, pathlib.Path(scratch))


def _run(args: argparse.Namespace, scratch: pathlib.Path) -> int:
    try:
        settings = EdgeSettings.from_env()
        launch = LaunchSettings.from_env()
        check_descriptor(settings)
        text = to_yaml(_bootstrap(settings, args.config))
        if args.print_config:
            print(text, end="")  # noqa: T201
            return 0
        reporting = Reporting(settings.admin, scratch / "admin.address", launch.port_file)
        command = envoy_command(
            _write(text, launch, scratch),
            concurrency=launch.concurrency,
            log_level=launch.log_level,
            drain_seconds=launch.drain_seconds,
            extra=admin_address_flag(reporting.admin_file),
        )
    except (ConfigError, LaunchError) as exc:
        print(f"agentopia edge: {exc}", file=sys.stderr)  # noqa: T201
        return 2
    if args.validate:
        return subprocess.run([*command, "--mode", "validate"], check=False).returncode
    _log.info("edge on http://%s (admin http://%s)", settings.listen, settings.admin)
    for mount in settings.static_mounts():
        _log.info("static files at %s from %s", mount.prefix, mount.folder)
    return supervise(command, launch, reporting)


if __name__ == "__main__":
    sys.exit(main())
