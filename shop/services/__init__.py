"""Business rules as plain functions with explicit arguments (no `request`, no `g`).

Routes call these; tests can call them without HTTP. They never commit: the caller commits once
per unit of work.
"""
