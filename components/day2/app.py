"""`python -m components app ...`: Kamal's everyday app commands on a deployed stack."""

from __future__ import annotations

import argparse
from typing import Any

from components.day2 import arguments as options
from components.day2.container_operations import execute, list_containers, show_logs
from components.day2.selection import select_roles
from components.day2.stack_access import DeployedContainer, StackReader


def register(commands: Any) -> None:
    """Adds `app` and its subcommands to the CLI's subparsers."""
    app = commands.add_parser("app", add_help=False, help="logs, exec and containers of app roles")
    options.add_help(app)
    actions = app.add_subparsers(dest="action", required=True, parser_class=type(app))

    logs = actions.add_parser("logs", add_help=False, help="docker logs of the running containers")
    _add_filters(logs)
    options.add_log_options(logs)
    logs.set_defaults(handler=_logs)

    run = actions.add_parser("exec", add_help=False, help="docker exec in the running containers")
    _add_filters(run)
    options.add_exec_options(run)
    run.set_defaults(handler=_exec)

    containers = actions.add_parser(
        "containers", add_help=False, help="this stack's app containers, stopped ones too"
    )
    _add_filters(containers)
    containers.set_defaults(handler=_containers)

    details = actions.add_parser("details", add_help=False, help="the running app containers")
    _add_filters(details)
    details.set_defaults(handler=_details)


def _add_filters(parser: argparse.ArgumentParser) -> None:
    options.add_help(parser)
    options.add_stack(parser)
    parser.add_argument(
        "-r",
        "--roles",
        type=options.names,
        metavar="ROLES",
        help="only these roles (comma-separated)",
    )
    options.add_hosts(parser)


def _targets(arguments: argparse.Namespace) -> tuple[StackReader, list[DeployedContainer]]:
    reader = StackReader(arguments.stack)
    targets = select_roles(reader.stack, reader.placements(), arguments.roles, arguments.hosts)
    return reader, targets


def _logs(arguments: argparse.Namespace) -> int:
    reader, targets = _targets(arguments)
    return show_logs(reader, targets, options.log_options(arguments))


def _exec(arguments: argparse.Namespace) -> int:
    reader, targets = _targets(arguments)
    return execute(
        reader, targets, options.command_line(arguments), interactive=arguments.interactive
    )


def _containers(arguments: argparse.Namespace) -> int:
    reader, targets = _targets(arguments)
    return list_containers(reader, targets, kind="role", include_stopped=True)


def _details(arguments: argparse.Namespace) -> int:
    reader, targets = _targets(arguments)
    return list_containers(reader, targets, kind="role", include_stopped=False)
