"""Importing this package registers every operator (one file each, grouped by stage)."""

from tessera.core.ops import aligned, augmented, cleaned, embedded, unified  # noqa: F401
