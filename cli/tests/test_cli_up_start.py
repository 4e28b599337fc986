"""``./pbx up`` refuses clearly, before anything starts (exit 2, ``pbx up: …``): a data
directory it cannot write, a port in use, a data directory another ``./pbx up`` holds.
``--help`` gives every option's meaning and default. Once serving, it says
``listening`` (not before), and the links in its mails point at the port it serves on."""

from __future__ import annotations

import email
import email.policy
import json
import os
import socket
import subprocess
import sys
import time
import uuid
from pathlib import Path

import httpx
import pytest

from pbx_cli.__main__ import main
from pbx_cli.testing import Up, base_env
from pbx_identity.api import REGISTRATION_EXAMPLE
from pbx_kit.testing_faults import free_port

#: settings of the test run that would take ./pbx up off its embedded default
OUTSIDE = ("PBX_DATABASE_URL", "PBX_AMQP_URL", "PBX_PUBLIC_URL", "PBX_LOGIN_URL")


def up_refused(env: dict[str, str], *args: str) -> tuple[int, str]:
    """``./pbx up`` expected to stop at once: its exit code and stderr."""
    clean = {k: v for k, v in os.environ.items() if k not in OUTSIDE}
    done = subprocess.run(
        [sys.executable, "-m", "pbx_cli", "up", *args],
        env={**clean, **env},
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    return done.returncode, done.stderr


def test_help_gives_every_option_its_meaning_and_default(
    capsys: pytest.CaptureFixture[str],
) -> None:
    with pytest.raises(SystemExit) as exit_:
        main(["up", "--help"])
    assert exit_.value.code == 0
    text = " ".join(capsys.readouterr().out.split())
    assert "TCP port the API listens on (default: 8000)" in text
    assert "address the API listens on; 0.0.0.0 for every interface (default: 127.0.0.1)" in text
    assert "(default: PBX_DATA_DIR, else ./var)" in text
    assert "wait at start for PostgreSQL and RabbitMQ to answer (default: 300)" in text
    assert "PBX_PUBLIC_URL" in text


def test_a_data_directory_that_cannot_be_written_is_refused(tmp_path: Path) -> None:
    # tests run as root, whom file modes do not stop: a directory under a file can't be made
    (tmp_path / "afile").write_text("")
    data_dir = tmp_path / "afile" / "data"
    code, err = up_refused(base_env(tmp_path), "--data-dir", str(data_dir), "--port", "0")
    assert code == 2, err
    assert f"pbx up: the data directory {data_dir} is not writable (Not a directory)" in err
    assert "listening" not in err


def test_a_port_in_use_is_refused_before_anything_starts(tmp_path: Path) -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        code, err = up_refused(base_env(tmp_path), "--port", str(port))
    assert code == 2, err
    assert f"pbx up: port {port} on 127.0.0.1 is already in use (another ./pbx up?)" in err
    assert "listening" not in err
    assert "embedded_postgres_started" not in err


def registered_mail(mail_dir: Path, address: str, timeout: float = 30.0) -> str:
    deadline = time.monotonic() + timeout
    while True:
        for path in mail_dir.glob("*/*"):
            mail = email.message_from_bytes(path.read_bytes(), policy=email.policy.default)
            if mail["To"] == address:
                return str(mail.get_body().get_content())  # type: ignore[union-attr]
        assert time.monotonic() < deadline, f"no mail to {address} in {mail_dir}"
        time.sleep(0.2)


@pytest.mark.slow
def test_one_up_per_data_directory_and_its_mails_link_to_the_port_it_serves_on(
    tmp_path: Path,
) -> None:
    for name in OUTSIDE:
        os.environ.pop(name, None)  # the embedded default, whatever the test run says
    first = Up(base_env(tmp_path))
    try:
        first.wait_for_line('"listening"', timeout=120)
        # said once it serves, not before
        assert first.healthz() == 200, first.output

        code, err = up_refused(base_env(tmp_path), "--port", str(free_port()))
        assert code == 2, err
        assert (
            f"pbx up: the data directory {tmp_path} is in use by another ./pbx up "
            f"(pid {first.process.pid})"
        ) in err

        body = json.loads(json.dumps(REGISTRATION_EXAMPLE))
        address = f"up.{uuid.uuid4().hex[:8]}@example.co.jp"
        body["contractor"]["email"] = body["contractor"]["email_confirmation"] = address
        response = httpx.post(
            f"http://127.0.0.1:{first.port}/identity/accounts", json=body, timeout=30
        )
        assert response.status_code == 201, response.text
        text = registered_mail(tmp_path / "mail", address)
        assert f"http://127.0.0.1:{first.port}/login" in text
    finally:
        first.stop()
    assert first.process.returncode == 0, first.output
