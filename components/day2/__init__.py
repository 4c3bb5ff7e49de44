"""Day-2 operations on a deployed stack: Kamal's `app`, `accessory`, aliases and secrets import.

The commands read what a stack deployed from its outputs (through the Pulumi CLI), reach the
hosts with the system `ssh` client under the same pinned host keys and key as the deploy, and
never import Pulumi's Python SDK (`python -m components plan` must work without it).
"""
