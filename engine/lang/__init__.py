"""The playbook language, with no database in sight: strict YAML with the line of every value,
`extends`, the JSON Schema and its friendly messages, the condition language (tokens, syntax
tree, operators as data), durations, windows, periods, shares and amounts, templates."""
