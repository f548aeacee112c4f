"""Accounts and tokens: sign-up, sign-in, sign-out. Plain functions; callers commit."""

from __future__ import annotations

from datetime import UTC, datetime

from flask_jwt_extended import create_access_token, create_refresh_token
from sqlalchemy import delete, exists, func, select
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from shop.errors import EmailTaken, InvalidCredentials, ValidationFailed
from shop.models import RevokedToken, User
from shop.services.passwords import hash_password, needs_rehash, verify_password
from shop.services.users import PasswordPolicyError, check_password_policy, normalize_email


def register_user(session: Session, *, email: str, password: str, name: str) -> User:
    """Create a customer account. Raises ValidationFailed (password policy) or EmailTaken."""
    email = normalize_email(email)
    try:
        check_password_policy(password, email)
    except PasswordPolicyError as error:
        raise ValidationFailed(
            f"The password is too weak: {error}", errors={"password": [str(error)]}
        ) from error
    user = User(email=email, name=name.strip(), password_hash=hash_password(password))
    session.add(user)
    try:
        session.flush()
    except IntegrityError as error:
        session.rollback()
        constraint = getattr(getattr(error.orig, "diag", None), "constraint_name", None)
        if constraint == "uq_app_user_email_lower":
            raise EmailTaken(
                errors={"email": ["An account with this email already exists."]}
            ) from error
        raise
    return user


def authenticate(session: Session, *, email: str, password: str) -> User:
    """The user with this email and password, or InvalidCredentials. Unknown email and wrong
    password fail the same way and take the same time (one Argon2 verification each)."""
    user = session.scalar(select(User).where(func.lower(User.email) == normalize_email(email)))
    if not verify_password(user.password_hash if user else None, password) or user is None:
        raise InvalidCredentials()
    if needs_rehash(user.password_hash):
        user.password_hash = hash_password(password)
    user.last_login_at = datetime.now(UTC)
    return user


def issue_tokens(user: User) -> dict[str, str]:
    identity = str(user.id)
    return {
        "access_token": create_access_token(identity=identity),
        "refresh_token": create_refresh_token(identity=identity),
    }


def revoke_token(session: Session, payload: dict) -> None:
    """Refuse this token from now on, in every worker (stored in PostgreSQL). Idempotent."""
    session.execute(
        insert(RevokedToken)
        .values(
            jti=payload["jti"],
            token_type=payload["type"],
            user_id=int(payload["sub"]),
            expires_at=datetime.fromtimestamp(payload["exp"], UTC),
        )
        .on_conflict_do_nothing(index_elements=["jti"])
    )


def purge_expired_revocations(session: Session, now: datetime) -> int:
    """Forget revocations of tokens that have expired: they are refused as expired anyway."""
    return session.execute(delete(RevokedToken).where(RevokedToken.expires_at < now)).rowcount


def user_and_revocation(session: Session, user_id: int, jti: str) -> tuple[User | None, bool]:
    """The token's user (None if gone) and whether the token was revoked, in one query."""
    row = session.execute(
        select(User, exists().where(RevokedToken.jti == jti)).where(User.id == user_id)
    ).first()
    if row is None:
        return None, is_revoked(session, jti)
    return row[0], row[1]


def is_revoked(session: Session, jti: str) -> bool:
    return session.get(RevokedToken, jti) is not None
