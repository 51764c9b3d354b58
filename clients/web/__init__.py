"""The web page: static files the daemon serves at / and /web/ (no Python in here)."""
