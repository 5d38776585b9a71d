"""The feed benchmark: `python -m bench --orders N`."""
