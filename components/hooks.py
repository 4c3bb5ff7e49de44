"""Hooks: Kamal's hook scripts, run on the operator's machine at their points of the deploy.

Each hook that has a place in the graph is a pulumi-command `local.Command`, ordered with
`depends_on`, so it runs during `pulumi up` and never during a preview. pre-connect has no place
in the graph (fleetform asks every host for its key before any resource exists), so it runs in
the program itself, on `up` only. See docs/hooks.md for when each hook runs again.
"""

from __future__ import annotations

import asyncio
import os
import shlex
import subprocess
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import pulumi
from pulumi_command import local

from components.config.model import BuilderConfig
from components.config.hooks import HookName, HookOutput, HookPlan, build_fingerprint
from components.errors import DeployConfigError

# Secrets of the Pulumi CLI itself, which the program and its plugins (and so a hook) would
# inherit: PULUMI_CONFIG holds the stack's decrypted config, its secrets included. Kamal has no
# such variables, and a hook has no need of them.
_INHERITED_SECRETS = (
    "PULUMI_CONFIG",
    "PULUMI_CONFIG_SECRET_KEYS",
    "PULUMI_CONFIG_PASSPHRASE",
    "PULUMI_CONFIG_PASSPHRASE_FILE",
    "PULUMI_ACCESS_TOKEN",
)
# What the hook learns when it runs, not when the graph is planned: a timestamp or a runtime as a
# resource input would make every `pulumi up` differ from the last.
_RUN_TIME_ENV = (
    'KAMAL_RECORDED_AT="$(date -u +%Y-%m-%dT%H:%M:%SZ)"; export KAMAL_RECORDED_AT\n'
    'KAMAL_PERFORMER="$(git config user.email 2>/dev/null || whoami)"; export KAMAL_PERFORMER\n'
)
# pulumi-command runs the script as a child of its provider, which the engine starts with the
# update: the provider's age is how long the deploy has run (POSIX `ps -o etime`, [[d-]h:]m:s).
_RUNTIME_ENV = (
    'KAMAL_RUNTIME="$(ps -o etime= -p "$PPID" | awk \'{t = $1; d = 0; '
    'if (index(t, "-")) { split(t, x, "-"); d = x[1]; t = x[2] } '
    'n = split(t, p, ":"); s = 0; for (i = 1; i <= n; i++) s = s * 60 + p[i]; '
    "print d * 86400 + s}')\"; export KAMAL_RUNTIME\n"
)
_LOGGING: Mapping[HookOutput, local.Logging] = {
    # Kamal hides a hook's output unless asked; a failing hook's output is in the error anyway.
    "default": local.Logging.NONE,
    "quiet": local.Logging.NONE,
    "verbose": local.Logging.STDOUT_AND_STDERR,
}
# A change to the script, its environment, where it runs or what it guards runs it again; a
# changed `hooks_output` only changes how later runs are shown.
_REPLACE_ON = ["create", "environment", "dir", "triggers"]


def hook_script(path: str, *, runtime: bool = False) -> str:
    """The `sh` script that runs one hook file with Kamal's run-time variables."""
    lines = [f"unset {' '.join(_INHERITED_SECRETS)}\n", _RUN_TIME_ENV]
    if runtime:
        lines.append(_RUNTIME_ENV)
    lines.append(f"exec {shlex.quote(path)}\n")
    return "".join(lines)


def kamal_version(digests: Mapping[str, str]) -> str:
    """What fleetform deploys is the app image's digests: `linux/arm64=sha256:…`, by platform."""
    return ",".join(f"{platform}={digests[platform]}" for platform in sorted(digests))


def service_version(service: str, digests: Mapping[str, str]) -> str:
    """Kamal's `app@150b24f`: the service and the first 12 hex of each digest."""
    short = ",".join(digests[p].split(":", 1)[-1][:12] for p in sorted(digests))
    return f"{service}@{short}"


class Deferred:
    """A value other resources take as input before it is known (filled in by `resolve`).

    A hook runs before what it guards, but is re-run by that thing's identity, which is only
    computed while the guarded resources are declared, after the hook itself.
    """

    def __init__(self) -> None:
        self._future: asyncio.Future[Any] = asyncio.get_event_loop().create_future()
        self.output: pulumi.Output[Any] = pulumi.Output.from_input(self._future).apply(
            lambda inner: inner
        )
        _PENDING.append(self)

    def resolve(self, value: pulumi.Input[Any]) -> None:
        if self in _PENDING:
            _PENDING.remove(self)
        if not self._future.done():
            self._future.set_result(pulumi.Output.from_input(value))


_PENDING: list[Deferred] = []


def release_pending() -> None:
    """Resolves what a failed program left pending, so Pulumi reports the error and never hangs.

    The SDK waits for every registration before it reports a program's exception; a hook whose
    trigger would never resolve would hold `pulumi up` (and a preview) forever.
    """
    for deferred in list(_PENDING):
        deferred.resolve("program failed")


@dataclass
class HooksArgs:
    plan: HookPlan
    service: str
    destination: str | None
    hosts: Sequence[str]
    """Every host of the deploy, in plan order (KAMAL_HOSTS of the deploy-wide hooks)."""
    roles: Sequence[str]
    digests: pulumi.Input[Mapping[str, str]] | None
    """The app image digests, once known (KAMAL_VERSION); None before a build."""
    project_root: str
    """Where hooks run (Kamal runs them in the app's root)."""


class Hooks(pulumi.ComponentResource):
    """The deploy's hook scripts; each is run only if its file exists."""

    def __init__(
        self, name: str, args: HooksArgs, opts: pulumi.ResourceOptions | None = None
    ) -> None:
        super().__init__("fleetform:index:Hooks", name, None, opts)
        self._name = name
        self._args = args
        self._identity = Deferred()
        self.register_outputs({})

    def pre_build(
        self, builder: BuilderConfig, repository: str, platforms: Sequence[str]
    ) -> list[pulumi.Resource]:
        """pre-build, run again whenever the build's inputs change; what the build waits for.

        Every builder setting is an input (the secrets by name: their values never leave the
        stack), so a change of target, cache or ssh re-runs the hook as it rebuilds the image.
        """
        fingerprint = build_fingerprint(builder.context, repr(builder), repository, *platforms)
        hook = self.command("pre-build", triggers=[fingerprint], versioned=False)
        return [hook] if hook is not None else []

    def pre_deploy(
        self, digests: pulumi.Input[Mapping[str, str]], depends_on: Sequence[pulumi.Resource]
    ) -> list[pulumi.Resource]:
        """pre-deploy, after the build: what every container and proxy waits for.

        It runs again whenever the deploy's identity changes, given later to `post_deploy`.
        """
        self._args.digests = digests
        hook = self.command("pre-deploy", triggers=[self._identity.output], depends_on=depends_on)
        return [hook] if hook is not None else []

    def post_deploy(
        self, identity: Sequence[pulumi.Output[str]], depends_on: Sequence[pulumi.Resource]
    ) -> None:
        """post-deploy after everything; `identity` names every container and proxy deployed."""
        deployed = pulumi.Output.all(*identity)
        self._identity.resolve(deployed)
        self.command("post-deploy", triggers=[deployed], depends_on=depends_on)

    def has(self, hook: HookName) -> bool:
        return self._args.plan.file(hook) is not None

    def _environment(
        self, hosts: Sequence[str], roles: Sequence[str], *, versioned: bool
    ) -> pulumi.Output[dict[str, str]]:
        args = self._args
        env: dict[str, Any] = {
            "KAMAL_COMMAND": "deploy",
            "KAMAL_SERVICE": args.service,
            "KAMAL_HOSTS": ",".join(hosts),
            "KAMAL_ROLES": ",".join(roles),
        }
        if args.destination is not None:
            env["KAMAL_DESTINATION"] = args.destination
        if versioned and args.digests is not None:
            digests = pulumi.Output.from_input(args.digests)
            env["KAMAL_VERSION"] = digests.apply(kamal_version)
            env["KAMAL_SERVICE_VERSION"] = digests.apply(lambda d: service_version(args.service, d))
        return pulumi.Output.all(**env).apply(dict)

    def command(
        self,
        hook: HookName,
        suffix: str = "",
        *,
        hosts: Sequence[str] | None = None,
        roles: Sequence[str] | None = None,
        triggers: Sequence[pulumi.Input[Any]] = (),
        depends_on: Sequence[pulumi.Input[pulumi.Resource]] = (),
        versioned: bool = True,
    ) -> local.Command | None:
        """The hook's `local.Command`, run again whenever `triggers` change; None without a file."""
        path = self._args.plan.file(hook)
        if path is None:
            return None
        output = self._args.plan.output(hook)
        return local.Command(
            f"{self._name}-{hook}{suffix}",
            create=hook_script(path, runtime=hook == "post-deploy"),
            update=":",
            environment=self._environment(
                self._args.hosts if hosts is None else hosts,
                self._args.roles if roles is None else roles,
                versioned=versioned,
            ),
            dir=self._args.project_root,
            triggers=list(triggers),
            logging=_LOGGING[output],
            add_previous_output_in_env=False,
            opts=pulumi.ResourceOptions(
                parent=self, depends_on=list(depends_on), replace_on_changes=_REPLACE_ON
            ),
        )

    def reboot_command(
        self,
        hook: HookName,
        suffix: str,
        *,
        hosts: Sequence[str],
        roles: Sequence[str],
        identity: pulumi.Input[str],
        depends_on: Sequence[pulumi.Input[pulumi.Resource]] = (),
    ) -> local.Command | None:
        """A hook around a replacement only: nothing on first create, the hook on each update.

        `identity` is what is replaced (the proxy's settings); it is part of the update script,
        so a new identity is an update of this resource, which runs the hook.
        """
        path = self._args.plan.file(hook)
        if path is None:
            return None
        script = pulumi.Output.from_input(identity).apply(
            lambda value: f"# {value}\n{hook_script(path)}"
        )
        return local.Command(
            f"{self._name}-{hook}{suffix}",
            create=":",
            update=script,
            environment=self._environment(hosts, roles, versioned=False),
            dir=self._args.project_root,
            logging=_LOGGING[self._args.plan.output(hook)],
            add_previous_output_in_env=False,
            opts=pulumi.ResourceOptions(parent=self, depends_on=list(depends_on)),
        )


def run_pre_connect(args: HooksArgs, timeout: int) -> None:
    """Runs pre-connect now, in the program: before fleetform first contacts a host.

    Kamal runs it whenever a command connects; fleetform connects on every `up` (the host-key
    check), so it runs on every `up` and never on a preview. A failure stops the program.
    """
    path = args.plan.file("pre-connect")
    if path is None:
        return
    environment = {
        "KAMAL_COMMAND": "deploy",
        "KAMAL_SERVICE": args.service,
        "KAMAL_HOSTS": ",".join(args.hosts),
        "KAMAL_ROLES": ",".join(args.roles),
        **({"KAMAL_DESTINATION": args.destination} if args.destination is not None else {}),
    }
    if isinstance(args.digests, Mapping):
        environment["KAMAL_VERSION"] = kamal_version(args.digests)
        environment["KAMAL_SERVICE_VERSION"] = service_version(args.service, args.digests)

    env = {
        k: v
        for k, v in os.environ.items()
        if k not in _INHERITED_SECRETS and not k.startswith("PULUMI_CONFIG")
    }
    try:
        done = subprocess.run(
            ["/bin/sh", "-c", hook_script(path)],
            cwd=args.project_root,
            env={**env, **environment},
            capture_output=True,
            text=True,
            timeout=timeout,
        )
    except subprocess.TimeoutExpired:
        raise DeployConfigError(
            f"hooks: the pre-connect hook {path} did not finish within {timeout}s"
        ) from None
    text = (done.stdout + done.stderr).strip()
    if done.returncode != 0:
        raise DeployConfigError(
            f"hooks: the pre-connect hook {path} failed with exit status {done.returncode}"
            + (f":\n{text}" if text else "")
        )
    if text and args.plan.output("pre-connect") == "verbose":
        pulumi.log.info(f"pre-connect: {text}")


class BootHooks:
    """pre-app-boot and post-app-boot around one batch of one role (Kamal: per boot group)."""

    def __init__(
        self,
        hooks: Hooks | None,
        suffix: str,
        role: str,
        hosts: Sequence[str],
        depends_on: Sequence[pulumi.Resource],
    ) -> None:
        self._hooks = hooks
        self._suffix = suffix
        self._role = role
        self._hosts = list(hosts)
        self._names = Deferred() if hooks is not None and hooks.has("pre-app-boot") else None
        pre = None
        if hooks is not None and self._names is not None:
            pre = hooks.command(
                "pre-app-boot",
                suffix,
                hosts=self._hosts,
                roles=[role],
                triggers=[self._names.output],
                depends_on=depends_on,
            )
        self.before: list[pulumi.Resource] = [pre] if pre is not None else []
        """What the batch's containers wait for, besides their own dependencies."""

    def after(
        self, batch: Sequence[pulumi.Resource], names: Sequence[pulumi.Output[str]]
    ) -> list[pulumi.Resource]:
        """Runs post-app-boot after the batch; returns what the next batch waits for."""
        identity = pulumi.Output.all(*names)
        if self._names is not None:
            self._names.resolve(identity)
        if self._hooks is None:
            return list(batch)
        post = self._hooks.command(
            "post-app-boot",
            self._suffix,
            hosts=self._hosts,
            roles=[self._role],
            triggers=[identity],
            depends_on=batch,
        )
        return [post] if post is not None else list(batch)
