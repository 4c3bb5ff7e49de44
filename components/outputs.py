"""Stack outputs: what runs on every host, from which digest, on which platform."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import pulumi

from components.accessory import Accessory
from components.app_role import AppRole
from components.docker_host import DockerHost
from components.plan import Plan


_PLACEMENT_KEYS = ("host", "kind", "name", "image", "platform", "container")


def placement_table(plan: Plan) -> list[dict[str, Any]]:
    """The plan's placements with the columns of `python -m components plan`."""
    return [
        {key: value for key, value in p.to_json().items() if key in _PLACEMENT_KEYS}
        for p in plan.placements
    ]


def host_summary(
    plan: Plan,
    hosts: Mapping[str, DockerHost],
    digests: pulumi.Output[dict[str, str]],
    roles: Mapping[str, AppRole],
    accessories: Mapping[str, Accessory],
) -> pulumi.Output[dict[str, Any]]:
    """Host to its probed arch and containers, each with the exact image and platform."""
    accessory_platforms = {name: a.platforms for name, a in accessories.items()}
    container_ids = {
        **{f"role/{name}": r.containers for name, r in roles.items()},
        **{f"accessory/{name}": a.containers for name, a in accessories.items()},
    }

    def summarise(values: list[Any]) -> dict[str, Any]:
        arches, digest_map, platforms, ids = values
        summary: dict[str, Any] = {}
        for index, host in enumerate(plan.hosts):
            entries = []
            for placement in plan.placements_for(host.host):
                if placement.kind == "role":
                    platform = placement.platform
                    image = f"{plan.app_repository}@{digest_map.get(platform, '')}"
                else:
                    platform = platforms[placement.name][host.host]
                    image = placement.image
                entries.append(
                    {
                        "kind": placement.kind,
                        "name": placement.name,
                        "container": placement.container,
                        "id": ids[f"{placement.kind}/{placement.name}"].get(host.host, ""),
                        "image": image,
                        "platform": platform,
                    }
                )
            summary[host.host] = {"arch": arches[index], "containers": entries}
        return summary

    return pulumi.Output.all(
        [hosts[h.host].arch for h in plan.hosts],
        digests,
        accessory_platforms,
        container_ids,
    ).apply(summarise)
