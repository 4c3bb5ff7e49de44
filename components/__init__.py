"""fleetform: placement and platform planning plus Pulumi components for mixed-arch Docker fleets."""
