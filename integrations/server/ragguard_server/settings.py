"""Server settings: environment (``RAGGUARD_*``) and an optional TOML file.

Precedence mirrors :class:`ragguard.Settings`: explicit arguments > environment
> TOML file (``RAGGUARD_SERVER_CONFIG``) > defaults. Example::

    host = "0.0.0.0"
    port = 8080
    max_records_per_request = 500

The core settings (store, Chroma URL, collection, keys, source policy) stay in
:class:`ragguard.Settings`, read from their own ``RAGGUARD_*`` variables and
``RAGGUARD_CONFIG`` file; :attr:`ServerSettings.core` holds them. They are kept
apart because the core settings forbid unknown keys, so server keys cannot live
in the core file.
"""

from __future__ import annotations

import ipaddress
from pathlib import Path
from typing import Annotated, Any, Literal

from pydantic import Field, SecretStr, field_validator
from pydantic_settings import (
    BaseSettings,
    NoDecode,
    PydanticBaseSettingsSource,
    SettingsConfigDict,
)
from ragguard import ConfigurationError, Settings
from ragguard.config import sources_with_toml

#: Shortest API token accepted; shorter ones are guessable.
MIN_TOKEN_CHARS = 16

LogLevel = Literal["critical", "error", "warning", "info", "debug"]


class ServerConfigError(ConfigurationError):
    """The server is configured in a way it refuses to start with (never carries a token)."""


class ServerSettings(BaseSettings):
    """Settings of the HTTP sidecar. Every field can be set as ``RAGGUARD_<NAME>``.

    Attributes:
        host: Interface to bind.
        port: TCP port to bind.
        api_tokens: Bearer tokens accepted on ``/v1`` routes; ``RAGGUARD_API_TOKENS``
            is comma-separated. Several tokens allow rotation without downtime.
        unsafe_no_auth: Serve ``/v1`` without tokens. Accepted only on a loopback host.
        max_body_bytes: Largest request body; larger ones get 413.
        max_records_per_request: Most records in one ingest or scan request.
        max_text_chars: Longest record text (and search query), in characters.
        max_k: Most search results one request may ask for.
        max_quarantine_page: Most quarantine entries one list request may ask for.
        log_level: Log level for uvicorn and ragguard.
        server_config: TOML file with the fields above (``RAGGUARD_SERVER_CONFIG``).
        core: The core ragguard settings (store, Chroma URL, collection, keys, policy).
    """

    # hide_input_in_errors: a validation error must never echo a token back.
    model_config = SettingsConfigDict(
        env_prefix="RAGGUARD_", extra="forbid", validate_default=True, hide_input_in_errors=True
    )

    host: str = "127.0.0.1"
    port: int = Field(default=8080, ge=0, le=65535)
    api_tokens: Annotated[list[SecretStr], NoDecode] = Field(default_factory=list)
    unsafe_no_auth: bool = False
    max_body_bytes: int = Field(default=8 * 1024 * 1024, ge=1024)
    max_records_per_request: int = Field(default=1000, ge=1)
    max_text_chars: int = Field(default=100_000, ge=1)
    max_k: int = Field(default=100, ge=1, le=10_000)
    max_quarantine_page: int = Field(default=1000, ge=1)
    log_level: LogLevel = "info"
    server_config: Path | None = None
    core: Settings = Field(default_factory=Settings)

    @field_validator("api_tokens", mode="before")
    @classmethod
    def _split_tokens(cls, value: Any) -> Any:
        """Accept ``"a,b"`` (the environment form) as well as a list (TOML, Python)."""
        if isinstance(value, str):
            return [part.strip() for part in value.split(",") if part.strip()]
        if isinstance(value, (list, tuple)):
            return [v.strip() if isinstance(v, str) else v for v in value]
        return value

    @field_validator("api_tokens")
    @classmethod
    def _strong_tokens(cls, value: list[SecretStr]) -> list[SecretStr]:
        for i, token in enumerate(value, 1):
            secret = token.get_secret_value()
            # The message names the position, never the token.
            if len(secret) < MIN_TOKEN_CHARS:
                raise ValueError(f"API token #{i} is shorter than {MIN_TOKEN_CHARS} characters")
            if any(ch.isspace() for ch in secret):
                raise ValueError(f"API token #{i} contains whitespace")
        return value

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        """Arguments, then environment, then the TOML file named by ``server_config``."""
        return sources_with_toml(
            settings_cls, init_settings, env_settings, "server_config", "RAGGUARD_SERVER_CONFIG", ServerConfigError
        )

    @property
    def auth_enabled(self) -> bool:
        """True when ``/v1`` routes require a bearer token."""
        return bool(self.api_tokens)

    def check_startup(self) -> None:
        """Refuse configurations the server must not start with.

        Tokens are required unless ``unsafe_no_auth`` is set, and
        ``unsafe_no_auth`` is accepted only on a loopback host, so an
        unauthenticated sidecar is never reachable from the network by mistake.

        Raises:
            ServerConfigError: Saying what to set.
        """
        if self.unsafe_no_auth and not is_loopback(self.host):
            raise ServerConfigError(
                f"unsafe_no_auth is only accepted on a loopback host (127.0.0.1, ::1, localhost), "
                f"not {self.host!r}: set RAGGUARD_API_TOKENS instead"
            )
        if not self.api_tokens and not self.unsafe_no_auth:
            raise ServerConfigError(
                "no API token configured: set RAGGUARD_API_TOKENS (comma-separated, at least "
                f"{MIN_TOKEN_CHARS} characters each); for local development on a loopback host only, "
                "RAGGUARD_UNSAFE_NO_AUTH=true serves without authentication"
            )


def is_loopback(host: str) -> bool:
    """True for ``localhost`` and any address in 127.0.0.0/8 or ``::1``.

    Names other than ``localhost`` are not resolved: what a name points to can
    change after the check, so only literal addresses count.
    """
    name = host.strip().strip("[]").rstrip(".").lower()
    if name == "localhost":
        return True
    try:
        addr = ipaddress.ip_address(name)
    except ValueError:
        return False
    if isinstance(addr, ipaddress.IPv6Address) and addr.ipv4_mapped is not None:
        return addr.ipv4_mapped.is_loopback
    return addr.is_loopback
