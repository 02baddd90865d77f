"""Employees' passwords: argon2id hashes computed off the event loop, and the rules a new one meets.

The rules follow NIST SP 800-63B: a minimum length (no composition rules), a maximum that is
generous (128), Unicode normalised (NFKC) before counting and hashing, and a check against a small
bundled list of common passwords and stems (common-passwords.txt) after undoing the usual tricks
(digit-for-letter swaps, the Russian keyboard layout typed for Latin, digits and symbols stuck
on the ends). The login and the person's name may not be the password either.

Hashing costs ~20 MB and ~25 ms: it runs in one worker thread (a PBX has few cores and the event
loop with the AMI reader needs one), with at most `MAX_WAITING` checks queued; past that a
check is refused with `BusyError` (the route answers 503 + Retry-After), so a flood of sign-ins
from many addresses can neither block AMI nor queue without end.
"""

from __future__ import annotations

import asyncio
import functools
import re
import secrets
import unicodedata
from collections.abc import Callable, Iterable
from concurrent.futures import ThreadPoolExecutor
from importlib import resources
from typing import TypeVar

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError

_T = TypeVar("_T")
MAX_LENGTH = 128
# OWASP's argon2id settings for a small server: 19 MiB, 2 passes, 1 lane.
_HASHER = PasswordHasher(time_cost=2, memory_cost=19 * 1024, parallelism=1, hash_len=32, salt_len=16)
# One hashing thread, whatever the number of event loops (tests run one per test).
_POOL = ThreadPoolExecutor(max_workers=1, thread_name_prefix="argon2")
MAX_WAITING = 32  # checks queued or running at once (~0.8 s of work)
_waiting = 0


class BusyError(RuntimeError):
    """Too many password checks are waiting: try again in a moment."""


async def _in_pool(func: Callable[..., _T], *args: object) -> _T:
    global _waiting  # noqa: PLW0603 (one counter for the one pool of this process)
    if _waiting >= MAX_WAITING:
        raise BusyError("too many sign-ins at once")
    _waiting += 1
    try:
        return await asyncio.get_running_loop().run_in_executor(_POOL, func, *args)
    finally:
        _waiting -= 1


# A hash of a random password: checked when the login is unknown, so both cases take as long.
_DUMMY = _HASHER.hash(secrets.token_urlsafe(16))

_LAYOUT = str.maketrans("йцукенгшщзхъфывапролджэячсмитьбю", "qwertyuiop[]asdfghjkl;'zxcvbnm,.")
_LEET = str.maketrans({"0": "o", "1": "i", "3": "e", "4": "a", "5": "s", "7": "t", "@": "a", "$": "s"})
_EDGES = re.compile(r"^[\W\d_]+|[\W\d_]+$")
_SEQUENCES = ("0123456789", "abcdefghijklmnopqrstuvwxyz", "qwertyuiopasdfghjklzxcvbnm", "1qaz2wsx3edc4rfv")


def normalise(password: str) -> str:
    """The form that is counted and hashed (NFKC: one code point per visible letter where possible)."""
    return unicodedata.normalize("NFKC", password)


async def hash_password(password: str) -> str:
    """The argon2id hash of `password` (a string with its own salt and parameters)."""
    return await _in_pool(_hash, normalise(password))


def _hash(password: str) -> str:
    return str(_HASHER.hash(password))


async def verify_password(stored: str | None, password: str) -> bool:
    """Whether `password` matches the `stored` hash; a missing hash takes as long and fails."""
    return await _in_pool(_verify, stored or _DUMMY, normalise(password), stored is not None)


def _verify(stored: str, password: str, real: bool) -> bool:
    try:
        return _HASHER.verify(stored, password) and real
    except (VerificationError, InvalidHashError):
        return False


def needs_rehash(stored: str) -> bool:
    """Whether `stored` was made with weaker parameters than today's (re-hashed at sign-in)."""
    try:
        return _HASHER.check_needs_rehash(stored)
    except InvalidHashError:
        return True


def generate() -> str:
    """A random password to hand out once (20 characters, easy to type: no look-alikes)."""
    alphabet = "abcdefghjkmnpqrstuvwxyzABCDEFGHJKMNPQRSTUVWXYZ23456789"
    return "-".join("".join(secrets.choice(alphabet) for _ in range(5)) for _ in range(4))


@functools.cache
def common_words() -> frozenset[str]:
    """The bundled list of common passwords and stems."""
    text = resources.files("adapters.builtin").joinpath("common-passwords.txt").read_text("utf-8")
    return frozenset(line.strip() for line in text.splitlines() if line.strip() and not line.startswith("#"))


def problems(password: str, min_length: int, personal: Iterable[str] = ()) -> list[str]:
    """Why `password` may not be used (empty when it may), in the words shown to the person."""
    text = normalise(password)
    if len(text) < min_length:
        return [f"не короче {min_length} символов (можно фразу из нескольких слов)"]
    if len(text) > MAX_LENGTH:
        return [f"не длиннее {MAX_LENGTH} символов"]
    found: list[str] = []
    if len(set(text)) < 5 or _is_sequence(text):
        found.append("слишком простой: повторы или подряд идущие символы")
    elif _is_common(text):
        found.append("слишком распространённый: такой пароль подбирают первым")
    lowered = text.casefold()
    if any(len(word) >= 4 and word.casefold() in lowered for word in personal):
        found.append("не должен содержать логин или имя")
    return found


def _reduced(text: str) -> str:
    lowered = text.casefold().translate(_LAYOUT)
    core = _EDGES.sub("", lowered)
    return core.translate(_LEET).replace(" ", "").replace("-", "").replace("_", "")


def _is_common(text: str) -> bool:
    words = common_words()
    core = _reduced(text)
    if not core or core in words:
        return True
    # the same common word over and over ("passwordpassword", "qwertyqwerty")
    return any(len(core) % len(w) == 0 and w * (len(core) // len(w)) == core for w in words if len(w) >= 3)


def _is_sequence(text: str) -> bool:
    squashed = text.casefold().translate(_LAYOUT).replace(" ", "")
    for seq in _SEQUENCES:
        for source in (seq * 4, seq[::-1] * 4):
            if squashed in source:
                return True
    return False
