"""``ragguard serve``: the HTTP sidecar (the ``ragguard-server`` distribution)."""

from __future__ import annotations

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
    first_error,
    setup_logging,
)


def serve(
    host: Annotated[str, typer.Option(envvar="RAGGUARD_HOST", help="Interface to bind.")] = "127.0.0.1",
    port: Annotated[int, typer.Option(envvar="RAGGUARD_PORT", min=1, max=65535, help="Port to bind.")] = 8080,
    unsafe_no_auth: Annotated[
        bool, typer.Option("--unsafe-no-auth", help="Run without API tokens (loopback hosts only).")
    ] = False,
    store: StoreOpt = None,
    chroma_url: UrlOpt = None,
    collection: CollectionOpt = None,
    key_file: KeyFileOpt = None,
    config: ConfigOpt = None,
    verbose: VerboseOpt = False,
) -> None:
    """Run the HTTP indexing sidecar. API tokens come from RAGGUARD_API_TOKENS (comma-separated)."""
    setup_logging(verbose)
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
        try:
            settings = ServerSettings(host=host, port=port, unsafe_no_auth=unsafe_no_auth, core=core)
        except ValueError as exc:
            raise SettingsError(first_error(exc)) from None
        run_server(settings)
