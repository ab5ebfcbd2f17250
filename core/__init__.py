"""Pure processing: records, limits, decoders, operators, encoders, alignment math.

Never imports dagster, lancedb, great_expectations or dvc (tests/test_layout.py guards it).
"""
