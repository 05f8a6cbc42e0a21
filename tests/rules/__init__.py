"""Tests of the built-in rule keys; `requests` holds their shared helpers."""

import pytest

# Show the compared values when an assertion inside the shared helpers fails.
pytest.register_assert_rewrite(f"{__name__}.requests")
