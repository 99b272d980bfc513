"""lm-eval's task format (its YAML task files), read and run as lm-eval 0.4 does: one concept per module."""
