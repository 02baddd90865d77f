"""The PBX harness: two real Asterisk 22 instances in a cached Debian sid root.

"pbx" is the PBX under test, in one of two profiles (`PROFILES`): "asterisk", the harness's own
MikoPBX-shaped dialplan (conf/pbx), or "mikopbx", MikoPBX's generated dialplan with its Lua
hooks and CdrConnector user events (conf/pbx overlaid by conf/mikopbx). "world" plays the
phones and the provider (conf/world) and is driven through its own AMI. Both run with ``chroot`` into the
root built by build-root.sh, on loopback addresses and free ports, with no mounts at all (the
root's /dev already holds the few device nodes Asterisk opens).

Use ``Harness.start()`` / ``Harness.stop()`` (or the ``pbx_harness`` fixture in conftest.py).
Every process started here is also killed at interpreter exit, and a session whose owner died
(kill -9) is reaped by the next one.
"""

from __future__ import annotations

import asyncio
import atexit
import contextlib
import os
import re
import secrets
import shutil
import signal
import socket
import subprocess
import time
import urllib.parse
from dataclasses import dataclass, field
from pathlib import Path

from connector.calls.capture import as_event
from connector.calls.model import Call
from connector.calls.rules import rules_from_numbering
from connector.calls.tracker import CallTracker

from .ami import AmiClient, AmiError, Message, header, match

HERE = Path(__file__).resolve().parent
CONF = HERE / "conf"
BUILD_SCRIPT = HERE / "build-root.sh"
SESSIONS = Path("var/tmp/crm-pbx")  # inside the root
AMI_USER = "crm-connector"
EXTENSIONS = tuple(str(n) for n in range(201, 209))
DIDS = ("74951110001", "74951110002")
NUMBERING = {"country": "7", "internal_pattern": "^[0-9]{2,5}$", "dids": list(DIDS)}
FIXTURES = HERE.parent / "fixtures" / "ami"
# Silent sound files the dialplans play (the root has no sound packages): name -> seconds.
SOUNDS = {"announcement": 2.0, "ivr-menu": 4.0, "closed": 1.5}


@dataclass(frozen=True)
class Profile:
    """A configuration of the PBX under test: which conf directories make it (each overlaying
    the previous, after conf/common), how click-to-call and AMI transfers reach its dialplan,
    and where its captures live."""

    name: str
    conf_dirs: tuple[str, ...]
    fixtures: Path
    transfer_context: str
    description: str
    numbering: dict[str, object] = field(default_factory=lambda: dict(NUMBERING))


PROFILES = {
    "asterisk": Profile(
        "asterisk",
        ("pbx",),
        FIXTURES,
        "internal",
        "the harness's own dialplan, shaped like MikoPBX's (conf/pbx)",
    ),
    "mikopbx": Profile(
        "mikopbx",
        ("pbx", "mikopbx"),
        FIXTURES / "mikopbx",
        "internal-transfer",
        "MikoPBX's generated dialplan with its Lua hooks and CdrConnector events (conf/mikopbx)",
        # The queues as the connector's numbering.queues lists them (names from the admin pages).
        dict(
            NUMBERING,
            queues=[
                {"id": "QUEUE-6A1B2C3D4E5F60718293A4B5", "number": "2200100", "name": "Отдел продаж"},
                {"id": "QUEUE-7B2C3D4E5F60718293A4B5C6", "number": "2200101", "name": "Поддержка"},
                {"id": "QUEUE-8C3D4E5F60718293A4B5C6D7", "number": "2200102", "name": "Бухгалтерия"},
                {"id": "QUEUE-9D4E5F60718293A4B5C6D7E8", "number": "2200103", "name": "Отдел доставки"},
            ],
        ),
    ),
}
DEFAULT_PROFILE = "asterisk"


class HarnessError(Exception):
    """The harness could not build, start or drive Asterisk."""


def build_root(timeout: float = 900.0) -> Path:
    """Build (or find cached) the sid root with Asterisk; return its path. Blocking."""
    try:
        result = subprocess.run(
            ["bash", str(BUILD_SCRIPT)],
            capture_output=True,
            text=True,
            timeout=timeout,
            check=False,
        )
    except subprocess.TimeoutExpired as exc:
        raise HarnessError(f"build-root.sh did not finish in {timeout} s") from exc
    if result.returncode != 0:
        raise HarnessError(f"build-root.sh failed ({result.returncode}):\n{result.stderr[-4000:]}")
    return Path(result.stdout.strip().splitlines()[-1])


def free_port(address: str, kind: int) -> int:
    """A port free right now on address for the socket kind (SOCK_STREAM / SOCK_DGRAM)."""
    with socket.socket(socket.AF_INET, kind) as sock:
        sock.bind((address, 0))
        return int(sock.getsockname()[1])


# Processes started by this interpreter, killed at exit whatever happened to the fixtures.
_LIVE: set[subprocess.Popen[bytes]] = set()


def _kill_group(proc: subprocess.Popen[bytes]) -> None:
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(proc.pid, signal.SIGKILL)
    with contextlib.suppress(subprocess.TimeoutExpired):
        proc.wait(5)
    _LIVE.discard(proc)


@atexit.register
def _kill_leftovers() -> None:
    for proc in list(_LIVE):
        _kill_group(proc)


def _pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def reap_stale_sessions(root: Path) -> None:
    """Kill the Asterisks of sessions whose owner process is gone, and remove their dirs."""
    base = root / SESSIONS
    if not base.is_dir():
        return
    for session in base.iterdir():
        owner = session.name.split("-", 1)[0]
        if owner.isdigit() and _pid_alive(int(owner)):
            continue
        needle = str(Path("/") / SESSIONS / session.name).encode()
        for proc_dir in Path("/proc").iterdir():
            if not proc_dir.name.isdigit():
                continue
            with contextlib.suppress(OSError):
                if needle in (proc_dir / "cmdline").read_bytes():
                    os.kill(int(proc_dir.name), signal.SIGKILL)
        shutil.rmtree(session, ignore_errors=True)


@dataclass
class Instance:
    """One Asterisk process in the root: its config directory, ports and AMI session."""

    name: str
    root: Path
    inner_dir: Path  # the instance's directory as seen inside the chroot
    values: dict[str, str]
    ami_port: int
    conf_dirs: tuple[str, ...] = ()
    proc: subprocess.Popen[bytes] | None = None
    ami: AmiClient | None = None

    @property
    def outer_dir(self) -> Path:
        """The instance's directory as seen from the host."""
        return self.root / self.inner_dir.relative_to("/")

    @property
    def conf_file(self) -> str:
        return str(self.inner_dir / "etc" / "asterisk.conf")

    def write_config(self) -> None:
        """Packaged defaults first, then the common and the instance's own files on top."""
        etc = self.outer_dir / "etc"
        for sub in ("etc", "run", "log/cdr-csv", "db", "spool", "cache"):
            (self.outer_dir / sub).mkdir(parents=True, exist_ok=True)
        shutil.copytree(self.root / "etc/asterisk.dist", etc, dirs_exist_ok=True)
        for source in (CONF / "common", *(CONF / d for d in self.conf_dirs or (self.name,))):
            for path in sorted([*source.glob("*.conf"), *source.glob("*.lua")]):
                text = path.read_text(encoding="utf-8")
                for key, value in self.values.items():
                    text = text.replace(f"@{key}@", value)
                (etc / path.name).write_text(text, encoding="utf-8")
        sounds = self.outer_dir / "sounds"
        sounds.mkdir(exist_ok=True)
        for name, seconds in SOUNDS.items():
            # 8 kHz mu-law silence (0xFF): Playback() takes as long as a real prompt would.
            (sounds / f"{name}.ulaw").write_bytes(b"\xff" * int(8000 * seconds))

    def start(self) -> None:
        """Start Asterisk in the foreground of its own process group (blocking, fast)."""
        log = (self.outer_dir / "log" / "console.log").open("wb")
        self.proc = subprocess.Popen(
            ["chroot", str(self.root), "/usr/sbin/asterisk", "-C", self.conf_file, "-f", "-n", "-q"],
            stdin=subprocess.DEVNULL,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        log.close()
        _LIVE.add(self.proc)

    def cli(self, command: str, timeout: float = 10.0) -> str:
        """Run a CLI command through the remote console (blocking)."""
        result = subprocess.run(
            ["chroot", str(self.root), "/usr/sbin/asterisk", "-C", self.conf_file, "-rx", command],
            capture_output=True,
            text=True,
            timeout=timeout,
            check=False,
        )
        return result.stdout

    def log_tail(self, lines: int = 40) -> str:
        """The end of the instance's logs, for error messages."""
        parts = []
        for name in ("console.log", "messages.log"):
            path = self.outer_dir / "log" / name
            if path.exists():
                text = path.read_text(encoding="utf-8", errors="replace").splitlines()
                parts.append(f"--- {self.name} {name} ---\n" + "\n".join(text[-lines:]))
        return "\n".join(parts)

    async def connect(self, boot_timeout: float = 30.0) -> AmiClient:
        """Log in to the instance's AMI once it listens, and wait until it is fully booted."""
        deadline = time.monotonic() + boot_timeout
        while True:
            if self.proc is not None and self.proc.poll() is not None:
                raise HarnessError(f"{self.name} exited ({self.proc.returncode})\n{self.log_tail()}")
            client = AmiClient(
                "127.0.0.1", self.ami_port, AMI_USER, self.values["AMI_SECRET"], name=self.name
            )
            try:
                await client.connect()
                break
            except (TimeoutError, OSError, AmiError) as exc:
                await client.close()
                if time.monotonic() > deadline:
                    raise HarnessError(f"{self.name}: AMI did not answer\n{self.log_tail()}") from exc
                await asyncio.sleep(0.1)
        # FullyBooted is sent to a session that logs in once every module is loaded.
        await client.wait_event(match(Event="FullyBooted"), wait_timeout=boot_timeout, what="FullyBooted")
        self.ami = client
        return client

    def stop(self) -> None:
        """Stop Asterisk (gracefully, then by force) and remove the instance directory."""
        if self.proc is not None:
            if self.proc.poll() is None:
                with contextlib.suppress(subprocess.TimeoutExpired, OSError):
                    self.cli("core stop now", timeout=5)
                with contextlib.suppress(subprocess.TimeoutExpired):
                    self.proc.wait(5)
            _kill_group(self.proc)
            self.proc = None


@dataclass
class WorldCall:
    """A call the world placed (a phone dialling, or the provider delivering an inbound call)."""

    uniqueid: str
    originate_id: str


@dataclass
class Harness:
    """Both instances and the helpers scenarios use to drive them."""

    root: Path
    session_dir: Path  # inside the root
    pbx_instance: Instance
    world_instance: Instance
    asterisk_version: str = ""
    profile: Profile = PROFILES[DEFAULT_PROFILE]
    # Where the current scenario began in each event log (set by begin()).
    pbx_mark: int = 0
    world_mark: int = 0
    _calls: int = field(default=0)
    _behaviours: set[str] = field(default_factory=set)
    _db_keys: set[tuple[str, str]] = field(default_factory=set)

    # ----------------------------------------------------------------- lifecycle
    @classmethod
    async def start(cls, root: Path | None = None, profile: str = DEFAULT_PROFILE) -> Harness:
        """Build/find the root, start both instances (the PBX in `profile`), and log in to both AMIs."""
        if profile not in PROFILES:
            raise HarnessError(f"unknown PBX profile {profile!r} (known: {', '.join(PROFILES)})")
        if root is None:
            root = await asyncio.to_thread(build_root)
        await asyncio.to_thread(reap_stale_sessions, root)
        session_dir = Path("/") / SESSIONS / f"{os.getpid()}-{secrets.token_hex(3)}"
        ports = {
            "SIP_PORT": str(free_port("127.0.0.1", socket.SOCK_DGRAM)),
            "PHONES_PORT": str(free_port("127.0.0.2", socket.SOCK_DGRAM)),
            "PROVIDER_PORT": str(free_port("127.0.0.3", socket.SOCK_DGRAM)),
            "AMI_USER": AMI_USER,
            # ARI on the PBX (conf/pbx/http.conf, ari.conf): the connector's second event source
            "HTTP_PORT": str(free_port("127.0.0.1", socket.SOCK_STREAM)),
            "ARI_SECRET": secrets.token_hex(8),
        }
        instances = []
        # MikoPBX's systemname is "mikopbx", which prefixes every Uniqueid ("mikopbx-1700...").
        for name, system, rtp in (("pbx", "mikopbx", (20000, 24999)), ("world", "world", (25000, 29999))):
            ami_port = free_port("127.0.0.1", socket.SOCK_STREAM)
            values = dict(
                ports,
                NAME=system,
                DIR=str(session_dir / name),
                AMI_PORT=str(ami_port),
                AMI_SECRET=secrets.token_hex(8),
                RTP_START=str(rtp[0]),
                RTP_END=str(rtp[1]),
            )
            dirs = PROFILES[profile].conf_dirs if name == "pbx" else (name,)
            instances.append(Instance(name, root, session_dir / name, values, ami_port, dirs))
        harness = cls(root, session_dir, instances[0], instances[1], profile=PROFILES[profile])
        try:
            for instance in instances:
                await asyncio.to_thread(instance.write_config)
                await asyncio.to_thread(instance.start)
            await asyncio.gather(*(instance.connect() for instance in instances))
            harness.asterisk_version = await harness._read_version()
        except BaseException:
            await harness.stop()
            raise
        return harness

    async def stop(self) -> None:
        """Close the AMI sessions, stop both instances and remove the session directory."""
        for instance in (self.pbx_instance, self.world_instance):
            if instance.ami is not None:
                await instance.ami.close()
                instance.ami = None
        await asyncio.gather(*(asyncio.to_thread(i.stop) for i in (self.pbx_instance, self.world_instance)))
        await asyncio.to_thread(shutil.rmtree, self.root / self.session_dir.relative_to("/"), True)

    async def _read_version(self) -> str:
        """The upstream version ("22.10.1"); Debian's suffix (+dfsg...-1) is dropped."""
        reply = await self.pbx.action("CoreSettings")
        full = header(reply, "AsteriskVersion")
        found = re.match(r"\d+(?:\.\d+)*", full)
        return found.group(0) if found else full

    @property
    def pbx(self) -> AmiClient:
        """The PBX's AMI session (its event log is what captures are made of)."""
        assert self.pbx_instance.ami is not None, "harness not started"
        return self.pbx_instance.ami

    @property
    def ari_url(self) -> str:
        """The PBX's ARI base URL (user AMI_USER, password `ari_secret`); MikoPBX's http.conf
        has `prefix=asterisk`."""
        prefix = "/asterisk" if self.profile.name == "mikopbx" else ""
        return f"http://127.0.0.1:{self.pbx_instance.values['HTTP_PORT']}{prefix}/ari"

    @property
    def ari_secret(self) -> str:
        """The ARI user's password (ari.conf)."""
        return self.pbx_instance.values["ARI_SECRET"]

    @property
    def world(self) -> AmiClient:
        """The world's AMI session (phones and provider)."""
        assert self.world_instance.ami is not None, "harness not started"
        return self.world_instance.ami

    @property
    def monitor_dir(self) -> Path:
        """Where the PBX writes recordings, as seen from the host."""
        return self.pbx_instance.outer_dir / "spool" / "monitor"

    def begin(self) -> None:
        """Mark the start of a scenario: later waits search the event logs from here."""
        self.pbx_mark = len(self.pbx.events)
        self.world_mark = len(self.world.events)

    # ----------------------------------------------------------------- world behaviour
    async def set_behaviour(self, number: str, behaviour: str) -> None:
        """What the world does when the PBX calls this number (see conf/world/extensions.conf)."""
        key = "".join(ch for ch in number if ch.isdigit())
        self._behaviours.add(key)
        reply = await self.world.action("Setvar", Variable=f"B_{key}", Value=behaviour)
        if header(reply, "Response") != "Success":
            raise HarnessError(f"Setvar B_{key} failed: {reply}")

    async def phone(self, ext: str, behaviour: str) -> None:
        """Set how phone `ext` treats calls: answer:<ring>:<talk>, busy, reject:<ring>, noanswer."""
        await self.set_behaviour(ext, behaviour)

    async def client(self, number: str, behaviour: str) -> None:
        """Set how the client at `number` (behind the provider) treats the PBX's calls."""
        await self.set_behaviour(number, behaviour)

    async def route(self, did: str, destination: str | None) -> None:
        """Send line `did` to an internal number (None: back to its default route)."""
        if destination is None:
            await self.pbx.action("DBDel", Family="inroute", Key=did)
            return
        reply = await self.pbx.action("DBPut", Family="inroute", Key=did, Val=destination)
        if header(reply, "Response") != "Success":
            raise HarnessError(f"DBPut inroute/{did} failed: {reply}")

    async def db_put(self, family: str, key: str, value: str) -> None:
        """Set an astdb key on the PBX (forwarding, ring time, a line's time condition...), as
        MikoPBX's admin pages do; `reset()` deletes it again."""
        reply = await self.pbx.action("DBPut", Family=family, Key=key, Val=value)
        if header(reply, "Response") != "Success":
            raise HarnessError(f"DBPut {family}/{key} failed: {reply}")
        self._db_keys.add((family, key))

    async def reset(self) -> None:
        """Forget every behaviour, route and astdb key, and wait until both instances are idle."""
        for number in sorted(self._behaviours | set(EXTENSIONS)):
            await self.set_behaviour(number, "")
        self._behaviours.clear()
        for did in DIDS:
            await self.route(did, None)
        for family, key in sorted(self._db_keys):
            await self.pbx.action("DBDel", Family=family, Key=key)
        self._db_keys.clear()
        await self.wait_idle()

    # ----------------------------------------------------------------- placing calls
    async def _originate(self, channel: str, callerid: str, talk: float, give_up: float | None) -> WorldCall:
        self._calls += 1
        uniqueid = f"world-{os.getpid()}-{self._calls}"
        originate_id = f"orig-{uniqueid}"
        variables = [f"TALK={talk:g}"]
        reply = await self.world.action(
            "Originate",
            action_id=originate_id,
            Channel=channel,
            Context="talk",
            Exten="s",
            Priority="1",
            CallerID=callerid,
            Timeout=str(int((give_up or 60) * 1000)),
            Async="true",
            ChannelId=uniqueid,
            Variable=variables,
        )
        if header(reply, "Response") != "Success":
            raise HarnessError(f"world Originate {channel} failed: {reply}")
        return WorldCall(uniqueid, originate_id)

    async def dial_from_phone(
        self, ext: str, number: str, *, talk: float = 0, give_up: float | None = None
    ) -> WorldCall:
        """Phone `ext` dials `number`; it talks `talk` s once answered (0: until hung up) and
        hangs up after `give_up` s if nobody answers."""
        return await self._originate(f"PJSIP/{number}@phones", f'"{ext}" <{ext}>', talk, give_up)

    async def inbound(
        self, did: str, number: str, name: str = "", *, talk: float = 0, give_up: float | None = None
    ) -> WorldCall:
        """The provider delivers a call from `number` ("name") to line `did`."""
        callerid = f'"{name}" <{number}>' if name else f"<{number}>"
        return await self._originate(f"PJSIP/{did}@provider", callerid, talk, give_up)

    async def click_to_call(self, ext: str, number: str) -> Message:
        """Click-to-call through the PBX's AMI: ring `ext` first, then dial the client. On the
        mikopbx profile the variables are MikoPBX's own (pt1c_cid: the number to call once the
        employee answers, which [all_peers] reaches by ChannelRedirect of the phone's channel)."""
        self._calls += 1
        variables = [f"pt1c_cid={number}", "ALLOW_MULTY_ANSWER=1"] if self.profile.name == "mikopbx" else []
        reply = await self.pbx.action(
            "Originate",
            action_id=f"click-{os.getpid()}-{self._calls}",
            Channel=f"Local/{ext}@internal-originate",
            Context="all_peers",
            Exten=number,
            Priority="1",
            CallerID=f'"{number}" <{number}>',
            Timeout="30000",
            Async="true",
            **({"Variable": variables} if variables else {}),
        )
        if header(reply, "Response") != "Success":
            raise HarnessError(f"PBX Originate failed: {reply}")
        return reply

    # ----------------------------------------------------------------- finding channels
    async def pbx_channels(self) -> list[Message]:
        """The PBX's channels right now (CoreShowChannels items)."""
        return await self.pbx.list_action("CoreShowChannels")

    async def world_channels(self) -> list[Message]:
        """The world's channels right now."""
        return await self.world.list_action("CoreShowChannels")

    async def pbx_channel_of(self, ext: str, *, state: str = "Up") -> str:
        """The name of phone `ext`'s channel on the PBX in the given state (e.g. PJSIP/201-0000000a)."""
        for chan in await self.pbx_channels():
            name = header(chan, "Channel")
            if name.startswith(f"PJSIP/{ext}-") and header(chan, "ChannelStateDesc") == state:
                return name
        raise HarnessError(f"no {state} PBX channel for {ext}")

    async def world_channel(self, uniqueid: str) -> str:
        """The world channel's name for a uniqueid."""
        for chan in await self.world_channels():
            if header(chan, "Uniqueid") == uniqueid:
                return header(chan, "Channel")
        raise HarnessError(f"no world channel {uniqueid}")

    async def world_leg_of(self, ext: str, since: int | None = None, wait_timeout: float = 10.0) -> str:
        """Uniqueid of the world channel on which the PBX calls phone `ext` (first one since
        the scenario began, or since the given world event index)."""
        _, event = await self.world.wait_event(
            match(Event="Newchannel", Exten=ext, Context="from-pbx"),
            since=self.world_mark if since is None else since,
            wait_timeout=wait_timeout,
            what=f"world leg of {ext}",
        )
        return header(event, "Uniqueid")

    # ----------------------------------------------------------------- acting on calls
    async def hangup_world(self, uniqueid: str) -> None:
        """Hang up a world channel: the phone or client puts the receiver down (SIP BYE/CANCEL)."""
        channel = await self.world_channel(uniqueid)
        await self.world.action("Hangup", Channel=channel, Cause="16")

    async def send_dtmf(self, uniqueid: str, digits: str) -> None:
        """A world phone presses keys (RFC 4733 to the PBX), e.g. a feature code."""
        channel = await self.world_channel(uniqueid)
        for digit in digits:
            reply = await self.world.action("PlayDTMF", Channel=channel, Digit=digit, Duration="120")
            if header(reply, "Response") != "Success":
                raise HarnessError(f"PlayDTMF {digit} failed: {reply}")
            # Key presses need a gap, as a person's do, or the PBX sees one long tone.
            await asyncio.sleep(0.25)

    async def blind_transfer(self, ext: str, target: str) -> None:
        """BlindTransfer through the PBX's AMI: `ext`'s party goes to `target`."""
        channel = await self.pbx_channel_of(ext)
        reply = await self.pbx.action(
            "BlindTransfer", Channel=channel, Exten=target, Context=self.profile.transfer_context
        )
        if header(reply, "Response") != "Success":
            raise HarnessError(f"BlindTransfer failed: {reply}")

    async def attended_transfer(self, ext: str, target: str) -> None:
        """Atxfer through the PBX's AMI: `ext` consults `target` while the client waits."""
        channel = await self.pbx_channel_of(ext)
        reply = await self.pbx.action(
            "Atxfer", Channel=channel, Exten=target, Context=self.profile.transfer_context
        )
        if header(reply, "Response") != "Success":
            raise HarnessError(f"Atxfer failed: {reply}")

    async def world_dialog(self, uniqueid: str) -> tuple[str, str, str]:
        """(Call-ID, local tag, remote tag) of a world channel's SIP dialog with the PBX."""
        channel = await self.world_channel(uniqueid)
        values = []
        for item in ("call-id", "local_tag", "remote_tag"):
            reply = await self.world.action("Getvar", Channel=channel, Variable=f"CHANNEL(pjsip,{item})")
            values.append(header(reply, "Value"))
        if not all(values):
            raise HarnessError(f"no SIP dialog for world channel {uniqueid}: {values}")
        return values[0], values[1], values[2]

    async def refer(self, uniqueid: str, target: str, *, replacing: str | None = None) -> None:
        """The world phone on channel `uniqueid` transfers its call by SIP REFER, as a phone's
        transfer key does: blind to extension `target`, or, with `replacing` (the world
        uniqueid of the phone's consultation call to `target`), attended: the Refer-To carries
        Replaces with that call's dialog, so the PBX joins the party to the target."""
        uri = f"sip:{target}@127.0.0.1:{self.pbx_instance.values['SIP_PORT']}"
        if replacing is not None:
            call_id, local_tag, remote_tag = await self.world_dialog(replacing)
            # Replaces names the dialog as the PBX knows it: its tag (to-tag), then the phone's.
            replaces = f"{call_id};to-tag={remote_tag};from-tag={local_tag}"
            uri = f"<{uri}?Replaces={urllib.parse.quote(replaces, safe='')}>"
        channel = await self.world_channel(uniqueid)
        reply = await self.world.action("Setvar", Channel=channel, Variable="REFER_TO", Value=uri)
        if header(reply, "Response") != "Success":
            raise HarnessError(f"Setvar REFER_TO failed: {reply}")
        reply = await self.world.action("Redirect", Channel=channel, Context="refer", Exten="s", Priority="1")
        if header(reply, "Response") != "Success":
            raise HarnessError(f"Redirect to refer failed: {reply}")

    # ----------------------------------------------------------------- waiting
    async def wait_pbx(
        self, *, since: int | None = None, wait_timeout: float = 15.0, **headers: str
    ) -> tuple[int, Message]:
        """Wait for a PBX event matching headers (a value ending in '*' matches as a prefix),
        searching from the scenario's start unless `since` is given; return (index, event)."""
        return await self.pbx.wait_event(
            match(**headers),
            since=self.pbx_mark if since is None else since,
            wait_timeout=wait_timeout,
            what=" ".join(f"{k}={v}" for k, v in headers.items()),
        )

    async def wait_idle(self, idle_timeout: float = 30.0, quiet: float = 0.5) -> None:
        """Wait until neither instance has a channel, then until the PBX stops sending events."""
        deadline = time.monotonic() + idle_timeout
        while (await self.pbx_channels()) or (await self.world_channels()):
            if time.monotonic() > deadline:
                names = [header(c, "Channel") for c in await self.pbx_channels()]
                raise HarnessError(f"PBX not idle after {idle_timeout} s: {names}")
            await asyncio.sleep(0.2)
        # Cdr and the last bridge events trail the channels' end; wait for a short silence.
        seen = len(self.pbx.events)
        while True:
            await asyncio.sleep(quiet)
            if len(self.pbx.events) == seen:
                return
            seen = len(self.pbx.events)
            if time.monotonic() > deadline:
                raise HarnessError("PBX events never went quiet")


async def calls_since(h: Harness, mark: int) -> list[Call]:
    """The calls the tracker makes of the PBX's events from `mark` (after the PBX is idle)."""
    await h.wait_pbx(Event="Newchannel", since=mark)
    await h.wait_idle()
    tracker = CallTracker(rules_from_numbering(NUMBERING))
    calls: list[Call] = []
    for raw in h.pbx.events[mark:]:
        event = as_event(raw)
        if event is not None:
            calls.extend(item for item in tracker.feed(event) if isinstance(item, Call))
    return calls
