"""Settings from ``PBX_*`` environment variables (one pydantic-settings class)."""

from __future__ import annotations

from pathlib import Path

from pydantic import Field, SecretStr
from pydantic_settings import BaseSettings, SettingsConfigDict


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

    @property
    def uses_rabbitmq(self) -> bool:
        return self.amqp_url.startswith(("amqp://", "amqps://"))
