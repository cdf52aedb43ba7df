"""Django's SQLite backend as the embedded databases use it: see `base`."""
