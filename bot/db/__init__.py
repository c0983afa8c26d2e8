"""The SQLite database and the files beside it: connection, migrations, backups, private files."""
