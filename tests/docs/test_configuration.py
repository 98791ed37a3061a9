"""Every AGENTOPIA_* variable is read through the config readers (or is in the
registry), has a meaning, and docs/configuration.md is current."""

from __future__ import annotations

from tools.docgen.config_vars import computed_reads, direct_reads, reader_variables
from tools.docgen.configuration import load_registry, render_configuration
from tools.docgen.pages import DOCS


def test_no_variable_is_read_outside_the_config_readers_or_the_registry() -> None:
    allowed = set(load_registry()["direct"])
    stray = [f"{r.name} ({r.where})" for r in direct_reads() if r.name not in allowed]
    assert not stray, (
        "AGENTOPIA_* variables read without services.kernel.config's readers: read them in "
        "the service's config class (or list them under [direct] in "
        f"tools/docgen/variables.toml): {stray}"
    )


def test_names_built_at_run_time_are_registered() -> None:
    registered = set(load_registry()["computed"])
    unknown = [f"{r.name} ({r.where})" for r in computed_reads() if r.name not in registered]
    assert not unknown, f"add to [computed] in tools/docgen/variables.toml: {unknown}"


def test_every_variable_has_a_meaning() -> None:
    meanings = load_registry()["meanings"]
    silent = [v.name for v in reader_variables() if not (v.meaning or meanings.get(v.name))]
    assert not silent, (
        "variables without a meaning: comment the read or its config field, or add them to "
        f"[meanings] in tools/docgen/variables.toml: {silent}"
    )


def test_the_registry_names_only_variables_that_exist() -> None:
    registry = load_registry()
    read = {v.name for v in reader_variables()}
    stale = sorted(set(registry["meanings"]) - read)
    assert not stale, f"[meanings] in tools/docgen/variables.toml names unread variables: {stale}"
    direct = {r.name for r in direct_reads()}
    assert set(registry["direct"]) <= direct, set(registry["direct"]) - direct


def test_the_scanner_finds_config_class_reads_and_their_field_comments() -> None:
    found = {v.name: v for v in reader_variables()}
    limits = found["AGENTOPIA_LIMITS_REDIS_URL"]
    assert limits.kind == "string" and "router" in limits.components
    assert found["AGENTOPIA_EDGE_STREAM_IDLE_TIMEOUT_S"].default == "300"  # via the field default


def test_docs_configuration_md_is_up_to_date() -> None:
    assert (DOCS / "configuration.md").read_text() == render_configuration(), (
        "docs/configuration.md is stale: run python -m tools.docgen"
    )
