"""Alembic's environment for salesplay: runs the migrations on the connection migrate.py gives.

migrate.py hands over a connection inside the transaction that holds the upgrade lock and has
checked the version (config.attributes["connection"]); every DDL statement of the upgrade joins
that one transaction. Upgrading from the alembic command line would skip the lock, the version
check and the SQLite backup, so it is refused: use `salesplay db upgrade`. The command line is
for writing a migration (`alembic revision -m "…" --rev-id 0005`, configured in pyproject.toml).

There is no target_metadata to autogenerate from: the rule families' tables are declared above
this layer. Write each migration by hand with the tables' names;
tests/engine/store/test_migrations.py compares a migrated database with every model and fails
on any difference.
"""

from __future__ import annotations

from alembic import context

connection = context.config.attributes.get("connection")
if connection is None:
    raise SystemExit("upgrade salesplay's database with `salesplay db upgrade`, not alembic")
context.configure(connection=connection, target_metadata=None)
with context.begin_transaction():
    context.run_migrations()
