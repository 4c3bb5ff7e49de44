"""Turns a DeployConfig into a plan: which container runs on which host, on which platform.

The plan is a pure function of the config, the destination and the filters. The app image reaches
a host only through a role placement, so a host that only carries accessories never pulls it
(the kamal#1148 regression).

Rules the plan follows:
- A host's arch is the arch declared by whatever is on it: a role's `arch` (or the builder's single
  arch it inherits) or an accessory's `arch`. Two different arches on one host are a PlanError.
  Host arches are worked out from the whole config, before any filter applies.
- A placement's arch is its own declared arch, else its host's arch, else None: the platform is
  then `null`, and the deploy probes the host.
- Builds are the platforms of the planned role placements; a role placement of unknown arch needs
  every arch the builder builds.
- Filters: `roles` restricts role placements only; `hosts` restricts every placement. So accessories
  are planned whatever the role filter, on the hosts the host filter keeps.
- An accessory's relative host directory `data` is `<home>/<service>-<accessory>/data` on the host,
  where `<home>` is `~`, the SSH user's real home on the host (Kamal's layout). Absolute host
  directories are kept.
- Container names follow Kamal without its version suffix: `<service>-<role>[-<destination>]` and
  `<service>-<accessory>`. Two containers of the same name on one host are a PlanError.
"""

from components.plan.build import build_plan
from components.plan.hosts import host_arches, host_declarations
from components.plan.model import (
    HostPlan,
    Kind,
    Placement,
    Plan,
    ProxyPlacement,
    platform_of,
    route_json,
)

__all__ = [
    "HostPlan",
    "Kind",
    "Placement",
    "Plan",
    "ProxyPlacement",
    "build_plan",
    "host_arches",
    "host_declarations",
    "platform_of",
    "route_json",
]
