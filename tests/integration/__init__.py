"""End-to-end tests: real clients against the middleware served by gunicorn."""
