"""Accounts and tokens: sign-up, sign-in, sign-out. Plain functions; callers commit."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from flask_jwt_extended import create_access_token, create_refresh_token, decode_token
from sqlalchemy import ColumnElement, String, bindparam, delete, func, select, update
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from shop.database import driver_sql, read_rows
from shop.models import RefreshToken, RevokedToken, Role, User
from shop.services.dml import rows_changed
from shop.services.errors import (
    EmailTaken,
    InvalidCredentials,
    RefreshTokenReused,
    RefreshTokenUnknown,
    ValidationFailed,
)
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
        # The transaction is aborted now: the caller rolls it back (a request's session is
        # rolled back at its end), as after any error.
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


def issue_tokens(
    session: Session, user: User | SignedInUser, family_id: str | None = None
) -> dict[str, str]:
    """A new access token and refresh token for `user`. Without `family_id` this starts a new
    session family (sign-in); with it, the pair continues that family (refresh). Both tokens
    carry the family as the `fam` claim, so logging out can end the whole family."""
    identity = str(user.id)
    family_id = family_id or uuid.uuid4().hex
    claims = {"fam": family_id}
    refresh_token = create_refresh_token(identity=identity, additional_claims=claims)
    payload = decode_token(refresh_token)
    session.add(
        RefreshToken(
            jti=payload["jti"],
            family_id=family_id,
            user_id=user.id,
            expires_at=datetime.fromtimestamp(payload["exp"], UTC),
        )
    )
    return {
        "access_token": create_access_token(identity=identity, additional_claims=claims),
        "refresh_token": refresh_token,
    }


def rotate_refresh_token(
    session: Session, user: SignedInUser, payload: dict[str, Any]
) -> dict[str, str]:
    """Use the refresh token `payload` (already verified and not revoked) exactly once: mark it
    used and issue the next pair in its family. A token used before means a copy is in someone
    else's hands: the family is revoked (flushed, for the caller to commit) and
    RefreshTokenReused raised."""
    record = session.scalars(
        select(RefreshToken).where(RefreshToken.jti == payload["jti"]).with_for_update()
    ).one_or_none()
    if record is None or record.user_id != user.id:
        raise RefreshTokenUnknown()
    if record.used_at is not None:
        revoke_family(session, record.family_id)
        raise RefreshTokenReused()
    record.used_at = datetime.now(UTC)
    return issue_tokens(session, user, family_id=record.family_id)


def revoke_family(session: Session, family_id: str) -> None:
    """End a sign-in session: every refresh token of the family, and (through the `fam` claim,
    checked on every request) every access token issued with them, stop working."""
    session.execute(
        update(RefreshToken)
        .where(RefreshToken.family_id == family_id, RefreshToken.revoked_at.is_(None))
        .values(revoked_at=func.now())
    )


def revoke_token(session: Session, payload: dict[str, Any]) -> None:
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
    """Forget revocations and refresh-token records of tokens that have expired: they are
    refused as expired anyway."""
    revoked = rows_changed(
        session.execute(delete(RevokedToken).where(RevokedToken.expires_at < now))
    )
    refresh = rows_changed(
        session.execute(delete(RefreshToken).where(RefreshToken.expires_at < now))
    )
    return revoked + refresh


def _revoked(refresh: bool) -> ColumnElement[bool]:
    """SQL truth value: whether a verified token (`:jti`, of family `:family_id`) must be
    refused: logged out, its family ended, or, for refresh tokens, never recorded."""
    jti, family_id = bindparam("jti", type_=String), bindparam("family_id", type_=String)
    family_revoked = (
        select(RefreshToken.jti)
        .where(RefreshToken.family_id == family_id, RefreshToken.revoked_at.is_not(None))
        .exists()
    )
    if refresh:
        known = select(RefreshToken.jti).where(
            RefreshToken.jti == jti, RefreshToken.revoked_at.is_(None)
        )
        return ~(known.exists() & ~family_revoked)
    logged_out = select(RevokedToken.jti).where(RevokedToken.jti == jti).exists()
    return logged_out | family_revoked


# Every authenticated request runs one of these: built once per token type (access, refresh),
# so a request pays neither for building the statement nor for its cache key.
_IS_REVOKED = {refresh: select(_revoked(refresh)) for refresh in (False, True)}
_SIGNED_IN_USER = select(User.id, User.email, User.name, User.role, User.created_at).where(
    User.id == bindparam("user_id")
)
_USER_AND_REVOCATION = {
    refresh: _SIGNED_IN_USER.add_columns(_revoked(refresh).label("revoked"))
    for refresh in (False, True)
}


@dataclass(frozen=True)
class SignedInUser:
    """The account a verified token names, as routes see it (`current_user`), read with the
    token's revocation on every authenticated request. Plain values from a Core row, not an
    ORM `User`: building and tracking an ORM object cost ~60 µs of CPU per request, and no
    route changes its user through `current_user` (a service that changes an account loads the
    `User` row itself)."""

    id: int
    email: str
    name: str
    role: Role
    created_at: datetime

    @property
    def is_admin(self) -> bool:
        return self.role == Role.ADMIN


def _revocation_parameters(payload: dict[str, Any]) -> dict[str, Any]:
    return {"jti": payload["jti"], "family_id": payload.get("fam")}


def is_revoked(session: Session, payload: dict[str, Any]) -> bool:
    """Whether a verified token must be refused. One query per authenticated request."""
    statement = _IS_REVOKED[payload.get("type") == "refresh"]
    return bool(session.scalar(statement, _revocation_parameters(payload)))


def user_and_revocation(
    session: Session, user_id: int, payload: dict[str, Any]
) -> tuple[SignedInUser | None, bool]:
    """The token's user (None if gone) and whether the token must be refused, in one query."""
    statement = _USER_AND_REVOCATION[payload.get("type") == "refresh"]
    # Every signed-in request runs this, checkout's sold-out 409s included: through
    # `read_rows` (psycopg's raw cursor) rather than SQLAlchemy's execution and result objects.
    # Its rows are the driver's values, so the role string becomes a `Role` here.
    rows = read_rows(
        session.connection(),
        driver_sql(statement),
        {**_revocation_parameters(payload), "user_id": user_id},
    )
    if not rows:
        return None, is_revoked(session, payload)
    row = rows[0]
    user = SignedInUser(row.id, row.email, row.name, Role(row.role), row.created_at)
    return user, bool(row.revoked)


def signed_in_user(session: Session, user_id: int) -> SignedInUser | None:
    """The account with this id as `current_user` sees it, or None."""
    row = session.connection().execute(_SIGNED_IN_USER, {"user_id": user_id}).first()
    return None if row is None else SignedInUser(*row)
