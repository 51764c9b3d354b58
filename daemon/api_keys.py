"""What the local API's routes share: the application's keys and the parts behind the door.

Route modules import this, never api_app.py, which imports them: no circle.
"""

from __future__ import annotations

from typing import Final

from aiohttp import web

from .door import Door
from .keeper import Keeper
from .pairing_service import Pairing
from .peers import Peers
from .transfer import Transfers
from .vault_service import VaultService
from .web_sessions import Session, Sessions

DOOR: web.AppKey[Door] = web.AppKey("door", Door)
KEEPER: web.AppKey[Keeper] = web.AppKey("keeper", Keeper)
STARTED: web.AppKey[float] = web.AppKey("started", float)
SESSIONS: web.AppKey[Sessions] = web.AppKey("sessions", Sessions)
SESSION: Final = "twofold.session"


def keeper(request: web.Request) -> Keeper:
    """What opens and shuts the vault: there while the daemon runs, locked or not."""
    return request.app[KEEPER]


def service(request: web.Request) -> VaultService:
    """The vault service, or 423 `locked`."""
    return request.app[DOOR].parts().service


def peers(request: web.Request) -> Peers:
    """The peers, or 423 `locked`."""
    return request.app[DOOR].parts().peers


def pairing(request: web.Request) -> Pairing:
    """Pairing, or 423 `locked`."""
    return request.app[DOOR].parts().pairing


def transfers(request: web.Request) -> Transfers:
    """Imports, exports and backups, or 423 `locked`."""
    return request.app[DOOR].parts().transfers


def own_port(request: web.Request) -> int:
    """The port this request came in on, which names the session cookie."""
    sockname = request.transport.get_extra_info("sockname") if request.transport else None
    return int(sockname[1]) if sockname else 0


def request_session(request: web.Request) -> Session | None:
    """The browser session a request was let in by, if it came from the web page."""
    session = request.get(SESSION)
    return session if isinstance(session, Session) else None
