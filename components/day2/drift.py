"""`python -m components drift --stack S`: what the stack's state says runs, against the hosts.

`pulumi refresh` cannot see this drift: pulumi-command's resources have no read, so a refresh
keeps whatever the last `up` recorded. This command reads both sides: the `hosts` output (per
host, each container's id and image) and `docker ps -a` of the stack's own containers there.

Repair goes through Pulumi itself. The drifted containers' resources get a new repair generation
in `fleetform:repairs`, which is part of their version, so `pulumi up` replaces exactly those
under new names (a replacement under the same name would be removed again by its predecessor's
delete), and the check then runs again.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass
from typing import Any

from components.day2 import arguments as options
from components.day2.ssh_session import Session, SshAccess
from components.day2.stack_access import StackAccessError, StackReader, pulumi
from components.docker_scripts import FAMILY_LABEL, STACK_LABEL, q

REPAIRS_SETTING = "repairs"
EXIT_DRIFT = 1


@dataclass(frozen=True)
class Expected:
    host: str
    kind: str
    name: str
    family: str
    container_id: str
    image: str

    @property
    def resource(self) -> str:
        """The name of the container's resource in the stack (`web-10.203.0.11`)."""
        return f"{self.name}-{self.host}"


@dataclass(frozen=True)
class Running:
    container_id: str
    state: str
    image: str
    family: str
    name: str


@dataclass(frozen=True)
class Finding:
    host: str
    status: str
    """ok, missing, stopped, wrong-image or unexpected."""
    kind: str
    name: str
    container: str
    detail: str

    @property
    def drifted(self) -> bool:
        return self.status != "ok"


def expected_containers(hosts_output: Mapping[str, Any]) -> list[Expected]:
    """Every container the `hosts` output says runs, host by host."""
    found = []
    for host, info in hosts_output.items():
        for container in info.get("containers", []):
            found.append(
                Expected(
                    host=host,
                    kind=str(container["kind"]),
                    name=str(container["name"]),
                    family=str(container["container"]),
                    container_id=str(container.get("id") or ""),
                    image=str(container["image"]),
                )
            )
    return found


def ps_script(stack: str) -> str:
    # The family label last: a container without one (not fleetform's own) yields four fields.
    fields = "{{.ID}} {{.State}} {{.Image}} {{.Names}} {{.Label " + json.dumps(FAMILY_LABEL) + "}}"
    return (
        f"docker ps -a --no-trunc --filter {q(f'label={STACK_LABEL}={stack}')} --format {q(fields)}"
    )


def parse_ps(text: str) -> list[Running]:
    rows = []
    for line in text.splitlines():
        parts = line.split()
        if len(parts) >= 4:
            family = parts[4] if len(parts) > 4 else "-"
            rows.append(Running(parts[0], parts[1], parts[2], family, parts[3]))
    return rows


def compare(expected: Sequence[Expected], actual: Mapping[str, Sequence[Running]]) -> list[Finding]:
    """Pure: one finding per expected container, plus one per unexpected running container."""
    findings = []
    accounted: set[tuple[str, str]] = set()
    for item in expected:
        on_host = actual.get(item.host, ())
        match = next((c for c in on_host if c.container_id == item.container_id), None)
        if match is None:
            status, detail = "missing", f"no container {item.container_id[:12]}"
        else:
            accounted.add((item.host, match.container_id))
            if match.state != "running":
                status, detail = "stopped", f"{match.name} is {match.state}"
            elif match.image != item.image:
                status, detail = "wrong-image", f"{match.name} runs {match.image}, not {item.image}"
            else:
                status, detail = "ok", match.name
        findings.append(Finding(item.host, status, item.kind, item.name, item.family, detail))
    for host, containers in actual.items():
        for container in containers:
            if container.state == "running" and (host, container.container_id) not in accounted:
                findings.append(
                    Finding(
                        host,
                        "unexpected",
                        "-",
                        "-",
                        container.family,
                        f"{container.name} runs {container.image}; not in the stack's state",
                    )
                )
    return findings


def check(reader: StackReader) -> tuple[list[Expected], list[Finding]]:
    expected = expected_containers(reader.outputs().get("hosts") or {})
    if not expected:
        raise StackAccessError(f"stack '{reader.stack}': not deployed (no hosts output)")
    hosts = sorted({item.host for item in expected})
    with SshAccess(reader, hosts) as access:
        finished = access.run_all([Session(h, f"[{h}]", ps_script(reader.stack)) for h in hosts])
    failed = [f for f in finished if f.returncode != 0]
    if failed:
        raise StackAccessError(
            "; ".join(
                f"{f.session.host}: {f.stderr.strip() or 'exit ' + str(f.returncode)}"
                for f in failed
            )  # fmt: skip
        )
    actual = {f.session.host: parse_ps(f.stdout) for f in finished}
    return expected, compare(expected, actual)


def render(findings: Sequence[Finding], output_format: str) -> str:
    if output_format == "json":
        return json.dumps([asdict(f) for f in findings], indent=2)
    rows = [("HOST", "STATUS", "KIND", "NAME", "CONTAINER", "DETAIL")]
    rows += [(f.host, f.status, f.kind, f.name, f.container, f.detail) for f in findings]
    widths = [max(len(row[i]) for row in rows) for i in range(5)]
    return "\n".join(
        "  ".join(cell.ljust(widths[i]) for i, cell in enumerate(row[:5])) + "  " + row[5]
        for row in rows
    )


def bump_repairs(reader: StackReader, resources: Sequence[str]) -> dict[str, int]:
    """The repairs setting with one more generation for each of `resources`, saved."""
    current = reader.setting(REPAIRS_SETTING)
    repairs: dict[str, int] = dict(json.loads(current)) if current else {}
    for resource in resources:
        repairs[resource] = repairs.get(resource, 0) + 1
    done = pulumi(
        reader.stack, ["config", "set", f"fleetform:{REPAIRS_SETTING}", json.dumps(repairs)]
    )
    if done.returncode != 0:
        raise StackAccessError(f"stack '{reader.stack}': recording fleetform:repairs failed")
    return repairs


def register(commands: Any) -> None:
    drift = commands.add_parser(
        "drift", add_help=False, help="compare the stack's state with what runs on its hosts"
    )
    options.add_help(drift)
    options.add_stack(drift)
    drift.add_argument("--format", choices=("table", "json"), default="table")
    drift.add_argument(
        "--repair", action="store_true", help="replace the drifted containers through pulumi up"
    )
    drift.set_defaults(handler=_drift)


def _drift(arguments: argparse.Namespace) -> int:
    reader = StackReader(arguments.stack)
    expected, findings = check(reader)
    print(render(findings, arguments.format))
    drifted = [f for f in findings if f.drifted]
    if not drifted or not arguments.repair:
        return EXIT_DRIFT if drifted else 0
    resources = sorted(
        {e.resource for e in expected for f in drifted if (f.host, f.name) == (e.host, e.name)}
    )
    if resources:
        bump_repairs(reader, resources)
        print(f"repair: pulumi up replaces {', '.join(resources)}", file=sys.stderr)
        done = pulumi(reader.stack, ["up", "--yes", "--skip-preview"])
        if done.returncode != 0:
            print(done.stdout[-2000:], file=sys.stderr)
            raise StackAccessError(f"stack '{reader.stack}': the repairing pulumi up failed")
    _, findings = check(StackReader(arguments.stack))
    print(render(findings, arguments.format))
    return EXIT_DRIFT if any(f.drifted for f in findings) else 0
