"""The salesplay engine: loads playbooks, compiles them to SQL and runs them in one transaction.

The engine knows no rule family by name; `salesplay.rules` says what each playbook section means.
"""
