"""``./pbx admin create-staff``: a staff login on the embedded default's data, usable at once."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from pbx_cli.__main__ import main
from pbx_identity.commands import LogIn
from pbx_identity.main import make_application
from pbx_kit.runtime import open_infrastructure
from pbx_kit.settings import Settings


@pytest.mark.slow
def test_create_staff_makes_a_login_with_its_role_and_refuses_a_taken_id(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    for name in ("PBX_DATABASE_URL", "PBX_AMQP_URL", "PBX_CIPHER_KEY", "PBX_JWT_PRIVATE_KEYS"):
        monkeypatch.delenv(name, raising=False)
    args = ["admin", "create-staff", "--role", "reviewer", "--login-id", "reviewer01"]
    args += ["--name", "審査 太郎", "--data-dir", str(tmp_path)]
    assert main(args) == 0
    out = capsys.readouterr().out
    assert "REVIEWER01" in out
    match = re.search(r"password \(shown once\): (\S+)", out)
    assert match is not None
    password = match.group(1)

    assert main(args) == 2  # the same login ID again
    assert "taken" in capsys.readouterr().err

    infra = open_infrastructure(Settings(data_dir=tmp_path))
    try:
        app = make_application(infra)
        tokens = app.log_in(LogIn("reviewer01", password))
        caller = infra.token_verifier().verify(tokens.access_token)
        assert caller.roles == frozenset({"reviewer"})
        app.close()
    finally:
        assert infra.embedded is not None
        infra.embedded.stop()
    assert not (tmp_path / "postgres" / "postmaster.pid").exists()


def test_an_unknown_role_is_refused_by_the_command_line() -> None:
    with pytest.raises(SystemExit):
        main(["admin", "create-staff", "--role", "superuser", "--login-id", "x", "--name", "y"])
