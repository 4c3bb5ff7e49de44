"""fleetform's own version: what deploy files' `minimum_version` is checked against."""

VERSION = "0.4.0"
