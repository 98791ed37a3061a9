"""`make run` sets workload identities up by itself: a new token per workload per run,
never on disk, the peer table of their digests, identities required; each program is
told its own name."""

from __future__ import annotations

import pathlib

from services.kernel.identity import IdentitySettings, token_digest
from services.kernel.peers import WORKLOADS
from tools.localrun.identities import PEERS_VAR, token_var
from tools.localrun.run import mesh_env, mesh_programs


def test_every_workload_gets_a_fresh_token_and_the_peer_table(tmp_path: pathlib.Path) -> None:
    first, _ = mesh_env({"AGENTOPIA_DATA_DIR": str(tmp_path)})
    second, _ = mesh_env({"AGENTOPIA_DATA_DIR": str(tmp_path)})
    tokens = {name: first[token_var(name)] for name in WORKLOADS}
    assert all(len(token) >= 32 for token in tokens.values())
    assert len(set(tokens.values())) == len(WORKLOADS)
    assert all(second[token_var(name)] != tokens[name] for name in WORKLOADS)
    peers = dict(item.split("=") for item in first[PEERS_VAR].split(","))
    assert peers == {name: token_digest(token) for name, token in tokens.items()}
    assert first["AGENTOPIA_IDENTITY_REQUIRED"] == "true"
    on_disk = "".join(p.read_text(errors="replace") for p in tmp_path.rglob("*") if p.is_file())
    assert not any(token in on_disk for token in tokens.values())


def test_each_program_reads_its_own_identity(tmp_path: pathlib.Path) -> None:
    env, _ = mesh_env({"AGENTOPIA_DATA_DIR": str(tmp_path)})
    for program in mesh_programs(env):
        if program.name == "edge":
            continue
        name = program.env["AGENTOPIA_IDENTITY_NAME"]
        assert name == program.name
        settings = IdentitySettings.from_env(name, {**env, **program.env})
        assert settings.token == env[token_var(name)] and settings.enforced
