"""One module per revision, applied in order by migrate.py (Alembic loads them by path)."""
