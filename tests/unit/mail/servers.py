"""Real mail servers on loopback for the mailbox tests: Debian's Dovecot (IMAP) and aiosmtpd (SMTP).

Dovecot runs from a throw-away configuration in a temporary directory: one passwd-file user, a
Maildir, plain-text login allowed on 127.0.0.1 only, no TLS. As root (CI) its mail and helper
processes run as the `dovecot` user (Dovecot refuses uid 0 for mail); otherwise as the caller.
The SMTP server keeps every envelope it accepts, with the AUTH login it came with.
"""

from __future__ import annotations

import contextlib
import imaplib
import os
import pwd
import shutil
import socket
import subprocess
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from email import message_from_bytes, policy
from email.message import EmailMessage
from pathlib import Path
from typing import Any

import pytest

# The SMTP server takes AUTH without TLS on purpose: it listens on loopback only, for the tests.
QUIET_AUTH = pytest.mark.filterwarnings("ignore:Requiring AUTH while not requiring TLS:UserWarning")

IN_CI = os.environ.get("CI", "").lower() == "true"
DOVECOT = shutil.which("dovecot") or "/usr/sbin/dovecot"
APP_PASSWORD = "vmxkqplrtzwhfdye"  # an app password: 16 letters, as Yandex issues them


def free_port() -> int:
    """A TCP port free on loopback right now."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _wait_port(port: int, proc: subprocess.Popen[bytes], deadline: float) -> None:
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"dovecot exited with {proc.returncode}")
        with contextlib.suppress(OSError), socket.create_connection(("127.0.0.1", port), timeout=0.5):
            return
        time.sleep(0.05)
    raise RuntimeError(f"dovecot did not listen on {port}")


@dataclass
class Dovecot:
    """A running Dovecot: where it listens and the one user's credentials."""

    port: int
    user: str
    password: str
    root: Path
    proc: subprocess.Popen[bytes] | None = None

    def imap(self) -> imaplib.IMAP4:
        """A signed-in standard-library IMAP session (the tests' side: delivering letters)."""
        conn = imaplib.IMAP4("127.0.0.1", self.port, timeout=10)
        conn.login(self.user, self.password)
        return conn

    def deliver(self, message: EmailMessage | bytes, folder: str = "INBOX") -> None:
        """Put a letter into a folder with IMAP APPEND, as a mail transfer agent would have."""
        raw = message if isinstance(message, bytes) else message.as_bytes(policy=policy.SMTP)
        conn = self.imap()
        try:
            typ, data = conn.append(folder, "", imaplib.Time2Internaldate(time.time()), raw)
            assert typ == "OK", data
        finally:
            conn.logout()

    def new_folder(self, name: str) -> str:
        """Create a folder (a test's own inbox, so tests sharing the server do not see each other)."""
        conn = self.imap()
        try:
            typ, data = conn.create(name)
            assert typ == "OK", data
        finally:
            conn.logout()
        return name

    def flags(self, folder: str) -> list[bytes]:
        """The flags of every letter in a folder (to see that fetching marked nothing as read)."""
        conn = self.imap()
        try:
            conn.select(folder, readonly=True)
            _typ, data = conn.fetch("1:*", "(FLAGS)")
        finally:
            conn.logout()
        return [d for d in data if isinstance(d, bytes)]

    def kick(self) -> None:
        """Drop every session of the user (as a server restart or a network break would)."""
        subprocess.run(["doveadm", "-c", str(self.root / "dovecot.conf"), "kick", self.user],
                       capture_output=True, timeout=30, check=True)  # fmt: skip

    def log(self) -> str:
        """Dovecot's own log (for failure messages)."""
        path = self.root / "dovecot.log"
        return path.read_text(errors="replace") if path.exists() else ""


def _version() -> tuple[int, int]:
    out = subprocess.run([DOVECOT, "--version"], capture_output=True, text=True, timeout=10, check=False)
    parts = out.stdout.split()[0].split(".") if out.stdout.strip() else ["2", "3"]
    return int(parts[0]), int(parts[1])


def _config(root: Path, port: int, run_as: pwd.struct_passwd, extra: str = "") -> str:
    if _version() >= (2, 4):
        return _config_24(root, port, run_as) + extra
    config = f"""
base_dir = {root}/run
state_dir = {root}/state
log_path = {root}/dovecot.log
protocols = imap
listen = 127.0.0.1
ssl = no
disable_plaintext_auth = no
auth_mechanisms = plain login
auth_failure_delay = 0
mail_location = maildir:{root}/mail/%u
default_internal_user = {run_as.pw_name}
default_internal_group = {_group(run_as)}
default_login_user = {run_as.pw_name}
first_valid_uid = {run_as.pw_uid}
last_valid_uid = 0
passdb {{
  driver = passwd-file
  args = scheme=PLAIN username_format=%u {root}/passwd
}}
userdb {{
  driver = static
  args = uid={run_as.pw_uid} gid={run_as.pw_gid} home={root}/home/%u
}}
service imap-login {{
  chroot =
  inet_listener imap {{
    address = 127.0.0.1
    port = {port}
  }}
  inet_listener imaps {{
    port = 0
  }}
}}
service anvil {{
  chroot =
  unix_listener anvil-auth-penalty {{
    mode = 0
  }}
}}
service auth {{
  unix_listener auth-userdb {{
    user = {run_as.pw_name}
  }}
}}
"""
    return config + extra


def _config_24(root: Path, port: int, run_as: pwd.struct_passwd) -> str:
    """The same server in Dovecot 2.4's syntax (Debian 13 and later), written from its documentation."""
    return f"""dovecot_config_version = 2.4.0
dovecot_storage_version = 2.4.0
base_dir = {root}/run
state_dir = {root}/state
log_path = {root}/dovecot.log
protocols = imap
listen = 127.0.0.1
ssl = no
auth_allow_cleartext = yes
auth_mechanisms = plain login
mail_driver = maildir
mail_path = {root}/mail/%{{user}}
mail_home = {root}/home/%{{user}}
default_internal_user = {run_as.pw_name}
default_internal_group = {_group(run_as)}
default_login_user = {run_as.pw_name}
first_valid_uid = {run_as.pw_uid}
last_valid_uid = 0
passdb passwd-file {{
  passwd_file_path = {root}/passwd
}}
userdb static {{
  fields {{
    uid = {run_as.pw_uid}
    gid = {run_as.pw_gid}
    home = {root}/home/%{{user}}
  }}
}}
service imap-login {{
  chroot =
  inet_listener imap {{
    listen = 127.0.0.1
    port = {port}
  }}
  inet_listener imaps {{
    port = 0
  }}
}}
service anvil {{
  chroot =
  unix_listener anvil-auth-penalty {{
    mode = 0
  }}
}}
"""


def _group(user: pwd.struct_passwd) -> str:
    import grp

    return grp.getgrgid(user.pw_gid).gr_name


@contextlib.contextmanager
def dovecot_server(extra: str = "") -> Iterator[Dovecot]:
    """Start Dovecot on a free loopback port with a throw-away configuration; stop and remove it after.

    `extra` is added to the configuration (e.g. a CAPABILITY without IDLE).
    """
    if not os.path.exists(DOVECOT):
        if IN_CI:
            raise RuntimeError("dovecot is not installed (.ci/system-deps.sh installs dovecot-imapd)")
        pytest.skip("dovecot-imapd is not installed")
    run_as = pwd.getpwnam("dovecot") if os.geteuid() == 0 else pwd.getpwuid(os.geteuid())
    root = Path(tempfile.mkdtemp(prefix="crm-dovecot-"))
    os.chmod(root, 0o755)
    for sub in ("run", "state", "mail", "home"):
        (root / sub).mkdir()
    port = free_port()
    user, password = (
        "inbox@company.test",
        "vmxkqplrtzwhfdye",
    )  # an app password: 16 letters, as Yandex issues them
    (root / "passwd").write_text(f"{user}:{{PLAIN}}{password}::::::\n", encoding="utf-8")
    (root / "dovecot.conf").write_text(_config(root, port, run_as, extra), encoding="utf-8")
    if os.geteuid() == 0:
        for sub in ("mail", "home", "state"):
            os.chown(root / sub, run_as.pw_uid, run_as.pw_gid)
    proc = subprocess.Popen(
        [DOVECOT, "-F", "-c", str(root / "dovecot.conf")],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    server = Dovecot(port, user, password, root, proc)
    try:
        try:
            _wait_port(port, proc, time.monotonic() + 20)
        except RuntimeError as exc:
            err = (
                proc.stderr.read().decode(errors="replace") if proc.stderr and proc.poll() is not None else ""
            )
            raise RuntimeError(f"{exc}: {err} {server.log()}") from exc
        yield server
    finally:
        proc.terminate()
        try:
            proc.wait(10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(5)
        if proc.stderr:
            proc.stderr.close()
        shutil.rmtree(root, ignore_errors=True)


@dataclass
class Recorder:
    """An aiosmtpd handler keeping every envelope it accepts (and refusing chosen recipients)."""

    received: list[dict[str, Any]] = field(default_factory=list)
    refuse: dict[str, str] = field(default_factory=dict)  # recipient → SMTP reply, e.g. "550 no such user"
    fail_data: list[str] = field(default_factory=list)  # replies to give DATA, one per letter, first first

    async def handle_RCPT(self, server: Any, session: Any, envelope: Any, address: str, options: Any) -> str:
        """Accept the recipient unless it is in `refuse`."""
        if address in self.refuse:
            return self.refuse[address]
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        """Record the letter (or answer with the next queued failure)."""
        if self.fail_data:
            return self.fail_data.pop(0)
        self.received.append(
            {
                "from": envelope.mail_from,
                "to": list(envelope.rcpt_tos),
                "login": session.auth_data,
                "message": message_from_bytes(envelope.content, policy=policy.default),
            }
        )
        return "250 Message accepted for delivery"


@dataclass
class Smtp:
    """A running aiosmtpd: where it listens, its login and what it received."""

    port: int
    user: str
    password: str
    recorder: Recorder


@contextlib.contextmanager
def smtp_server() -> Iterator[Smtp]:
    """aiosmtpd on a free loopback port with AUTH (plain over loopback allowed) and a recorder."""
    from aiosmtpd.controller import Controller
    from aiosmtpd.smtp import AuthResult, LoginPassword

    user, password = (
        "inbox@company.test",
        "vmxkqplrtzwhfdye",
    )  # an app password: 16 letters, as Yandex issues them

    def authenticate(server: Any, session: Any, envelope: Any, mechanism: str, data: Any) -> AuthResult:
        ok = isinstance(data, LoginPassword) and (data.login, data.password) == (
            user.encode(),
            password.encode(),
        )
        return AuthResult(success=ok, handled=False, auth_data=data.login.decode() if ok else None)

    recorder = Recorder()
    port = free_port()
    controller = Controller(
        recorder,
        hostname="127.0.0.1",
        port=port,
        authenticator=authenticate,
        auth_require_tls=False,
        auth_required=True,
    )
    controller.start()
    try:
        yield Smtp(port, user, password, recorder)
    finally:
        controller.stop()
