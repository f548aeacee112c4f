"""Password hashing with Argon2id (memory-hard), via argon2-cffi.

The cost comes from config (`ARGON2_TIME_COST`, `ARGON2_MEMORY_KIB`): argon2-cffi's recommended
profile in production (≈150 ms per hash on a small machine), a cheap one in tests. A hash made
with other parameters still verifies, and `needs_rehash` tells when to upgrade it.
"""

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError

_hasher = PasswordHasher()
_dummy_hash = _hasher.hash("a password nobody has, used only to spend the same time")


def configure(time_cost: int, memory_kib: int, parallelism: int) -> None:
    """Set the Argon2 cost for this process (called once by the app factory)."""
    global _hasher, _dummy_hash
    if (_hasher.time_cost, _hasher.memory_cost, _hasher.parallelism) == (
        time_cost,
        memory_kib,
        parallelism,
    ):
        return
    _hasher = PasswordHasher(time_cost=time_cost, memory_cost=memory_kib, parallelism=parallelism)
    _dummy_hash = _hasher.hash("a password nobody has, used only to spend the same time")


def hash_password(password: str) -> str:
    return _hasher.hash(password)


def verify_password(password_hash: str | None, password: str) -> bool:
    """True when `password` matches. Always spends one Argon2 verification, also when there is
    no hash (unknown email), so the two failures take the same time."""
    try:
        return _hasher.verify(password_hash or _dummy_hash, password) and password_hash is not None
    except (VerificationError, InvalidHashError):
        return False


def needs_rehash(password_hash: str) -> bool:
    return _hasher.check_needs_rehash(password_hash)
