"""python -m twofold.daemon: run the daemon, or install it as a background service."""

from __future__ import annotations

import argparse
import asyncio
import logging
import signal
import sys

from twofold.protocol.errors import TwofoldError

from .config import parse_peer
from .home import resolve_home


def _peer(text: str) -> str:
    """Checked before anything starts: a typo is wrong usage (exit 2), not a new home."""
    if parse_peer(text) is None:
        raise argparse.ArgumentTypeError(f"{text!r} is not host:port (say 100.64.0.20:7171)")
    return text


def main(argv: list[str] | None = None) -> int:
    """Parse the command line and run; errors the person can fix print one line."""
    # SIGINT and SIGTERM wait, blocked, until the daemon's loop has its handlers in place
    # (runner.serve does that first): one that comes meanwhile is then a clean stop, not a
    # KeyboardInterrupt traceback or death by the default action.
    held = signal.pthread_sigmask(signal.SIG_BLOCK, (signal.SIGINT, signal.SIGTERM))
    parser = argparse.ArgumentParser(prog="twofold daemon", description=__doc__)
    commands = parser.add_subparsers(dest="command", required=True)
    run = commands.add_parser("run", help="run the daemon in the foreground")
    run.add_argument("--home", help="home folder (default: $TWOFOLD_HOME or the user data dir)")
    run.add_argument("--port", type=int, help="API port on 127.0.0.1 (default: config, 0 = free)")
    run.add_argument(
        "--peer",
        action="append",
        default=[],
        type=_peer,
        metavar="HOST:PORT",
        help="a device to keep in sync with at this address (a VPN address, say); repeatable",
    )
    run.add_argument(
        "--no-mdns", action="store_true", help="do not announce or look for devices on the LAN"
    )
    service = commands.add_parser("service", help="run the daemon as a background service")
    service.add_argument("action", choices=["install", "uninstall", "status"])
    service.add_argument("--home", help="home folder the service runs on")
    args = parser.parse_args(argv)
    if args.command != "run":
        signal.pthread_sigmask(signal.SIG_SETMASK, held)
    home = resolve_home(args.home)
    logging.basicConfig(
        level=logging.INFO, stream=sys.stderr, format="%(asctime)s %(levelname)s %(message)s"
    )
    try:
        if args.command == "run":
            from .runner import serve

            asyncio.run(serve(home, args.port, tuple(args.peer), not args.no_mdns))
            return 0
        from . import service_unit

        spec = service_unit.ServiceSpec(home=home)
        action = {
            "install": service_unit.install,
            "uninstall": service_unit.uninstall,
            "status": service_unit.status,
        }[args.action]
        print(action(spec))
        return 0
    except (TwofoldError, OSError) as exc:
        print(
            f"twofold {'daemon' if args.command == 'run' else args.command}: {exc}", file=sys.stderr
        )
        return 1


if __name__ == "__main__":
    sys.exit(main())
