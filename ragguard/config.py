"""Settings: environment (``RAGGUARD_*``) and an optional TOML file.

Precedence: explicit arguments > environment > TOML file (``RAGGUARD_CONFIG``
or ``--config``) > defaults. Example ``ragguard.toml``::

    default_trust = "untrusted"
    revoked_sources = ["https://old-wiki.example/*"]

    [[sources]]
    pattern = "https://wiki.example/*"
    trust = "trusted"

    [[sources]]
    pattern = "https://crawl.example/*"
    trust = "untrusted"
    quarantine_at = 0.4
"""

from __future__ import annotations

import difflib
import fnmatch
import sys
from collections.abc import Iterable
from pathlib import Path

from pydantic import BaseModel, ConfigDict, Field, SecretStr, field_validator, model_validator
from pydantic_settings import BaseSettings, PydanticBaseSettingsSource, SettingsConfigDict, TomlConfigSettingsSource

from ragguard.errors import ConfigurationError
from ragguard.policy import Thresholds
from ragguard.types import TrustTier

if sys.version_info >= (3, 11):
    from tomllib import loads as _toml_loads
else:  # pragma: no cover - Python 3.10
    from tomli import loads as _toml_loads

DEFAULT_STORE = Path(".ragguard")
DEFAULT_COLLECTION = "ragguard"


class SourceRule(BaseModel):
    """Trust and thresholds for sources whose URI matches ``pattern`` (a glob)."""

    # A misspelt key ("quarantine_a") must fail at load, not be ignored while the rule looks applied.
    model_config = ConfigDict(extra="forbid")

    pattern: str
    trust: TrustTier = TrustTier.UNTRUSTED
    quarantine_at: float | None = Field(default=None, ge=0.0, le=1.0)
    reject_at: float | None = Field(default=None, ge=0.0, le=1.0)

    @model_validator(mode="after")
    def _ordered(self) -> SourceRule:
        if self.quarantine_at is not None and self.reject_at is not None and self.quarantine_at > self.reject_at:
            raise ValueError(
                f"source rule {self.pattern!r}: quarantine_at {self.quarantine_at} is above reject_at {self.reject_at}"
            )
        return self

    def matches(self, source: str) -> bool:
        """Glob match on the full source URI."""
        return fnmatch.fnmatchcase(source, self.pattern)


class Settings(BaseSettings):
    """ragguard settings. Every field can be set as ``RAGGUARD_<NAME>``."""

    # hide_input_in_errors: a mistyped signing_key (a number in TOML) must not appear in the error.
    model_config = SettingsConfigDict(
        env_prefix="RAGGUARD_", extra="forbid", validate_default=True, hide_input_in_errors=True
    )

    store: Path = DEFAULT_STORE
    chroma_url: str | None = None
    collection: str = DEFAULT_COLLECTION
    key_file: Path | None = None
    signing_key: SecretStr | None = None
    config: Path | None = None
    default_trust: TrustTier = TrustTier.UNTRUSTED
    sources: list[SourceRule] = Field(default_factory=list)
    revoked_sources: list[str] = Field(default_factory=list)
    chunk_size: int = Field(default=1000, ge=50, le=100_000)
    chunk_overlap: int = Field(default=100, ge=0)
    batch_size: int = Field(default=256, ge=1, le=5000)
    #: Run the text detectors in a thread while the embedder encodes the same batch
    #: (the model releases the GIL in its kernels; the rules need no vectors). Off by
    #: default: where the model already uses every core (2 cores here) it gained nothing
    #: measurable (bench/perf.py: ingest ratio 0.999 on, 0.996 off); worth trying where
    #: the model runs on a GPU or on fewer threads than there are cores.
    overlap_screening: bool = False
    #: Seals a guard remembers as verified, so chunks it retrieves again skip the
    #: parse and signature check (text, vector, metadata, id, key and revocation are
    #: still checked every time). About 2 KB each (oldest out first); 0 turns it off.
    seal_cache_size: int = Field(default=4096, ge=0, le=100_000)
    model: str | None = None
    model_sha256: str | None = None
    unsafe_skip_model_digest: bool = False

    @field_validator("store")
    @classmethod
    def _store_folder(cls, v: Path) -> Path:
        if v.exists() and not v.is_dir():
            raise ValueError(f"{v} is a file; the store is a folder (it is created if missing)")
        return v

    @field_validator("collection")
    @classmethod
    def _collection_name(cls, v: str) -> str:
        import re

        if not re.fullmatch(r"[A-Za-z0-9][A-Za-z0-9._-]{1,60}[A-Za-z0-9]", v):
            raise ValueError("collection names are 3-62 characters of letters, digits, '.', '_' or '-'")
        return v

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        """Arguments, then environment, then the TOML file named by ``config``."""
        return sources_with_toml(settings_cls, init_settings, env_settings, "config", "RAGGUARD_CONFIG")

    # -- source policy ----------------------------------------------------
    def source_rule(self, source: str) -> SourceRule | None:
        """The first rule whose pattern matches ``source``."""
        return next((r for r in self.sources if r.matches(source)), None)

    def trust_for(self, source: str, requested: TrustTier | None = None) -> TrustTier:
        """Trust tier of a source. Config can lower a request, never raise it.

        A caller may ask for ``trusted``, but a source configured ``untrusted``
        or ``blocked`` stays so: the config is the authority on trust. A
        revoked source is ``blocked``.
        """
        return self.trust_decision(source, requested)[0]

    def trust_decision(self, source: str, requested: TrustTier | None = None) -> tuple[TrustTier, str]:
        """:meth:`trust_for`'s tier and what decided it.

        Returns:
            ``(tier, why)``; ``why`` is ``"revoked source"``, ``"source rule 'PATTERN'"``,
            ``"requested"`` or ``"default"``.
        """
        rule = self.source_rule(source)
        by_rule = f"source rule {rule.pattern!r}" if rule is not None else ""
        # A revoked source is never served, so nothing new from it is stored either.
        if self.is_revoked_source(source):
            return TrustTier.BLOCKED, "revoked source"
        if rule is not None and rule.trust is TrustTier.BLOCKED:
            return TrustTier.BLOCKED, by_rule
        if requested is TrustTier.BLOCKED:
            return TrustTier.BLOCKED, "requested"
        if rule is not None and rule.trust is TrustTier.UNTRUSTED:
            return TrustTier.UNTRUSTED, by_rule
        if requested is not None:
            return requested, "requested"
        if rule is not None:
            return rule.trust, by_rule
        return self.default_trust, "default"

    def thresholds_for(self, source: str, default: Thresholds) -> Thresholds | None:
        """Per-source threshold override, or None to use the tier's defaults."""
        rule = self.source_rule(source)
        if rule is None or (rule.quarantine_at is None and rule.reject_at is None):
            return None
        # A threshold the rule leaves out follows the one it sets, so the pair stays ordered.
        if rule.quarantine_at is not None:
            q = rule.quarantine_at
        else:
            q = min(default.quarantine, rule.reject_at) if rule.reject_at is not None else default.quarantine
        r = rule.reject_at if rule.reject_at is not None else max(default.reject, q)
        return Thresholds(q, r)

    def is_revoked_source(self, source: str) -> bool:
        """True if ``source`` matches a revoked-source glob."""
        return any(fnmatch.fnmatchcase(source, pat) for pat in self.revoked_sources)

    def is_blocked_source(self, source: str) -> bool:
        """True if a rule marks ``source`` blocked."""
        rule = self.source_rule(source)
        return rule is not None and rule.trust is TrustTier.BLOCKED


def validation_message(exc: Exception, where: str | None = None, known: Iterable[str] | None = None) -> str:
    """One line for a settings error: ``invalid setting LOCATION: what is wrong`` (the first one).

    Args:
        exc: The error (pydantic's ValidationError, or any other).
        where: The config file the settings were read from (beside the environment), named in the message.
        known: The setting names to suggest from for a misspelt one; the core settings' when None.
    """
    errors = getattr(exc, "errors", None)
    found = errors() if callable(errors) else []
    if not found:
        return str(exc)
    e = found[0]
    loc = [str(x) for x in e.get("loc", ())]
    # pydantic prefixes a validator's own message with "Value error, ".
    msg = str(e.get("msg")).removeprefix("Value error, ")
    if e.get("type") == "extra_forbidden" and loc:
        names = list(known) if known is not None else [*Settings.model_fields, *SourceRule.model_fields]
        close = difflib.get_close_matches(loc[-1], names, n=1)
        msg = f"unknown setting{f' (did you mean {close[0]!r}?)' if close else ''}"
    source = f" (from {where} or a RAGGUARD_ variable)" if where else ""
    return f"invalid setting {'.'.join(loc)}{source}: {msg}" if loc else f"invalid settings{source}: {msg}"


def sources_with_toml(
    settings_cls: type[BaseSettings],
    init_settings: PydanticBaseSettingsSource,
    env_settings: PydanticBaseSettingsSource,
    field: str,
    env_var: str,
    error: type[ConfigurationError] = ConfigurationError,
) -> tuple[PydanticBaseSettingsSource, ...]:
    """Settings sources: arguments, environment, then the TOML file named by ``field`` / ``env_var``.

    Raises:
        ConfigurationError: (or ``error``) If the named file does not exist.
    """
    import os

    sources: list[PydanticBaseSettingsSource] = [init_settings, env_settings]
    raw = init_settings().get(field) or os.environ.get(env_var)
    if raw:
        path = Path(raw)
        if path.is_dir():
            raise error(f"config file {path} is a folder, not a TOML file")
        if not path.is_file():
            raise error(f"config file {path} does not exist")
        try:
            _toml_loads(path.read_text(encoding="utf-8"))
        except (ValueError, UnicodeDecodeError) as exc:  # TOMLDecodeError is a ValueError
            raise error(f"config file {path} is not valid TOML: {exc}") from None
        sources.append(TomlConfigSettingsSource(settings_cls, toml_file=path))
    return tuple(sources)
