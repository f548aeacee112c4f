"""Account rules: email normalisation and the password policy."""

from __future__ import annotations

import re


class PasswordPolicyError(ValueError):
    """The password does not meet the policy; the message says what to change."""


MIN_PASSWORD_LENGTH = 8
MAX_PASSWORD_LENGTH = 128


def normalize_email(email: str) -> str:
    """Trimmed and lower-cased: emails are unique case-insensitively."""
    return email.strip().lower()


def check_password_policy(password: str, email: str | None = None) -> None:
    """Raise PasswordPolicyError unless the password is 8–128 characters, uses at least two of
    lower case, upper case, digits and symbols, and is not the email address."""
    if len(password) < MIN_PASSWORD_LENGTH:
        raise PasswordPolicyError(f"Use at least {MIN_PASSWORD_LENGTH} characters.")
    if len(password) > MAX_PASSWORD_LENGTH:
        raise PasswordPolicyError(f"Use at most {MAX_PASSWORD_LENGTH} characters.")
    classes = sum(
        bool(re.search(pattern, password))
        for pattern in (r"[a-z]", r"[A-Z]", r"[0-9]", r"[^a-zA-Z0-9]")
    )
    if classes < 2:
        raise PasswordPolicyError(
            "Mix at least two kinds of characters (lower case, upper case, digits, symbols)."
        )
    if email and password.strip().lower() == email.strip().lower():
        raise PasswordPolicyError("The password must not be your email address.")
