"""The one Definitions, the executor and pools, and the `tessera` command."""
