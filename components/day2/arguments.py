"""Options the day-2 commands share, spelled as Kamal spells them (`-r`, `-h`, `-n`, `-f`)."""

from __future__ import annotations

import argparse

from components.day2.remote_scripts import LogOptions


def names(value: str) -> list[str]:
    """A comma-separated list of names (`*` wildcards allowed), as Kamal's `--roles` and `--hosts`."""
    parts = [name.strip() for name in value.split(",")]
    if not all(parts):
        raise argparse.ArgumentTypeError(
            f"expected a comma-separated list of names (got {value!r})"
        )
    return parts


def positive_number(value: str) -> int:
    if not (value.isascii() and value.isdigit()) or int(value) < 1:
        raise argparse.ArgumentTypeError(f"expected a whole number, at least 1 (got {value!r})")
    return int(value)


def add_help(parser: argparse.ArgumentParser) -> None:
    # `-h` is Kamal's `--hosts`, so help is only `--help`.
    parser.add_argument("--help", action="help", help="show this help and exit")


def add_stack(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--stack",
        required=True,
        metavar="NAME",
        help="the deployed stack to act on (required: the selected stack changes under you)",
    )


def add_hosts(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "-h", "--hosts", type=names, metavar="HOSTS", help="only these hosts (comma-separated)"
    )


def add_log_options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "-n",
        "--lines",
        type=positive_number,
        help="lines from the end of each log (100; all with --since)",
    )
    parser.add_argument(
        "-s", "--since", help="only since this time (docker logs --since: 10m, 2024-05-01)"
    )
    parser.add_argument("-f", "--follow", action="store_true", help="stream new lines until Ctrl-C")
    parser.add_argument(
        "-T", "--skip-timestamps", action="store_true", help="leave out docker's timestamps"
    )


def log_options(arguments: argparse.Namespace) -> LogOptions:
    lines = arguments.lines
    if lines is None and arguments.since is None:
        lines = 100
    return LogOptions(
        lines=lines,
        since=arguments.since,
        follow=arguments.follow,
        timestamps=not arguments.skip_timestamps,
    )


def add_exec_options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "-i", "--interactive", action="store_true", help="a terminal session, on the first host"
    )
    parser.add_argument(
        "--reuse",
        action="store_true",
        help="accepted for Kamal aliases; fleetform always runs in the running container",
    )
    parser.add_argument(
        "cmd",
        nargs="+",
        metavar="CMD",
        help="a command line, quoted as one word as in Kamal ('ls -la'), or after --",
    )


def command_line(arguments: argparse.Namespace) -> str:
    return " ".join(arguments.cmd)
