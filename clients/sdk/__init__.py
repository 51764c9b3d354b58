"""The Python SDK of the local REST API (async and sync)."""

from .client import AsyncClient
from .errors import (
    ApiError,
    DaemonNotRunning,
    DaemonUnreachable,
    InvalidArgument,
    NotFoundError,
    ProtocolMismatch,
    SdkError,
    ServerError,
    Unauthorized,
)
from .home import API_JSON, API_TOKEN, Endpoint, default_home, load_endpoint, resolve_home
from .models import (
    Account,
    Code,
    Conflict,
    ConflictValue,
    Device,
    Invitation,
    InvitationPeer,
    Joining,
    JoiningPeer,
    Peer,
    Status,
    StatusDevice,
)
from .sync import Client

__all__ = [
    "API_JSON",
    "API_TOKEN",
    "Account",
    "ApiError",
    "AsyncClient",
    "Client",
    "Code",
    "Conflict",
    "ConflictValue",
    "DaemonNotRunning",
    "DaemonUnreachable",
    "Device",
    "Endpoint",
    "InvalidArgument",
    "Invitation",
    "InvitationPeer",
    "Joining",
    "JoiningPeer",
    "NotFoundError",
    "Peer",
    "ProtocolMismatch",
    "SdkError",
    "ServerError",
    "Status",
    "StatusDevice",
    "Unauthorized",
    "default_home",
    "load_endpoint",
    "resolve_home",
]
