"""Command line: ``python -m refprovider serve | adduser | seed``."""

import argparse
import asyncio
import logging
import socket
import sys
from pathlib import Path

logger = logging.getLogger(__name__)


def _serve(args: argparse.Namespace) -> int:
    import uvicorn

    from .app import create_app
    from .context import Provider

    provider = Provider.open(Path(args.data))
    provider.auth_life = args.auth_life
    provider.max_updates_per_event = args.max_updates
    app = create_app(Path(args.data), provider)

    family = socket.AF_INET6 if ":" in args.host else socket.AF_INET
    # An explicit IPPROTO_TCP lets asyncio set TCP_NODELAY on accepted
    # connections; without it every keep-alive answer waits ~40 ms (Nagle).
    listener = socket.socket(family, socket.SOCK_STREAM, socket.IPPROTO_TCP)
    listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    listener.bind((args.host, args.port))
    listener.listen(128)
    port = listener.getsockname()[1]

    config = uvicorn.Config(
        app, log_level=args.log_level.lower(), access_log=False, lifespan="off"
    )
    server = uvicorn.Server(config)
    host = f"[{args.host}]" if family == socket.AF_INET6 else args.host

    async def run() -> None:
        task = asyncio.create_task(server.serve(sockets=[listener]))
        while not server.started and not task.done():
            await asyncio.sleep(0.02)
        if server.started:
            print(f"refprovider listening on http://{host}:{port}/api", flush=True)
        await task

    asyncio.run(run())
    return 0


def _adduser(args: argparse.Namespace) -> int:
    from . import store, users
    from .context import load_signing_identity

    conn = store.connect(Path(args.data))
    try:
        # A fresh data directory gets its modulus key now, not at first serve.
        load_signing_identity(conn, Path(args.data))
        user_id = users.create_user(
            conn,
            args.username,
            args.password,
            mailbox_password=args.mailbox_password,
            totp_secret=args.totp_secret,
            addresses=args.address or None,
            human_verification=args.human_verification,
            free_plan=args.free_plan,
        )
    except users.UserError as error:
        print(f"adduser: {error}", file=sys.stderr)
        return 1
    finally:
        conn.close()

    print(user_id)
    return 0


def _seed(args: argparse.Namespace) -> int:
    from . import seed

    literals = seed.read_messages(
        directory=Path(args.dir) if args.dir else None,
        mbox=Path(args.mbox) if args.mbox else None,
        eml=[Path(path) for path in args.eml or []],
    )
    try:
        message_ids = seed.seed(
            Path(args.data),
            args.username,
            literals,
            folder=args.folder,
            label_names=args.label or [],
            location=args.location,
            starred=args.starred,
            unread=not args.read,
            date=args.date,
            mode=args.mode,
        )
    except seed.SeedError as error:
        print(f"seed: {error}", file=sys.stderr)
        return 1

    for message_id in message_ids:
        print(message_id)
    return 0


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m refprovider",
        description="The reference provider: the provider's HTTP API, for tests.",
    )
    commands = parser.add_subparsers(dest="command", required=True)

    serve = commands.add_parser("serve", help="run the API server")
    serve.add_argument("--data", required=True, help="data directory")
    serve.add_argument("--port", type=int, default=8025, help="0 picks a free port")
    serve.add_argument("--host", default="127.0.0.1")
    serve.add_argument("--log-level", default="WARNING")
    serve.add_argument(
        "--auth-life", type=float, default=3600, help="access token life (seconds)"
    )
    serve.add_argument(
        "--max-updates", type=int, default=50, help="changes per event (0: no limit)"
    )
    serve.set_defaults(handler=_serve)

    adduser = commands.add_parser("adduser", help="create a user with keys")
    adduser.add_argument("--data", required=True)
    adduser.add_argument("--username", required=True)
    adduser.add_argument("--password", required=True)
    adduser.add_argument("--mailbox-password", help="two-password mode")
    adduser.add_argument("--totp-secret", help="base32 TOTP secret: enables 2FA")
    adduser.add_argument(
        "--address", action="append", help="an address (repeat; first is primary)"
    )
    adduser.add_argument("--human-verification", action="store_true")
    adduser.add_argument("--free-plan", action="store_true")
    adduser.set_defaults(handler=_adduser)

    seed = commands.add_parser("seed", help="load messages into an account")
    seed.add_argument("--data", required=True)
    seed.add_argument("--username", required=True)
    sources = seed.add_mutually_exclusive_group(required=True)
    sources.add_argument("--dir", help="a directory of .eml files (recursive)")
    sources.add_argument("--mbox", help="an mbox file")
    sources.add_argument("--eml", nargs="+", help=".eml files")
    seed.add_argument("--folder", help='a folder path such as "Work/Projects"')
    seed.add_argument("--label", action="append", help="a label (repeat)")
    seed.add_argument(
        "--location",
        default="inbox",
        choices=["inbox", "sent", "drafts", "archive", "spam", "trash"],
    )
    seed.add_argument("--starred", action="store_true")
    read_state = seed.add_mutually_exclusive_group()
    read_state.add_argument("--read", action="store_true")
    read_state.add_argument("--unread", action="store_true", help="the default")
    seed.add_argument("--date", help="ISO date for every message (default: Date)")
    seed.add_argument("--mode", default="import", choices=["import", "web"])
    seed.set_defaults(handler=_seed)

    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    level = getattr(args, "log_level", "WARNING")
    logging.basicConfig(
        level=level.upper(),
        stream=sys.stderr,
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
    )
    return int(args.handler(args))


if __name__ == "__main__":
    sys.exit(main())
