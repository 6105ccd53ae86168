"""Integrations with training frameworks (each an optional dependency)."""
