"""Root conftest: the shared infrastructure fixtures (real servers or a loud failure in CI)."""

pytest_plugins = ["pbx_kit.testing"]
