"""The errors fleetform raises for bad deploy files and impossible plans."""

from __future__ import annotations


class FleetformError(ValueError):
    """Base of fleetform's own errors; `str(error)` is always `path: problem (got X)`."""


class DeployConfigError(FleetformError):
    """A deploy file (or the merge of a deploy file and its destination file) is invalid."""


class PlanError(FleetformError):
    """A valid config asks for something no fleet can satisfy, such as two arches on one host."""
