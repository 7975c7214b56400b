"""What people read: rows as aligned tables, JSON or CSV (output.py), progress on a terminal
(progress.py), and listings of grades, tasks, alerts and customers (queries.py)."""
