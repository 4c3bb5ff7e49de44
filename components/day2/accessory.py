"""`python -m components accessory ...`: logs, exec and reboot of one accessory of a stack.

`reboot` restarts the running container in place (`docker restart`): same container, same
image, same settings, data untouched. Kamal's `accessory reboot` instead removes the container
and boots a new one from deploy.yml; in fleetform a changed accessory is recreated by `pulumi up`.
"""

from __future__ import annotations

import argparse
from typing import Any

from components.day2 import arguments as options
from components.day2.container_operations import execute, restart, show_logs
from components.day2.selection import select_accessory
from components.day2.stack_access import DeployedContainer, StackReader


def register(commands: Any) -> None:
    """Adds `accessory` and its subcommands to the CLI's subparsers."""
    accessory = commands.add_parser(
        "accessory", add_help=False, help="logs, exec and reboot of an accessory"
    )
    options.add_help(accessory)
    actions = accessory.add_subparsers(dest="action", required=True, parser_class=type(accessory))

    logs = actions.add_parser("logs", add_help=False, help="docker logs of the accessory")
    _add_common(logs)
    options.add_log_options(logs)
    logs.set_defaults(handler=_logs)

    run = actions.add_parser("exec", add_help=False, help="docker exec in the accessory")
    _add_common(run)
    options.add_exec_options(run)
    run.set_defaults(handler=_exec)

    reboot = actions.add_parser(
        "reboot", add_help=False, help="docker restart of the running accessory container"
    )
    _add_common(reboot)
    reboot.set_defaults(handler=_reboot)


def _add_common(parser: argparse.ArgumentParser) -> None:
    options.add_help(parser)
    parser.add_argument("name", metavar="NAME", help="the accessory, as named in deploy.yml")
    options.add_stack(parser)
    options.add_hosts(parser)


def _targets(arguments: argparse.Namespace) -> tuple[StackReader, list[DeployedContainer]]:
    reader = StackReader(arguments.stack)
    targets = select_accessory(reader.stack, reader.placements(), arguments.name, arguments.hosts)
    return reader, targets


def _logs(arguments: argparse.Namespace) -> int:
    reader, targets = _targets(arguments)
    return show_logs(reader, targets, options.log_options(arguments))


def _exec(arguments: argparse.Namespace) -> int:
    reader, targets = _targets(arguments)
    return execute(
        reader, targets, options.command_line(arguments), interactive=arguments.interactive
    )


def _reboot(arguments: argparse.Namespace) -> int:
    reader, targets = _targets(arguments)
    return restart(reader, targets)
