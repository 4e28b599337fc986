"""``./pbx up --separate``'s plan: the replicas asked for, a port each, identity first, and
an nginx configuration nginx itself accepts (``nginx -t``); the refusals. The processes
themselves run in tests/flows/test_separate_processes.py."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

from pbx_cli.separate import find_nginx, main, nginx_conf, parse_replicas, plan
from pbx_cli.services import SERVICES
from pbx_kit.settings import ConfigurationError, Settings
from pbx_kit.testing import missing


def test_replicas_default_to_one_each_and_take_what_is_asked() -> None:
    counts = parse_replicas("wallet=2, fulfillment=3")
    assert counts == {**dict.fromkeys(SERVICES, 1), "wallet": 2, "fulfillment": 3}


@pytest.mark.parametrize("text", ["wallet", "wallet=0", "wallet=9", "billing=2", "wallet=x"])
def test_a_replica_count_that_makes_no_sense_is_refused(text: str) -> None:
    with pytest.raises(ConfigurationError, match="--replicas"):
        parse_replicas(text)


def test_each_process_has_its_own_port_and_identity_starts_first() -> None:
    processes = plan(parse_replicas("wallet=2"), 9001)
    assert processes[0].service == "identity"
    assert [p.port for p in processes] == list(range(9001, 9001 + len(SERVICES) + 1))
    assert [p.name for p in processes if p.service == "wallet"] == ["wallet-1", "wallet-2"]
    assert all(p.argv[1:4] == ["-m", "pbx_cli.serve", p.service] for p in processes)


def test_the_entry_proxy_routes_each_prefix_to_all_its_replicas(tmp_path: Path) -> None:
    processes = plan(parse_replicas("fulfillment=2"), 9101)
    conf = nginx_conf(processes, "127.0.0.1", 9100, tmp_path)
    for service in SERVICES:
        assert f"location /{service}/ {{" in conf
    fulfillment = [p.port for p in processes if p.service == "fulfillment"]
    upstream = conf.split("upstream fulfillment {")[1].split("}")[0]
    assert [f"127.0.0.1:{port}" in upstream for port in fulfillment] == [True, True]
    nginx = find_nginx()
    if nginx is None:
        missing("nginx", "needed to check the configuration (apt-get install nginx-light)")
    for kind in ("client_body", "proxy", "fastcgi", "uwsgi", "scgi"):
        (tmp_path / kind).mkdir()
    (tmp_path / "nginx.conf").write_text(conf)
    checked = subprocess.run(  # nginx's own check of the file
        [str(nginx), "-t", "-c", str(tmp_path / "nginx.conf"), "-p", str(tmp_path)],
        capture_output=True,
        text=True,
        check=False,
    )
    assert checked.returncode == 0, checked.stderr


def test_separate_processes_need_the_real_servers(tmp_path: Path) -> None:
    with pytest.raises(ConfigurationError, match="PBX_DATABASE_URL"):
        main(Settings(data_dir=tmp_path, amqp_url="memory://"), "127.0.0.1", 8000)
