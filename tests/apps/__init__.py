"""Importable WSGI apps used by the test suites."""
