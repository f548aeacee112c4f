"""Password hashing with Argon2id (memory-hard), via argon2-cffi.

The cost comes from config (`ARGON2_TIME_COST`, `ARGON2_MEMORY_KIB`): argon2-cffi's recommended
profile in production (≈150 ms per hash on a small machine), a cheap one in tests. A hash made
with other parameters still verifies, and `needs_rehash` tells when to upgrade it.
"""

import contextlib
import fcntl
import os
from collections.abc import Iterator
from pathlib import Path

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError

from shop.services.errors import PasswordHashingBusy

_hasher = PasswordHasher()
_dummy_hash = _hasher.hash("a password nobody has, used only to spend the same time")
# Hashing slots shared by the worker processes of one instance (lock files); None: unbounded.
_slot_files: list[Path] | None = None


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


def bound_concurrency(slots: int, lock_dir: str | os.PathLike | None) -> None:
    """Let at most `slots` hashes run at once across the processes sharing `lock_dir` (the
    instance folder): one hash takes a worker for ~0.15-0.5 s of CPU, so with every worker
    hashing, a flood of logins from many addresses would stall every other request. Keeping
    `slots` below the worker count keeps a worker free for everyone else; a login that finds no
    free slot raises PasswordHashingBusy, "retry in a second" (it never waits, since waiting
    holds a worker too).
    `slots` <= 0 or no `lock_dir` means unbounded."""
    global _slot_files
    if slots <= 0 or lock_dir is None:
        _slot_files = None
        return
    directory = Path(lock_dir) / "locks"
    directory.mkdir(parents=True, exist_ok=True)
    _slot_files = [directory / f"password-hash-{n}.lock" for n in range(slots)]


@contextlib.contextmanager
def _hashing_slot() -> Iterator[None]:
    if _slot_files is None:
        yield
        return
    for path in _slot_files:
        descriptor = os.open(path, os.O_RDWR | os.O_CREAT, 0o600)
        try:
            fcntl.flock(descriptor, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            os.close(descriptor)
            continue
        try:
            yield
        finally:
            fcntl.flock(descriptor, fcntl.LOCK_UN)
            os.close(descriptor)
        return
    raise PasswordHashingBusy()


def hash_password(password: str) -> str:
    with _hashing_slot():
        return _hasher.hash(password)


def verify_password(password_hash: str | None, password: str) -> bool:
    """True when `password` matches. Always spends one Argon2 verification, also when there is
    no hash (unknown email), so the two failures take the same time."""
    with _hashing_slot():
        try:
            return (
                _hasher.verify(password_hash or _dummy_hash, password) and password_hash is not None
            )
        except (VerificationError, InvalidHashError):
            return False


def needs_rehash(password_hash: str) -> bool:
    return _hasher.check_needs_rehash(password_hash)
