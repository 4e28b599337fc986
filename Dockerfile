# syntax=docker/dockerfile:1
# One image per service, from this one file (docker-compose.yml, deploy/k8s/):
#   docker build --build-arg SERVICE=identity -t pbx-identity .
# SERVICE is a workspace member: identity, kyc, catalog, wallet, cart or fulfillment (served
# alone by `python -m pbx_cli.serve`), or cli (every service and ./pbx's commands, e.g. the
# stand-in warehouse). Nothing here is built on the development machine: tests/deploy lints
# this file with hadolint.

# uv itself, pinned to the version the repository uses (.tools/, ./pbx)
FROM ghcr.io/astral-sh/uv:0.13.10 AS uv

FROM python:3.11-slim-bookworm AS builder
ARG SERVICE
COPY --from=uv /uv /usr/local/bin/uv
# the image's Python, never a downloaded one; the venv copied to the runtime stage as it is
ENV UV_PYTHON_DOWNLOADS=never \
    UV_PYTHON=/usr/local/bin/python3.11 \
    UV_PROJECT_ENVIRONMENT=/app/.venv \
    UV_COMPILE_BYTECODE=1 \
    UV_LINK_MODE=copy
WORKDIR /app
RUN test -n "${SERVICE}" || { echo "build with --build-arg SERVICE=<service>" >&2; exit 1; }
# the locked third-party dependencies first (a layer kept while only the sources change):
# the workspace's manifests and the lock, no source
COPY pyproject.toml uv.lock ./
COPY libs/events/pyproject.toml libs/events/
COPY libs/kit/pyproject.toml libs/kit/
COPY services/identity/pyproject.toml services/identity/
COPY services/kyc/pyproject.toml services/kyc/
COPY services/catalog/pyproject.toml services/catalog/
COPY services/wallet/pyproject.toml services/wallet/
COPY services/cart/pyproject.toml services/cart/
COPY services/fulfillment/pyproject.toml services/fulfillment/
COPY cli/pyproject.toml cli/
RUN --mount=type=cache,target=/root/.cache/uv \
    uv sync --frozen --no-dev --package "pbx-${SERVICE}" --no-install-workspace
# then this service's package and the libraries it needs, installed (not editable) into
# the venv: the runtime stage needs no source tree
COPY libs ./libs
COPY services ./services
COPY cli ./cli
RUN --mount=type=cache,target=/root/.cache/uv \
    uv sync --frozen --no-dev --package "pbx-${SERVICE}" --no-editable

FROM python:3.11-slim-bookworm AS runtime
ARG SERVICE
# a user of its own, by number (Kubernetes' runAsNonRoot checks the number); its home is
# the data directory (mail fallback, kyc's document vault: mount a volume there)
RUN groupadd --system --gid 10001 pbx \
    && useradd --system --uid 10001 --gid pbx --home-dir /var/lib/pbx --create-home \
       --shell /usr/sbin/nologin pbx
COPY --from=builder /app/.venv /app/.venv
# the composition root's sources (python -m pbx_cli.serve), not its package: installing
# pbx-cli would bring every service into every image
COPY cli/src/pbx_cli /app/cli/pbx_cli
ENV PATH=/app/.venv/bin:$PATH \
    PYTHONPATH=/app/cli \
    PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PBX_SERVICE=${SERVICE} \
    PBX_DATA_DIR=/var/lib/pbx
WORKDIR /var/lib/pbx
USER 10001:10001
EXPOSE 8000
# ready = database, broker and relay answer (the same /readyz the orchestrators probe)
HEALTHCHECK --interval=10s --timeout=5s --start-period=60s --retries=3 \
    CMD ["python", "-c", "import urllib.request; urllib.request.urlopen('http://127.0.0.1:8000/readyz', timeout=4)"]
# the service named by PBX_SERVICE (the build's SERVICE), at the root path; the gateway
# in front strips /<service> (python -m pbx_cli.serve --help)
ENTRYPOINT ["python", "-m", "pbx_cli.serve"]
CMD ["--host", "0.0.0.0", "--port", "8000"]
