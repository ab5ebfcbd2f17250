"""Dagster resources: the seams to the outside world (lake, landing, models, params)."""
