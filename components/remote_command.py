"""Every script fleetform runs on a host: a pulumi-command `remote.Command` over pinned SSH."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import pulumi
from pulumi_command import remote

from components.docker_scripts import bounded

# An unreachable host fails in seconds: pulumi-command's defaults (10 attempts of 15 s each)
# would hold `pulumi up` for minutes per command.
DIAL_ATTEMPTS = 2
DIAL_TIMEOUT_SECONDS = 5

# A change to what runs (or where) replaces the command. Connection credentials are deliberately
# not here: a rotated key updates the state through the read-only `update` script instead.
_REPLACE_ON = ["create", "delete", "stdin", "triggers"]


@dataclass(frozen=True)
class JumpHost:
    """The host every connection goes through (Kamal's `ssh/proxy`), pinned like the hosts."""

    host: str
    port: int
    user: str
    host_key: str
    """The jump host's own pinned key: a jump host that answers with another key is refused."""


@dataclass(frozen=True)
class SshConnection:
    """How to reach one host. The private key stays a Pulumi secret end to end."""

    host: str
    port: int
    user: str
    private_key: pulumi.Input[str]
    host_key: str
    """`ssh-ed25519 AAAA…`: a host that answers with another key is refused."""
    command_timeout: int
    """Seconds one script may run on this host (fleetform:commandTimeout)."""
    jump: JumpHost | None = None
    """A jump host to connect through. Not part of a command's identity: it is the way in, not
    where the command runs, so changing it replaces nothing (like a rotated key)."""

    def args(self) -> remote.ConnectionArgs:
        proxy = None
        if self.jump is not None:
            # The same key logs in to the jump host: fleetform has one login key per stack.
            proxy = remote.ProxyConnectionArgs(
                host=self.jump.host,
                port=self.jump.port,
                user=self.jump.user,
                private_key=self.private_key,
                host_key=self.jump.host_key,
                dial_error_limit=DIAL_ATTEMPTS,
                per_dial_timeout=DIAL_TIMEOUT_SECONDS,
            )
        return remote.ConnectionArgs(
            host=self.host,
            port=self.port,
            user=self.user,
            private_key=self.private_key,
            host_key=self.host_key,
            dial_error_limit=DIAL_ATTEMPTS,
            per_dial_timeout=DIAL_TIMEOUT_SECONDS,
            proxy=proxy,
        )


def host_command(
    name: str,
    *,
    connection: SshConnection,
    create: pulumi.Input[str],
    update: pulumi.Input[str] | None = None,
    delete: pulumi.Input[str] | None = None,
    stdin: pulumi.Input[str] | None = None,
    triggers: Sequence[Any] = (),
    opts: pulumi.ResourceOptions | None = None,
) -> remote.Command:
    """One script on one host: `create` once, `delete` when it goes away, both time-limited.

    `update` runs only when the SSH credentials change; it must be read-only and print what
    `create` printed. Without one, the create script (then idempotent) runs again.
    """

    def limit(script: pulumi.Input[str] | None) -> pulumi.Output[str] | None:
        if script is None:
            return None
        return pulumi.Output.from_input(script).apply(
            lambda text: bounded(text, connection.host, connection.command_timeout)
        )

    # Where a command runs is part of what it is: another host, port or user replaces it.
    identity = [connection.host, connection.port, connection.user]
    return remote.Command(
        name,
        connection=connection.args(),
        create=limit(create),
        update=limit(update if update is not None else create),
        delete=limit(delete),
        stdin=stdin,
        triggers=[*identity, *triggers],
        # The scripts print ids and arches; nothing worth a line in `pulumi up` output.
        logging=remote.Logging.NONE,
        add_previous_output_in_env=False,
        opts=pulumi.ResourceOptions.merge(
            pulumi.ResourceOptions(replace_on_changes=_REPLACE_ON, delete_before_replace=False),
            opts,
        ),
    )
