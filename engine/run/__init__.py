"""One evaluation: the contract with rule families (family.py), a run in one transaction or in
partitions (evaluate.py), tasks and alerts exactly once (emit.py), the outbox rows written
with them (outbox.py), what people do with alerts (alert_status.py), and explain."""
