"""Alembic revision scripts of the operational store (a package, so a wheel carries them)."""
