"""Shared solver machinery (CP-SAT wrapper, status handling)."""
