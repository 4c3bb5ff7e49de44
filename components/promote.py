"""`python -m components.promote`: copy the digests another stack deployed into this stack.

Promotion is explicit: production records the exact per-platform digests in its own config
(`fleetform:appDigests`), so a later staging deploy changes nothing in production until someone
promotes again. The source digests are read through a `pulumi.StackReference`. Every guard runs
before anything is written; a refused promotion changes nothing.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from pulumi import automation as auto

from components.config import load_config
from components.errors import FleetformError, PlanError
from components.plan import Plan, build_plan
from components.promotion import (
    INSECURE_REGISTRIES,
    check_digests_cover_plan,
    check_no_floating_images,
    manifest_exists,
    parse_insecure_registries,
)

ROOT = Path(__file__).resolve().parent.parent
_QUIET: dict[str, Any] = {"color": "never", "on_output": lambda _line: None}


@dataclass
class PromotionResult:
    digests: dict[str, str]
    preview: auto.PreviewResult
    changes: dict[str, set[str]]
    """Resource name to the operations the preview planned for it."""
    up: auto.UpResult | None


def read_stack_outputs(reference: str, pulumi_command: auto.PulumiCommand | None) -> dict[str, Any]:
    """Reads another stack's outputs through a StackReference in a throwaway inline program."""
    outputs: dict[str, Any] = {}

    def program() -> None:
        import pulumi

        source = pulumi.StackReference(reference)
        pulumi.export("appDigests", source.get_output("appDigests"))

    stack = auto.create_or_select_stack(
        stack_name="promotion-reader",
        project_name="fleetform-promotion",
        program=program,
        opts=auto.LocalWorkspaceOptions(pulumi_command=pulumi_command),
    )
    try:
        try:
            result = stack.up(**_QUIET)
        except auto.CommandError as error:
            if "unknown stack" in str(error).lower() or "no stack named" in str(error).lower():
                raise PlanError(f"{reference}: no such stack to promote from") from None
            raise
        outputs = {key: value.value for key, value in result.outputs.items()}
    finally:
        stack.destroy(**_QUIET)
        stack.workspace.remove_stack("promotion-reader")
    return outputs


def preview_changes(
    stack: auto.Stack, **preview_args: Any
) -> tuple[auto.PreviewResult, dict[str, set[str]]]:
    """Previews `stack`; returns the result and, per resource name, the operations it plans."""
    changes: dict[str, set[str]] = {}

    def collect(event: auto.EngineEvent) -> None:
        pre = event.resource_pre_event
        if pre is not None and pre.metadata.op not in (auto.OpType.SAME, auto.OpType.READ):
            name = pre.metadata.urn.rsplit("::", 1)[1]
            changes.setdefault(name, set()).add(pre.metadata.op.value)

    return stack.preview(on_event=collect, **preview_args), changes


def _parse_digests(value: Any) -> dict[str, str] | None:
    if value is None or value == "":
        return None
    parsed = json.loads(value) if isinstance(value, str) else value
    return dict(parsed)


def _record_digests(stack: auto.Stack, digests: dict[str, str] | None) -> None:
    """Makes `fleetform:appDigests` exactly `digests` (or absent): only the bytes to deploy."""
    stack.remove_config("fleetform:appDigests")
    for platform, digest in (digests or {}).items():
        stack.set_config(f'fleetform:appDigests["{platform}"]', auto.ConfigValue(digest), path=True)


def production_plan(stack: auto.Stack) -> tuple[Plan, dict[str, str]]:
    config = {key: value.value for key, value in stack.get_all_config().items()}
    deploy_file = config.get("fleetform:deployFile", "config/deploy.yml")
    destination = config.get("fleetform:destination") or None
    deploy = load_config(ROOT / deploy_file, destination)
    return build_plan(deploy, destination=destination), config


def promote(
    target: str,
    *,
    digests: dict[str, str] | None = None,
    source: str | None = None,
    apply: bool = True,
    pulumi_command: auto.PulumiCommand | None = None,
    show: Callable[[str], None] = lambda _line: None,
) -> PromotionResult:
    """Guards, then records the digests in `target`'s config, previews, and (with apply) ups."""
    stack = auto.select_stack(
        stack_name=target,
        work_dir=str(ROOT),
        opts=auto.LocalWorkspaceOptions(pulumi_command=pulumi_command),
    )
    plan, config = production_plan(stack)
    insecure_registries = parse_insecure_registries(config.get(INSECURE_REGISTRIES))
    source = source or config.get("fleetform:promoteFrom")
    if digests is None:
        if not source:
            raise PlanError(f"{target}: fleetform:promoteFrom is not set and no digests were given")
        promoted = read_stack_outputs(source, pulumi_command).get("appDigests")
        if not promoted:
            raise PlanError(f"{source}: has not been deployed (no appDigests output); up it first")
        digests = dict(promoted)
        origin = source
    else:
        origin = "pinned digests"
    check_digests_cover_plan(plan, digests, origin)
    check_no_floating_images(plan)
    username: str | None = None
    password: str | None = None
    if plan.registry is not None:
        username = plan.registry.username
        if plan.registry.username_secret is not None:
            username = config.get(f"fleetform:{plan.registry.username_secret}")
        password = config.get(f"fleetform:{plan.registry.password_secret}")
    insecure = plan.app_repository.split("/", 1)[0] in insecure_registries
    for platform in plan.builds:
        if not manifest_exists(
            plan.app_repository, digests[platform], username, password, insecure=insecure
        ):
            raise PlanError(
                f"{origin}/{platform}: {plan.app_repository}@{digests[platform]} is no longer in "
                f"the registry"
            )

    previous = config.get("fleetform:appDigests")
    _record_digests(stack, {platform: digests[platform] for platform in plan.builds})

    try:
        preview, changes = preview_changes(stack, diff=True, color="never", on_output=show)
        up = stack.up(color="never", on_output=show) if apply else None
    except BaseException:
        _record_digests(stack, _parse_digests(previous))
        raise
    if not apply:
        # A preview-only promotion leaves the stack as it found it.
        _record_digests(stack, _parse_digests(previous))
    return PromotionResult(digests={p: digests[p] for p in plan.builds}, preview=preview,
                           changes=changes, up=up)  # fmt: skip


def toolchain_command() -> auto.PulumiCommand:
    """The CLI scripts/bootstrap built, or a user's own stock CLI on PATH when it built none."""
    root = Path(os.environ.get("FLEETFORM_TOOLCHAIN_DIR", "/nonexistent"))
    if (root / "bin" / "pulumi").exists():
        return auto.PulumiCommand(root=str(root))
    return auto.PulumiCommand()


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="scripts/promote",
        description="Promote the exact per-platform app digests of one stack to another.",
    )
    parser.add_argument("target", nargs="?", default="production", help="stack to deploy to")
    parser.add_argument("--from", dest="source", help="stack reference to promote from")
    parser.add_argument(
        "--digests",
        help='roll back: pin this JSON digest set instead, e.g. {"linux/arm64": "sha256:…"}',
    )
    parser.add_argument("--preview-only", action="store_true", help="show the diff, deploy nothing")
    args = parser.parse_args(argv)
    try:
        pinned = json.loads(args.digests) if args.digests else None
        if pinned is not None and not isinstance(pinned, dict):
            raise PlanError(
                f"--digests: must be a JSON object of platform to digest (got {pinned!r})"
            )
        result = promote(
            args.target,
            digests=pinned,
            source=args.source,
            apply=not args.preview_only,
            pulumi_command=toolchain_command(),
            show=lambda line: print(line, end=""),
        )
    except (FleetformError, json.JSONDecodeError) as error:
        print(f"scripts/promote: {error}", file=sys.stderr)
        return 2
    except auto.CommandError as error:
        print(f"scripts/promote: pulumi failed:\n{error}", file=sys.stderr)
        return 1
    print(f"\npromoted to {args.target}: " + json.dumps(result.digests))
    return 0


if __name__ == "__main__":
    sys.exit(main())
