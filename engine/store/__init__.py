"""Storage: the tables (models.py), connecting and creating them (db.py), every difference
between the databases (dialects/), customer partitions, and importing records (importer.py,
the bulk CSV path in fastload.py, encodings in textfile.py, the file's own names in names.py
and mapping.py, cell conversion in convert.py, the upsert in staging.py)."""
