"""ragguard-server: the HTTP sidecar for ragguard.

>>> from ragguard_server import ServerSettings, create_app, serve
>>> serve(ServerSettings(api_tokens="a-long-random-token-0123"))  # doctest: +SKIP
"""

from ragguard_server.app import create_app
from ragguard_server.metrics import Metrics
from ragguard_server.server import serve
from ragguard_server.settings import ServerConfigError, ServerSettings, is_loopback

__version__ = "0.1.0"

__all__ = ["Metrics", "ServerConfigError", "ServerSettings", "__version__", "create_app", "is_loopback", "serve"]
