"""Settings from ``PBX_*`` environment variables (one pydantic-settings class)."""

from __future__ import annotations

from pathlib import Path

from pydantic import Field, SecretStr, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

#: the mail links and the page each points at (the gateway in front of the system serves them)
MAIL_PAGES = {
    "login_url": "/login",
    "password_reset_url": "/password-reset",
    "email_confirm_url": "/email-confirmation",
}


def http_base(host: str, port: int) -> str:
    """``http://host:port`` for a listening address (an IPv6 host in brackets; a wildcard
    address, which no browser can reach, as the loopback one)."""
    if host in ("", "0.0.0.0"):  # noqa: S104 - compared, not bound
        host = "127.0.0.1"
    elif host == "::":
        host = "::1"
    return f"http://[{host}]:{port}" if ":" in host else f"http://{host}:{port}"


class ConfigurationError(Exception):
    """Raised at start when the settings make running unsafe or impossible (the message
    says which setting, and what to do); ``./pbx up`` prints it and exits with 2."""


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="PBX_", extra="ignore")

    #: PostgreSQL URL; unset = start the embedded PostgreSQL under ``data_dir``
    database_url: str | None = None
    #: ``amqp://…`` for RabbitMQ, ``memory://`` for the in-process bus
    amqp_url: str = "memory://"
    #: where the embedded PostgreSQL, the maildir and dev keys live
    data_dir: Path = Path("var")
    #: ``smtp://user:pass@host:port`` (``smtps://`` for TLS); unset = maildir under data_dir
    smtp_url: str | None = None
    mail_from: str = "クラウドPBX <no-reply@cloudpbx.example.jp>"
    #: a mail the server deferred (4xx, unreachable) is tried again after this many seconds,
    #: doubling per attempt up to ``mail_retry_max_seconds``
    mail_retry_first_seconds: float = Field(default=10.0, gt=0)
    mail_retry_max_seconds: float = Field(default=3600.0, gt=0)
    #: AES-GCM key (base64, 32 bytes) for personal data at rest; unset = a dev key under data_dir
    cipher_key: str | None = None
    #: identity's Ed25519 JWT signing keys (PEM, oldest first; several concatenated
    #: for rotation); unset = ``jwt-<kid>.pem`` files under ``data_dir/keys``
    jwt_private_keys: SecretStr | None = None
    #: identity's JWKS URL other services verify tokens with; unset = the in-process keys
    jwks_url: str | None = None
    #: the address customers reach the system at behind a gateway (``https://portal.example.jp``);
    #: the mail links not set one by one are this plus their page. Unset = the address
    #: ``./pbx up`` serves on (see ``served_at``)
    public_url: str | None = None
    #: the login page the completion mail links to
    login_url: str = "http://127.0.0.1:8000/login"
    #: the page the password-reminder mail links to (``?token=…`` is appended)
    password_reset_url: str = "http://127.0.0.1:8000/password-reset"  # noqa: S105 - a URL
    #: the page the mail to a new e-mail address links to (``?token=…`` is appended);
    #: it posts the token to identity's /accounts/email-confirmation
    email_confirm_url: str = "http://127.0.0.1:8000/email-confirmation"
    #: peers whose X-Forwarded-For is believed (the gateway), comma-separated
    trusted_proxies: str = "127.0.0.1,::1"
    #: largest request body accepted (bytes)
    max_body_bytes: int = Field(default=1_048_576, ge=1024)
    #: how long an Idempotency-Key's first response is replayed (seconds)
    idempotency_ttl: int = 86_400
    log_level: str = "INFO"
    #: exchange name (tests isolate themselves with their own)
    exchange: str = "pbx.events"
    #: put before every consumer queue's name (tests sharing a broker keep theirs apart)
    queue_prefix: str = ""
    delivery_limit: int = 5

    @model_validator(mode="after")
    def _links_follow_the_public_url(self) -> Settings:
        if self.public_url:
            self._set_unset_links(self.public_url)
        return self

    def served_at(self, host: str, port: int) -> Settings:
        """These settings for a system served on ``host:port``: the mail links set neither
        one by one nor through ``public_url`` point at ``http://<host>:<port>/<page>``."""
        served = self.model_copy()
        if not self.public_url:
            served._set_unset_links(http_base(host, port))
        return served

    def _set_unset_links(self, base: str) -> None:
        base = base.rstrip("/")
        explicit = self.model_fields_set
        for field, page in MAIL_PAGES.items():
            if field not in explicit:
                object.__setattr__(self, field, f"{base}{page}")

    @property
    def uses_rabbitmq(self) -> bool:
        return self.amqp_url.startswith(("amqp://", "amqps://"))
