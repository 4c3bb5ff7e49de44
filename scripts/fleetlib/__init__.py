"""fleetform's embedded local fleet, one module per concern; `scripts/fleet` is its entry point."""
