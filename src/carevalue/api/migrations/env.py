"""Alembic environment: runs on the connection :mod:`carevalue.api.schema_migrations` hands it
(``config.attributes["connection"]``); on PostgreSQL under an advisory lock, so worker processes
starting at once migrate one after another."""

from __future__ import annotations

from alembic import context

from carevalue.api.migrations.tables import metadata

config = context.config
connection = config.attributes.get("connection")
if connection is None:  # the alembic command line: a URL in sqlalchemy.url
    from sqlalchemy import create_engine, pool

    engine = create_engine(config.get_main_option("sqlalchemy.url") or "", poolclass=pool.NullPool)
    connection = engine.connect()

context.configure(connection=connection, target_metadata=metadata, transactional_ddl=True,
                  transaction_per_migration=False, render_as_batch=connection.dialect.name == "sqlite")
with context.begin_transaction():
    if connection.dialect.name == "postgresql":
        connection.exec_driver_sql("SELECT pg_advisory_xact_lock(7212)")
    context.run_migrations()
