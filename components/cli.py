"""`python -m components plan`: the deploy plan as a table or JSON, fleetform's `kamal config`.

The day-2 commands (`app`, `accessory`, `secrets`, aliases) live in components/day2.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Sequence

from components.config import load_config
from components.day2 import commands as day2
from components.day2.arguments import names
from components.errors import FleetformError
from components.plan import Plan, build_plan

TABLE_COLUMNS = ("HOST", "ARCH", "KIND", "NAME", "IMAGE", "PLATFORM", "CONTAINER")
EXIT_INVALID = 2


class _ArgumentParser(argparse.ArgumentParser):
    def error(self, message: str) -> None:  # type: ignore[override]
        self.print_usage(sys.stderr)
        self.exit(EXIT_INVALID, f"{self.prog}: error: {message}\n")


def _parser() -> argparse.ArgumentParser:
    parser = _ArgumentParser(prog="python -m components", description=__doc__)
    commands = parser.add_subparsers(dest="command", required=True, parser_class=_ArgumentParser)
    plan = commands.add_parser("plan", help="show which container runs where, on which platform")
    plan.add_argument("--config", default="config/deploy.yml", help="deploy file (%(default)s)")
    plan.add_argument("--destination", "-d", help="merge deploy.<destination>.yml on top")
    plan.add_argument("--roles", type=names, help="only these roles (comma-separated)")
    plan.add_argument("--hosts", type=names, help="only these hosts (comma-separated)")
    plan.add_argument("--format", choices=("table", "json"), default="table")
    day2.register(commands)
    return parser


def render_table(plan: Plan) -> str:
    """One row per placement, grouped by host; host and arch are shown once per group.

    A host with a proxied role shows its kamal-proxy first: one per host, shared by every stack.
    """
    rows: list[tuple[str, ...]] = []
    arch_of = {host.host: host.arch or "?" for host in plan.hosts}
    for host in plan.hosts:
        cells: list[tuple[str, ...]] = []
        proxy = plan.proxy_for(host.host)
        if proxy is not None:
            cells.append(
                ("proxy", "kamal-proxy", proxy.image, proxy.platform or "(probed)", "kamal-proxy")
            )
        for placement in plan.placements_for(host.host):
            cells.append(
                (
                    placement.kind,
                    placement.name,
                    placement.image,
                    placement.platform or "(probed)",
                    placement.container,
                )
            )
        for index, cell in enumerate(cells):
            first = index == 0
            rows.append((host.host if first else "", arch_of[host.host] if first else "", *cell))
    widths = [max(len(row[i]) for row in [TABLE_COLUMNS, *rows]) for i in range(len(TABLE_COLUMNS))]
    lines = ["  ".join(cell.ljust(width) for cell, width in zip(row, widths, strict=True)).rstrip()
             for row in [TABLE_COLUMNS, *rows]]  # fmt: skip
    destination = f" (destination {plan.destination})" if plan.destination else ""
    builds = ", ".join(plan.builds) or "nothing (no app role is planned)"
    summary = [
        f"service {plan.service}{destination}: {_count(len(plan.placements), 'container')} "
        f"on {_count(len(plan.hosts), 'host')}",
        f"build {plan.app_repository} for: {builds}",
    ]
    if plan.proxies:
        proxied = sorted({p.name for p in plan.placements if p.proxy is not None})
        summary.append(
            f"kamal-proxy on {_count(len(plan.proxies), 'host')} for: {', '.join(proxied)}"
        )
    summary.append("")
    return "\n".join([*summary, *lines]) + "\n"


def _count(number: int, noun: str) -> str:
    return f"{number} {noun}" if number == 1 else f"{number} {noun}s"


def main(argv: Sequence[str] | None = None) -> int:
    words = list(sys.argv[1:] if argv is None else argv)
    try:
        words = day2.expand(words, ("plan", *day2.COMMANDS))
    except FleetformError as error:
        print(f"error: {error}", file=sys.stderr)
        return EXIT_INVALID
    arguments = _parser().parse_args(words)
    if arguments.command != "plan":
        return day2.run(arguments)
    try:
        config = load_config(arguments.config, arguments.destination)
        plan = build_plan(config, roles=arguments.roles, hosts=arguments.hosts)
    except FleetformError as error:
        print(f"error: {error}", file=sys.stderr)
        return EXIT_INVALID
    if arguments.format == "json":
        sys.stdout.write(json.dumps(plan.to_json(), indent=2) + "\n")
    else:
        sys.stdout.write(render_table(plan))
    return 0
