"""SQL building: conditions compiled to SQLAlchemy with types and exact arithmetic
(compiler.py), metrics as per-subject facts (metrics.py), team names such as tenure and
owner.* (team.py), message templates rendered in SQL (templates.py)."""
