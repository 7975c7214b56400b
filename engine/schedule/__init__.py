"""Scheduling: cron expressions to UTC fire times (cron.py, the only croniter user), the
playbook's jobs (jobs.py), and running them exactly once per slot: tick and daemon
(scheduler.py)."""
