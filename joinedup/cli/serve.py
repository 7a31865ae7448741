"""``joinedup serve NODE``: serve a node's web app with uvicorn until Ctrl-C.

Every sign-in needs a password and a one-time code (``joinedup actor mfa``) unless
``--no-mfa`` is given (demonstrations and tests; ``joinedup demo`` serves that way).

Binds to 127.0.0.1 unless told otherwise. The access log is off: request paths can hold a
child's pseudonym, and every request is recorded by the governance layer's audit log instead.
"""

from __future__ import annotations

import ipaddress
from typing import Annotated

import typer
from rich.console import Console

from joinedup.cli.gate import authorise
from joinedup.cli.options import AsActorOpt, NodeArg
from joinedup.config import load_node
from joinedup.govern import LOCAL_OPERATOR_ID, Action, ResourceKind
from joinedup.web import WebSettings, create_app, web_settings_for

console = Console(stderr=True)

HostOpt = Annotated[
    str, typer.Option("--host", help="Address to listen on (loopback unless you mean otherwise).")
]
PortOpt = Annotated[int, typer.Option("--port", help="TCP port to listen on.", min=1, max=65535)]
SecureCookiesOpt = Annotated[
    bool,
    typer.Option(
        "--secure-cookies",
        help="Mark cookies Secure and send HSTS (use when a TLS proxy is in front).",
    ),
]


AllowNetworkOpt = Annotated[
    list[str] | None,
    typer.Option(
        "--allow-network",
        help="Serve only clients in this network, e.g. 10.20.0.0/16 (repeat; default: any).",
    ),
]


NoMfaOpt = Annotated[
    bool,
    typer.Option(
        "--no-mfa",
        help="Let accounts without a second factor sign in with a password alone "
        "(demonstrations and tests only).",
    ),
]


def is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def serve(settings: WebSettings, *, host: str, port: int) -> None:
    """Run the app in the foreground until interrupted."""
    import uvicorn

    if not is_loopback(host) and not settings.secure_cookies:
        console.print(
            "[bold yellow]warning:[/] serving beyond this machine without --secure-cookies;"
            " put a TLS proxy in front and pass --secure-cookies"
        )
    uvicorn.run(create_app(settings), host=host, port=port, access_log=False, log_level="warning")


def serve_command(
    node: NodeArg,
    host: HostOpt = "127.0.0.1",
    port: PortOpt = 8000,
    secure_cookies: SecureCookiesOpt = False,
    allow_network: AllowNetworkOpt = None,
    no_mfa: NoMfaOpt = False,
    as_actor: AsActorOpt = LOCAL_OPERATOR_ID,
) -> None:
    """Serve the node's web app (sign-in, home pages per role, child view, projects, register)."""
    node_settings = load_node(node)
    authorise(node_settings, as_actor, Action.ADMINISTER_NODE, kind=ResourceKind.NODE, name="serve")
    settings = web_settings_for(
        node_settings,
        secure_cookies=secure_cookies,
        allowed_networks=tuple(allow_network or ()),
        require_mfa=not no_mfa,
    )
    if no_mfa:
        console.print(
            "[bold yellow]warning:[/] --no-mfa: a password alone signs in; "
            "give every account a second factor (joinedup actor mfa) and drop --no-mfa"
        )
    console.print(f"Serving {settings.node.name} at http://{host}:{port}/ (Ctrl-C to stop)")
    serve(settings, host=host, port=port)
