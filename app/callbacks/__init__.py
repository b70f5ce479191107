"""Decorated callbacks, kept thin: each names what changed and calls plain functions.

One ``register(app, catalog)`` per module; :func:`app.app.create_app` calls them all.
"""
