"""Business rules as plain functions with explicit arguments (no `request`, no `g`).

Routes call these; tests can call them without HTTP. They never commit and never roll back: the
caller commits once per unit of work, and rolls back after an error. They know nothing about
HTTP (no status codes, headers, routes or camelCase keys): they raise the domain errors of
`errors.py`, which `shop/problems.py` turns into answers.
"""
