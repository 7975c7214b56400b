"""The salesplay engine: loads playbooks, compiles them to SQL and runs them set-based.

Layers, each importing only the ones below it (checked by import-linter, see pyproject.toml):

    loader.py, demo.py   loading in phases; the demo organisation
    present/             what people read: tables, CSV/JSON, progress, listings
    delivery/ schedule/  sending the outbox through channels; cron jobs, tick and daemon
    run/                 one evaluation: the rule-family contract, episodes, explain
    sql/                 conditions, metrics and templates compiled to SQLAlchemy
    store/               tables, connections, one adapter per database, imports
    lang/                the playbook language: strict YAML, extends, schema, expressions
    errors.py            the one exception root

The engine knows no rule family by name; `salesplay.rules` says what each section means.
"""
