"""Alembic migrations of the operational store: one branch per store (``users``, ``audit``,
``inbox``), so each embedded SQLite file carries only its own tables while a PostgreSQL deployment
holds all three branches in one database (one ``alembic_version`` row per branch)."""
