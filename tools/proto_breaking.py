"""`buf breaking` for protos/: the working tree against a git baseline (run by `make lint`).

The baseline is `main` when the checkout is on another branch, otherwise the commit the
working tree's protos were last changed from: HEAD when protos/ has uncommitted
changes, else HEAD's parent (so CI on a fresh clone of main checks the last commit).
Both sides are compiled with the same protoc includes as `make protos` (google/api
comes from googleapis-common-protos, not the repository), then compared as images.
Without git history there is nothing to compare against: it says so and passes.
"""

from __future__ import annotations

import io
import pathlib
import subprocess
import sys
import tarfile
import tempfile

from grpc_tools import protoc

from tools.gen_protos import PROTOS, ROOT, _include_dirs

BUF = ROOT / "node_modules" / ".bin" / "buf"


def _git(*args: str) -> subprocess.CompletedProcess[bytes]:
    return subprocess.run(["git", *args], cwd=ROOT, capture_output=True, check=False)


def baseline() -> str | None:
    """The git ref to compare against, None when there is no history to compare with."""
    if _git("rev-parse", "--verify", "HEAD").returncode != 0:
        return None
    branch = _git("rev-parse", "--abbrev-ref", "HEAD").stdout.decode().strip()
    if branch not in ("main", "HEAD") and _git("rev-parse", "--verify", "main").returncode == 0:
        return "main"
    if _git("diff", "--quiet", "HEAD", "--", "protos").returncode != 0:
        return "HEAD"
    return "HEAD~1" if _git("rev-parse", "--verify", "HEAD~1").returncode == 0 else None


def _image(protos: pathlib.Path, out: pathlib.Path) -> None:
    sources = sorted(str(p.relative_to(protos)) for p in protos.glob("agentopia/**/*.proto"))
    includes = [str(protos), *_include_dirs()[1:]]
    args = [
        "grpc_tools.protoc",
        *(f"-I{d}" for d in includes),
        f"--descriptor_set_out={out}",
        "--include_imports",
        "--include_source_info",
        *sources,
    ]
    if protoc.main(args) != 0:
        raise SystemExit(f"proto-breaking: the protos at the baseline do not compile ({protos})")


def main() -> int:
    ref = baseline()
    if ref is None:
        print("buf breaking: no git history to compare against; skipped")  # noqa: T201
        return 0
    with tempfile.TemporaryDirectory(prefix="agentopia-breaking-") as scratch:
        folder = pathlib.Path(scratch)
        archive = _git("archive", "--format=tar", ref, "protos")
        if archive.returncode != 0:
            print(f"buf breaking: {ref} has no protos/; skipped")  # noqa: T201
            return 0
        with tarfile.open(fileobj=io.BytesIO(archive.stdout)) as tar:
            tar.extractall(folder, filter="data")
        print(f"buf breaking against {ref}")  # noqa: T201
        return compare(folder / "protos", PROTOS).returncode


def compare(before: pathlib.Path, after: pathlib.Path) -> subprocess.CompletedProcess[str]:
    """`buf breaking` of the protos in `after` against those in `before` (output captured
    only when run from a test; the command's own output otherwise reaches the terminal)."""
    with tempfile.TemporaryDirectory(prefix="agentopia-images-") as scratch:
        images = pathlib.Path(scratch)
        _image(before, images / "before.pb")
        _image(after, images / "after.pb")
        command = [
            str(BUF),
            "breaking",
            f"{images / 'after.pb'}#format=binpb",
            "--against",
            f"{images / 'before.pb'}#format=binpb",
            "--config",
            str(PROTOS / "buf.yaml"),
            "--path",
            "agentopia",
        ]
        result = subprocess.run(command, check=False, capture_output=True, text=True)
        sys.stdout.write(result.stdout)
        sys.stderr.write(result.stderr)
        return result


if __name__ == "__main__":
    sys.exit(main())
