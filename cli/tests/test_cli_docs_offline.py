"""``/docs`` and ``/redoc`` work without internet: every script, style and icon they name is
served by the service itself, alone and mounted under ``/identity`` as in ``./pbx up``."""

from __future__ import annotations

import re

import httpx
import pytest
from fastapi import FastAPI

from pbx_cli.up import root_app
from pbx_kit.app import create_app
from pbx_kit.runtime import ServiceRuntime

#: src/href attributes and the spec URL given to the UI scripts
URL_RE = re.compile(r"""(?:src|href)="([^"]+)"|url: ?'([^']+)'|spec-url="([^"]+)\"""")
CDNS = ("cdn.jsdelivr.net", "unpkg.com", "fastapi.tiangolo.com", "fonts.googleapis.com")


def _service() -> FastAPI:
    return create_app("identity", title="Identity")


def _served(prefix: str) -> FastAPI:
    app = _service()
    return root_app([ServiceRuntime(name="identity", api=app)]) if prefix else app


def _urls(html: str) -> list[str]:
    return [next(g for g in m.groups() if g) for m in URL_RE.finditer(html)]


@pytest.mark.parametrize("prefix", ["", "/identity"], ids=["service", "mounted"])
@pytest.mark.parametrize(
    ("page", "expected"),
    [
        ("/docs", {"swagger-ui-bundle.js", "swagger-ui.css", "favicon.png", "openapi.json"}),
        ("/redoc", {"redoc.standalone.js", "favicon.png", "openapi.json"}),
    ],
)
async def test_docs_pages_name_only_their_own_files(
    prefix: str, page: str, expected: set[str]
) -> None:
    transport = httpx.ASGITransport(app=_served(prefix))
    async with httpx.AsyncClient(transport=transport, base_url="http://test") as client:
        answer = await client.get(f"{prefix}{page}")
        assert answer.status_code == 200
        html = answer.text
        for cdn in CDNS:
            assert cdn not in html
        assert not re.search(r"https?://", html)
        urls = _urls(html)
        assert {url.rsplit("/", 1)[-1] for url in urls} >= expected
        for url in urls:
            assert url.startswith(f"{prefix}/"), url
            fetched = await client.get(url)
            assert fetched.status_code == 200, url
            kind = fetched.headers["content-type"]
            if url.endswith(".js"):
                assert "javascript" in kind
                assert len(fetched.content) > 100_000
            elif url.endswith(".css"):
                assert kind.startswith("text/css")
            elif url.endswith(".json"):
                assert fetched.json()["info"]["title"] == "Identity"
            else:
                assert kind == "image/png"


async def test_static_files_stay_out_of_the_openapi_document() -> None:
    paths = _service().openapi()["paths"]
    assert not [p for p in paths if p.startswith(("/static-docs", "/docs", "/redoc"))]
