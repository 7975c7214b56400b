"""Delivery: the playbook's `delivery:` section (config.py), one module per channel kind
(channels/), and the dispatcher that sends the outbox at least once (dispatch.py)."""
