"""Metrics: accuracy rules for multiple choice (accuracy.py); pass@k is added by the code tasks."""
