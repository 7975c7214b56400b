"""The project folder: salesplay.toml, found by walking up from the working directory, says
which database and playbook every command uses (settings.py); `salesplay init` makes one
(scaffold.py)."""
