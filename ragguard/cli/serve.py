"""``ragguard serve``: the HTTP sidecar (the ``ragguard-server`` distribution)."""

from __future__ import annotations

import os
from typing import Annotated

import typer

from ragguard.cli.common import (
    CollectionOpt,
    ConfigOpt,
    KeyFileOpt,
    SettingsError,
    StoreOpt,
    UrlOpt,
    VerboseOpt,
    core_settings,
    errors,
)
from ragguard.config import validation_message


def serve(
    host: Annotated[
        str | None,
        typer.Option(help="Interface to bind [default: RAGGUARD_HOST, the server TOML's host, or 127.0.0.1]."),
    ] = None,
    port: Annotated[
        int | None,
        typer.Option(min=1, max=65535, help="Port to bind [default: RAGGUARD_PORT, the server TOML's port, or 8080]."),
    ] = None,
    unsafe_no_auth: Annotated[
        bool,
        typer.Option(
            "--unsafe-no-auth",
            help="Run without API tokens (loopback hosts only); also RAGGUARD_UNSAFE_NO_AUTH=true.",
        ),
    ] = False,
    store: StoreOpt = None,
    chroma_url: UrlOpt = None,
    collection: CollectionOpt = None,
    key_file: KeyFileOpt = None,
    config: ConfigOpt = None,
    verbose: VerboseOpt = False,
) -> None:
    """Run the HTTP indexing sidecar. API tokens come from RAGGUARD_API_TOKENS (comma-separated).

    Server settings come from, highest first: these options, RAGGUARD_* variables,
    the TOML file named by RAGGUARD_SERVER_CONFIG, defaults. The log is the
    server's (timestamped lines at RAGGUARD_LOG_LEVEL; -v means debug).
    """
    with errors():
        try:
            from ragguard_server import ServerSettings
            from ragguard_server import serve as run_server
        except ImportError:
            raise SettingsError(
                "the HTTP sidecar is a separate distribution: pip install -e integrations/server "
                "(or pip install ragguard-server)"
            ) from None
        core = core_settings(store, chroma_url, collection, key_file, config)
        # Only what was given on the command line: a default passed here would outrank the
        # environment and the TOML file (pydantic-settings puts arguments first).
        given: dict[str, object] = {"host": host, "port": port, "log_level": "debug" if verbose else None}
        if unsafe_no_auth:
            given["unsafe_no_auth"] = True
        try:
            settings = ServerSettings(core=core, **{k: v for k, v in given.items() if v is not None})
        except ValueError as exc:
            named = os.environ.get("RAGGUARD_SERVER_CONFIG")
            # Suggest server keys only: the core settings are not read from the server's TOML.
            server_keys = [k for k in ServerSettings.model_fields if k != "core"]
            raise SettingsError(validation_message(exc, named, known=server_keys)) from None
        run_server(settings)
