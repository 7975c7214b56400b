"""Alembic migrations of salesplay's tables, shipped with the package: env.py and versions/.

store/migrate.py runs them (`salesplay db upgrade`, and every open of an older database).
"""
