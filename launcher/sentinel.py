"""Redis under Sentinel: finding the primary, and the config files of a managed primary, replicas and sentinels.

Discovery follows Redis's client guidelines for Sentinel: ask each sentinel in turn
`SENTINEL get-master-addr-by-name NAME`; the first that answers moves to the front of the list; then
check the answer with ROLE on that server (a sentinel may name a primary that has since been demoted:
only a server that says `master` is used). Both Redis clients use `discover_primary`: the gate's and
issuer's own RESP client (launcher.resp) and redis-py through launcher.redis_conn. Each runs it again
whenever its connection breaks or a write is refused with READONLY, so no actor needs a restart
after a failover.

Both also keep a thread that asks the sentinels every 0.1 s (SentinelWatch here for the RESP client; the pool's
checker in launcher.redis_conn) and move when they name another primary: a planned failover leaves the old
primary a master for 8 s or more, taking writes that its demotion loses.

Every socket here has the topology's timeout: with no primary known the call fails with
`NoPrimary` (a RedisUnavailable for the gate) at once, and the gate fails closed.
"""

from __future__ import annotations

import ipaddress
import os
import socket
import threading
import weakref
from dataclasses import dataclass
from typing import Any, Callable, Sequence

import hiredis

from launcher.stop_signals import signals_left_to_the_main_thread

DEFAULT_MASTER = "clustergate"
# A managed topology on one host: the sentinels listen at redis.port + this offset (+0, +1, +2).
SENTINEL_PORT_OFFSET = 20000


class NoPrimary(Exception):
    """No sentinel named a primary that answers ROLE with `master` within the timeouts."""


class PasswordRefused(NoPrimary):
    """NoPrimary because the password was refused (NOAUTH, WRONGPASS), by the primary a sentinel named (`by_sentinel`
    False) or by the sentinels: no retry fixes it, where a primary not found or not answering (a failover in progress)
    is retried. `words`: Redis's refusal (its AUTH's when it was sent and refused); `where`: who said it;
    `sentinels`: the sentinels that refused it (HOST:PORT), none when they did not."""

    def __init__(self, message: str, *, words: str, where: str, by_sentinel: bool, sentinels: tuple[str, ...] = ()):
        super().__init__(message)
        self.words, self.where, self.by_sentinel, self.sentinels = words, where, by_sentinel, sentinels


class _Refused(Exception):
    pass


def _password_refusal(replies: list[Any]) -> str | None:
    """Redis's refusal of the password in the replies of `_auth(...) + [command]` (the command answered NOAUTH: not
    signed in), its AUTH's words when that was refused; None when the command was not refused for the password."""
    answer = replies[-1]
    if not (isinstance(answer, _Refused) and str(answer).startswith("NOAUTH")):
        return None
    auth = replies[0] if len(replies) > 1 else None
    return str(auth if isinstance(auth, _Refused) else answer).split(", with args beginning with:", 1)[0]


@dataclass(frozen=True)
class Place:
    """One Redis server or sentinel of a topology: WHERE (an address, or a host name of hosts:) and a port."""
    where: str
    port: int

    def __str__(self) -> str:
        return f"[{self.where}]:{self.port}" if ":" in self.where else f"{self.where}:{self.port}"


def place_text(address: tuple[Any, Any]) -> str:
    """HOST:PORT of an (address, port) as Place writes it, an IPv6 address bracketed: [::1]:26379 (status said
    ::1:26379, which left whoever copies it to guess which colon ends the address)."""
    return str(Place(str(address[0]), address[1]))


def canonical_address(address: tuple[Any, Any]) -> tuple[str, int]:
    """(address, port) with an IP address in Python's one spelling of it (0:0:0:0:0:0:0:1 and ::1 are ::1, ::ABCD is
    ::abcd), an IPv4-mapped one as its IPv4 address ([::ffff:127.0.0.1]:P is 127.0.0.1:P: a connection to it reaches
    the IPv4 listener, and Redis cannot bind it), a host name as written: to compare an address the topology spells
    with one Sentinel, ROLE or INFO answers. Compare two canonical forms, never one with a Redis answer's text."""
    try:
        ip = ipaddress.ip_address(str(address[0]))
    except ValueError:
        return str(address[0]), int(address[1])
    mapped = ip.ipv4_mapped if isinstance(ip, ipaddress.IPv6Address) else None
    return str(mapped or ip), int(address[1])


def same_address(a: tuple[Any, Any], b: tuple[Any, Any]) -> bool:
    """Whether two (address, port) are one place: an IP address in any of its spellings (0:0:0:0:0:0:0:1 is ::1, as
    Sentinel writes it), a host name as written."""
    return canonical_address(a) == canonical_address(b)


def parse_place(text: Any) -> Place:
    """'HOST:PORT' or '[V6]:PORT' -> Place; ValueError with a message that names what is wrong."""
    if not isinstance(text, str):
        raise ValueError(f"{text!r} is not a string HOST:PORT")
    if text.startswith("["):
        host, sep, rest = text[1:].partition("]")
        if not sep or not rest.startswith(":"):
            raise ValueError(f"{text!r}: write an IPv6 address as [ADDRESS]:PORT")
        port_text = rest[1:]
    else:
        host, sep, port_text = text.rpartition(":")
        if not sep:
            raise ValueError(f"{text!r} has no port: write HOST:PORT")
        if ":" in host:
            raise ValueError(f"{text!r}: write an IPv6 address as [ADDRESS]:PORT")
    if not host:
        raise ValueError(f"{text!r} has no host: write HOST:PORT")
    if any(c.isspace() or not c.isprintable() for c in host):
        raise ValueError(f"{text!r}: the host has a space or a control character")
    if "%" in host:  # fe80::1%lo: Sentinel writes the address without its zone, then cannot reach it (session 42)
        raise ValueError(f"{text!r}: an IPv6 zone id ({host[host.index('%'):]}) cannot be used: Redis Sentinel drops it "
                         "from every address it writes and answers, so it would take that server for down; give an "
                         "address without one")
    if not port_text.isdigit() or not 1 <= int(port_text) <= 65535:
        raise ValueError(f"{text!r}: the port must be a number from 1 to 65535")
    return Place(host, int(port_text))


def is_loopback(where: str) -> bool:
    if where == "localhost":
        return True
    try:
        return ipaddress.ip_address(where).is_loopback
    except ValueError:
        return False


# --------------------------------------------------------------------------- discovery


def _send_and_read(sock: socket.socket, reader: Any, payload: bytes, count: int) -> list[Any]:
    """Send `payload` (`count` RESP commands) and read their `count` replies with `reader`."""
    sock.sendall(payload)
    replies: list[Any] = []
    while len(replies) < count:
        reply = reader.gets()
        if reply is False:
            data = sock.recv(65536)
            if not data:
                raise ConnectionError("connection closed")
            reader.feed(data)
            continue
        replies.append(reply)
    return replies


def _exchange(address: tuple[str, int], commands: Sequence[Sequence[Any]], timeout_s: float) -> list[Any]:
    """Open a connection, send the commands pipelined, return their replies (error replies as _Refused
    instances), close. OSError on a connection problem or timeout, or when what answers is not RESP."""
    payload = b"".join(hiredis.pack_command(tuple(c)) for c in commands)
    reader = hiredis.Reader(replyError=_Refused, encoding="utf-8", errors="replace")
    try:
        with socket.create_connection(address, timeout=timeout_s) as sock:
            return _send_and_read(sock, reader, payload, len(commands))
    except hiredis.ProtocolError as exc:  # something else listens there (an HTTP server, a proxy): not Redis
        raise ConnectionError(f"not a Redis reply ({exc})") from None


def _auth(username: str | None, password: str | None) -> list[tuple[Any, ...]]:
    if not password:
        return []
    return [("AUTH", username, password) if username else ("AUTH", password)]


def named_address(answer: Any) -> tuple[str, int] | None:
    """A sentinel's answer to get-master-addr-by-name as (address, port), or None when it is not one (whatever
    else listens on a sentinel's address is a sentinel that did not answer)."""
    if not isinstance(answer, (list, tuple)):
        return None
    try:
        host, port = answer
        return str(host), int(port)
    except (TypeError, ValueError):
        return None


def majority_word(order: list[tuple[str, int]],
                  ask: Callable[[tuple[str, int]], tuple[str, int] | None]) -> tuple[str, int] | None:
    """The primary the sentinels of `order` name, asked in turn with `ask` (an address, or None for no answer): the
    first one named by a majority of them (len(order) // 2 + 1), else the first answer (None: none answered).

    A sentinel cut off with the old primary (its host cut from the others', not from the clients') names it for as
    long as the cut lasts, while the majority has promoted a replica: taking the first answer kept every client
    that asked it first on the old primary (the gates' decisions all HOLD `replica_unacknowledged` there). `order`
    is reordered in place: the sentinels that named the word first, then the others that answered or were not
    asked, then those that did not answer, so the next check reaches a majority with the fewest questions."""
    sentinels = list(dict.fromkeys(order))
    need = len(sentinels) // 2 + 1
    asked: dict[tuple[str, int], tuple[str, int] | None] = {}
    word = None
    for address in sentinels:
        named = asked[address] = ask(address)
        if named is None:
            continue
        if word is None:
            word = named  # the first answer: kept unless a majority names another
        if sum(1 for other in asked.values() if other == named) >= need:
            word = named
            break
    if word is not None:
        rank = {address: 0 if named == word else 1 if named is not None else 2 for address, named in asked.items()}
        with _REORDER:  # (discovery's to_front may move one in another thread: neither loses nor doubles one)
            order[:] = sorted(dict.fromkeys(order), key=lambda address: rank.get(address, 1))  # (stable)
    return word


def to_front(order: list[tuple[str, int]], sentinel: tuple[str, int]) -> None:
    """Move `sentinel` to the front of `order`, the list that discovery and a watch share: the one that answered
    is asked first next time."""
    with _REORDER:
        try:  # (another thread may have moved it meanwhile)
            order.insert(0, order.pop(order.index(sentinel)))
        except ValueError:
            pass


# Held while a list of sentinels shared by discovery and a watch is reordered (for microseconds); made anew in a forked
# child, where a watch thread that held it at the fork would never release it.
_REORDER = threading.Lock()


def _new_reorder_lock() -> None:
    global _REORDER
    _REORDER = threading.Lock()


os.register_at_fork(after_in_child=_new_reorder_lock)


def discover_primary(sentinels: list[tuple[str, int]], master: str, *, timeout_s: float,
                     password: str | None = None, username: str | None = None) -> tuple[str, int]:
    """The primary's (address, port), asked of each sentinel in turn and checked with ROLE.

    `sentinels` is reordered in place: the one that answered goes first, so the next discovery asks it
    first. The sentinels take the same password as the data servers (their `requirepass`). A server
    named by several sentinels is tried once (a dead host costs one connect timeout, not one per
    sentinel). Raises NoPrimary, with what each sentinel said, when none named a primary that says it is one:
    PasswordRefused when a named primary (else a sentinel) refused the password."""
    said: list[str] = []
    refused: set[tuple[str, int]] = set()
    password_refused: PasswordRefused | None = None  # the first refusal met, a primary's before a sentinel's
    failing_over = False  # a sentinel named a server that is down or not a primary: a failover in progress
    refusing: list[str] = []  # the sentinels that refused the password
    for i, sentinel in enumerate(list(sentinels)):
        try:
            replies = _exchange(sentinel, _auth(None, password) + [("SENTINEL", "get-master-addr-by-name", master)],
                                timeout_s)
        except OSError as exc:
            said.append(f"{place_text(sentinel)}: {type(exc).__name__}")
            continue
        answer = replies[-1]
        words = _password_refusal(replies)
        if words is not None:
            refusing.append(place_text(sentinel))
        if words is not None and password_refused is None:
            password_refused = PasswordRefused("", words=words, where=f"the sentinel {place_text(sentinel)}",
                                               by_sentinel=True)
        if isinstance(answer, _Refused) or not answer:
            said.append(f"{place_text(sentinel)}: {answer or 'no such master'}")
            continue
        primary = named_address(answer)
        if primary is None:
            said.append(f"{place_text(sentinel)} answered {str(answer)[:80]!r}, not an address")
            continue
        if primary in refused:  # several sentinels name the same dead server: try it once, not once each
            said.append(f"{place_text(sentinel)} named {place_text(primary)} too")
            continue
        refused.add(primary)
        try:
            replies = _exchange(primary, _auth(username, password) + [("ROLE",)], timeout_s)
        except OSError as exc:
            said.append(f"{place_text(sentinel)} named {place_text(primary)}, which did not answer "
                        f"({type(exc).__name__})")
            failing_over = True
            continue
        role, words = replies[-1], _password_refusal(replies)
        if words is not None and (password_refused is None or password_refused.by_sentinel):
            password_refused = PasswordRefused("", words=words, by_sentinel=False, where=(
                f"{place_text(primary)}, the primary the sentinel {place_text(sentinel)} names"))
        if isinstance(role, _Refused) or not role or role[0] != "master":
            failing_over = failing_over or words is None
            said.append(f"{place_text(sentinel)} named {place_text(primary)}, whose ROLE is "
                        f"{role[0] if isinstance(role, list) and role else role}")
            continue
        if i:
            to_front(sentinels, sentinel)
        return primary
    message = f"no primary for {master!r}: " + "; ".join(said)
    # A refusal is said as the refusal it is (no retry finds a primary) only when no sentinel named a server that is
    # down or not a primary: with a failover in progress (the primary killed, the sentinels not yet agreed), one
    # sentinel's requirepass (not the others') or a refusing server one stale sentinel names is not why none was found,
    # and the failover's end finds one (revopsauth: opsauth said `the sentinels refuse this command`, a proof failed
    # at once, while the other sentinels named the killed primary).
    if password_refused is not None and not failing_over:
        raise PasswordRefused(message, words=password_refused.words, where=password_refused.where,
                              by_sentinel=password_refused.by_sentinel, sentinels=tuple(refusing))
    raise NoPrimary(message)


# How often a SentinelWatch asks the sentinels which server is the primary, and, while none answers, how often.
WATCH_EVERY_S = 0.1
WATCH_NONE_ANSWERING_S = 1.0


class SentinelWatch:
    """The sentinels' word on the primary, kept current by a thread of its own: every WATCH_EVERY_S it asks the
    sentinels of `sentinels` in turn (the list discovery reorders; the one that answers goes first, so a hung
    sentinel is asked only when the one before it fails) over connections it keeps open, each waited for at most
    timeout_s. `named` is the last answer, unchecked (None until one comes); `primary` the last named server that
    answered ROLE master (a check that fails is made again at the next answer). The thread ends once the watch is
    dropped or closed; a forked child's watch starts again on connections of its own. For the gate's and issuer's
    own RESP client, which must not wait for a sentinel on a call's path: a failover that leaves the old primary a
    master for 8 s or more (a planned one: Sentinel demotes it only after re-reading its INFO) is seen within
    WATCH_EVERY_S, not at the old primary's demotion."""

    def __init__(self, sentinels: list[tuple[str, int]], master: str, *, timeout_s: float,
                 password: str | None = None, username: str | None = None):
        self.sentinels, self.master, self.timeout_s, self.password = sentinels, master, timeout_s, password
        self.username = username
        self.checks = 0
        self._start()
        _WATCHES.add(self)

    def _start(self) -> None:
        self.named: tuple[str, int] | None = None
        self.primary: tuple[str, int] | None = None
        self._conns: dict[tuple[str, int], tuple[socket.socket, Any]] = {}
        self._closed = threading.Event()
        self._thread = threading.Thread(target=_watch_forever, args=(weakref.ref(self), self._closed),
                                        name="sentinel-watch", daemon=True)
        with signals_left_to_the_main_thread():  # a gate's or issuer's: its main thread takes their signals
            self._thread.start()

    def _restart_in_child(self) -> None:
        if self._closed.is_set():
            return
        for sock, _reader in self._conns.values():
            sock.close()  # (the child's copies only: the parent's connections stay open)
        self._start()

    def _ask(self, address: tuple[str, int]) -> Any:
        conn = self._conns.get(address)
        try:
            if conn is None:
                sock = socket.create_connection(address, timeout=self.timeout_s)
                conn = (sock, hiredis.Reader(replyError=_Refused, encoding="utf-8", errors="replace"))
                self._conns[address] = conn
                if self.password:
                    self._roundtrip(conn, ("AUTH", self.password))
            return self._roundtrip(conn, ("SENTINEL", "get-master-addr-by-name", self.master))
        except (OSError, hiredis.ProtocolError):
            self._drop(address)
            raise OSError("no answer") from None

    @staticmethod
    def _roundtrip(conn: tuple[socket.socket, Any], command: tuple[Any, ...]) -> Any:
        sock, reader = conn
        return _send_and_read(sock, reader, hiredis.pack_command(command), 1)[0]

    def _drop(self, address: tuple[str, int]) -> None:
        conn = self._conns.pop(address, None)
        if conn is not None:
            conn[0].close()

    def check(self) -> tuple[str, int] | None:
        """Ask the sentinels in turn: the address a majority of them names, else the first answer (None: none
        answered); majority_word reorders them for the next check."""
        def ask(address: tuple[str, int]) -> tuple[str, int] | None:
            try:
                answer = self._ask(address)
            except OSError:
                return None
            return None if isinstance(answer, _Refused) else named_address(answer)
        return majority_word(self.sentinels, ask)

    def confirm(self, named: tuple[str, int]) -> None:
        """`primary` becomes `named` when it answers ROLE master within timeout_s."""
        try:
            role = _exchange(named, _auth(self.username, self.password) + [("ROLE",)], self.timeout_s)[-1]
        except OSError:
            return
        if isinstance(role, list) and role and role[0] == "master":
            self.primary = named

    def close(self) -> None:
        self._closed.set()
        for address in list(self._conns):
            self._drop(address)


def _watch_forever(watch_ref: "weakref.ref[SentinelWatch]", closed: threading.Event) -> None:
    while not closed.is_set():
        watch = watch_ref()
        if watch is None:
            return
        try:
            named = watch.check()
            if named is not None and named != watch.primary:
                watch.confirm(named)
        except Exception:  # noqa: BLE001 (the watch must not die: its client would stop following failovers)
            named = None
        watch.checks += 1
        if named is not None:
            watch.named = named
        del watch
        closed.wait(WATCH_EVERY_S if named is not None else WATCH_NONE_ANSWERING_S)
    watch = watch_ref()
    if watch is not None:  # closed: its connections go with it
        for address in list(watch._conns):
            watch._drop(address)


_WATCHES: "weakref.WeakSet[SentinelWatch]" = weakref.WeakSet()


def _restart_watches_in_child() -> None:
    for watch in list(_WATCHES):
        watch._restart_in_child()


os.register_at_fork(after_in_child=_restart_watches_in_child)


def sentinel_answer(sentinels: list[tuple[str, int]], master: str, *, timeout_s: float,
                    password: str | None = None) -> tuple[tuple[str, int], bool] | None:
    """What the sentinels say of the primary (unchecked): (its address, whether the sentinel that said
    it has ever heard from it, i.e. had its INFO), or None when no sentinel answers. Every sentinel is
    asked and the answer with the highest config-epoch wins: a sentinel that restarted with its host
    still names the primary of before the failover it missed (epoch lower), until the others tell it."""
    best: tuple[int, tuple[str, int], bool] | None = None
    for sentinel in sentinels:
        try:
            answer = _exchange(sentinel, _auth(None, password) + [("SENTINEL", "master", master)], timeout_s)[-1]
        except OSError:
            continue
        if not answer or isinstance(answer, _Refused):
            continue
        fields = dict(zip(answer[::2], answer[1::2]))
        try:
            said = (int(fields.get("config-epoch") or 0), (str(fields["ip"]), int(fields["port"])),
                    int(fields.get("info-refresh") or 0) > 0)
        except (KeyError, ValueError):
            continue
        if best is None or said[0] > best[0] or (said[0] == best[0] and said[2] and not best[2]):
            best = said
    return (best[1], best[2]) if best else None


def primary_in_files(paths: Sequence[str], master: str) -> tuple[str, int] | None:
    """The primary the sentinel config files at `paths` name for `master` (Sentinel rewrites its
    `sentinel monitor` and `sentinel config-epoch` lines at each failover): the one with the highest
    epoch, or None when no file names one."""
    best: tuple[int, tuple[str, int]] | None = None
    for path in paths:
        try:
            lines = [line.split() for line in open(path, encoding="utf-8", errors="replace")]
        except OSError:
            continue
        primary, epoch = None, 0
        for parts in lines:
            if parts[:3] == ["sentinel", "monitor", master] and len(parts) >= 5 and parts[4].isdigit():
                primary = (parts[3], int(parts[4]))
            elif parts[:3] == ["sentinel", "config-epoch", master] and len(parts) >= 4 and parts[3].isdigit():
                epoch = int(parts[3])
        if primary is not None and (best is None or epoch > best[0]):
            best = (epoch, primary)
    return best[1] if best else None


def answers_ping(address: tuple[str, int], timeout_s: float, password: str | None = None) -> bool:
    """The server at `address` answers PING (PONG, or LOADING/MASTERDOWN: it is up), any role."""
    try:
        reply = _exchange(address, _auth(None, password) + [("PING",)], timeout_s)[-1]
    except OSError:
        return False
    return reply == "PONG" or (isinstance(reply, _Refused) and str(reply).split(" ")[0] in ("LOADING", "MASTERDOWN"))


def failover_readiness(sentinels: list[tuple[str, int]], master: str, *, timeout_s: float,
                       password: str | None = None) -> tuple[bool | None, str]:
    """Can the sentinels still fail over? `SENTINEL CKQUORUM` asked of each until one answers: (True,
    its OK) when enough sentinels are up to agree and to authorise a failover, (False, its NOQUORUM
    answer) when not, (None, ...) when no sentinel answers. Discovery may still work with one sentinel
    left, so status must say separately that a primary crash would now hold every exit."""
    said: list[str] = []
    noquorum: list[str] = []
    for sentinel in sentinels:
        where = place_text(sentinel)
        try:
            answer = _exchange(sentinel, _auth(None, password) + [("SENTINEL", "ckquorum", master)], timeout_s)[-1]
        except OSError as exc:
            said.append(f"{where}: {type(exc).__name__}")
            continue
        if isinstance(answer, _Refused):
            text = str(answer)
            if text.startswith("NOQUORUM"):
                # One sentinel cut off from the others says so, while they can still agree: ask them too.
                noquorum.append(f"{where}: {text}")
                continue
            said.append(f"{where}: {text}")
            continue
        ok, text = _tilt_readiness(sentinels, master, sentinel, str(answer), timeout_s, password)
        return ok, "; ".join([text, *noquorum])
    if noquorum:
        return False, "; ".join(noquorum)
    return None, "no sentinel answers (" + "; ".join(said) + ")"


# A replica Sentinel does not promote (sentinelSelectSlave): seen down or disconnected, or replica-priority 0.
_UNPROMOTABLE_FLAGS = ("s_down", "o_down", "disconnected")
# A replica Sentinel itself says is down: silent past down-after (s_down). `disconnected` alone is its link to it,
# down for the ~0.1 s after it learns of a replica and for up to its 1 s reconnect period after one restarts.
_DOWN_FLAGS = ("s_down", "o_down")


@dataclass(frozen=True)
class NoReplica:
    """No replica to promote: why (each known replica's flags), and the replicas kept out only by replica-priority
    0, which are up and still acknowledge a permit issuer's WAIT (which are down: replicas_seen_down)."""
    why: str
    priority_0_up: list[str]


def no_replica_to_promote(sentinels: list[tuple[str, int]], master: str, *, timeout_s: float,
                          password: str | None = None) -> NoReplica | None:
    """Why no sentinel that answers could promote a replica of `master` (SENTINEL REPLICAS: each one down,
    disconnected or at replica-priority 0, or none known), or None when one could, or no sentinel answers (said
    elsewhere). CKQUORUM counts sentinels only: with the only replica down it said OK, while a primary crash would
    then hold every exit until the primary restarts."""
    answered = 0
    why: dict[str, list[str]] = {}  # replica -> why not, as any answering sentinel sees it
    for sentinel in sentinels:
        try:
            master_info, answer = _exchange(sentinel, _auth(None, password) + [("SENTINEL", "master", master),
                                                                                ("SENTINEL", "replicas", master)],
                                            timeout_s)[-2:]
        except OSError:
            continue
        if not isinstance(answer, list):
            continue
        counted = (dict(zip(master_info[::2], master_info[1::2])).get("num-slaves") if isinstance(master_info, list)
                   else None)
        if str(counted).isdigit() and int(counted) > len(answer):
            return None  # replicas set replica-announced no, left out of REPLICAS, which Sentinel still promotes
        answered += 1
        for entry in answer:
            fields = _replica_fields(entry)
            flags = str(fields.get("flags", "")).split(",")
            priority = str(fields.get("slave-priority", fields.get("replica-priority", ""))).strip()
            bad = [flag for flag in _UNPROMOTABLE_FLAGS if flag in flags] + (["replica-priority 0"] if priority == "0"
                                                                             else [])
            if not bad:
                return None
            known = why.setdefault(_replica_place(fields), [])
            known += [b for b in bad if b not in known]
    if not answered:
        return None
    replicas = "; ".join(f"{replica}: {','.join(bad)}" for replica, bad in why.items()) or "none known"
    return NoReplica(f"no replica to promote ({replicas}; said by {answered} sentinel{'s' if answered > 1 else ''})",
                     [replica for replica, bad in why.items() if bad == ["replica-priority 0"]])


@dataclass(frozen=True)
class ReplicasSeenDown:
    """The replicas of a master as the answering sentinels see them: `down`, flagged s_down or o_down by a majority of
    them (`disconnected` alone is a link not up yet, not a replica down); `minority`, each replica flagged by fewer,
    with those sentinels (their own link to it cut: it is not down, but a failover one of them leads does not promote
    it); `promotable`, the replicas not down and not at replica-priority 0; `unlisted`, for each minority replica, the
    answering sentinels that do not list it at all (SENTINEL RESET since, or not told of it yet), not seeing it up."""
    down: list[str]
    promotable: list[str]
    answered: int
    minority: dict[str, list[str]]
    unlisted: dict[str, list[str]]


def _replica_fields(entry: Any) -> dict[str, Any]:
    """One entry of a SENTINEL REPLICAS reply as a dict: RESP2's flat [name, value, ...] list, or redis-py's dict."""
    if isinstance(entry, dict):
        return entry
    return dict(zip(entry[::2], entry[1::2])) if isinstance(entry, list) else {}


def _replica_place(fields: dict[str, Any]) -> str:
    """HOST:PORT of one SENTINEL REPLICAS entry (_replica_fields), bracketed for IPv6 (place_text)."""
    return place_text((fields.get("ip"), fields.get("port")))


def judge_replicas_down(views: dict[str, Any]) -> ReplicasSeenDown:
    """Which replicas are down, from each answering sentinel's SENTINEL REPLICAS reply (`views`, by the sentinel's
    address; a reply that is not a list is no answer): down when a majority of the answering sentinels flag it. A
    failover is led by a sentinel a majority elected and promotes by its own view, so one sentinel cut off from a replica
    that the others see up is that sentinel's fault, not the replica's (the union of their flags said it down)."""
    replies = {sentinel: reply for sentinel, reply in views.items() if isinstance(reply, list)}
    flagged: dict[str, list[str]] = {}  # replica -> the sentinels that see it down
    listed: dict[str, set[str]] = {}  # replica -> the sentinels that list it
    priority_0: set[str] = set()
    for sentinel, reply in replies.items():
        for entry in reply:
            fields = _replica_fields(entry)
            replica = _replica_place(fields)
            listed.setdefault(replica, set()).add(sentinel)
            by = flagged.setdefault(replica, [])
            if any(flag in str(fields.get("flags", "")).split(",") for flag in _DOWN_FLAGS):
                by.append(sentinel)
            if str(fields.get("slave-priority", fields.get("replica-priority", ""))).strip() == "0":
                priority_0.add(replica)
    down = [replica for replica, by in flagged.items() if 2 * len(by) > len(replies)]
    minority = {replica: by for replica, by in flagged.items() if by and replica not in down}
    return ReplicasSeenDown(down, [replica for replica in flagged if replica not in down and replica not in priority_0],
                            len(replies), minority,
                            {replica: unlisted for replica in minority
                             if (unlisted := sorted(set(replies) - listed[replica]))})


def replicas_seen_down(sentinels: list[tuple[str, int]], master: str, *, timeout_s: float,
                       password: str | None = None) -> ReplicasSeenDown:
    """judge_replicas_down of the SENTINEL REPLICAS replies of the sentinels that answer."""
    views: dict[str, Any] = {}
    for sentinel in sentinels:
        try:
            views[place_text(sentinel)] = _exchange(
                sentinel, _auth(None, password) + [("SENTINEL", "replicas", master)], timeout_s)[-1]
        except OSError:
            continue
    return judge_replicas_down(views)


def never_promoted(servers: list[tuple[str, int]], *, timeout_s: float, password: str | None = None,
                   username: str | None = None) -> list[str]:
    """The data servers that answer CONFIG GET replica-priority with 0: Sentinel never promotes them (a managed server
    is at 100 unless `ha_load failover --to` set it to 0 and its host was lost before it could set it back)."""
    found = []
    for server in servers:
        try:
            reply = _exchange(server, _auth(username, password) + [("CONFIG", "GET", "replica-priority")],
                              timeout_s)[-1]
        except OSError:
            continue
        if isinstance(reply, list) and len(reply) == 2 and str(reply[1]).strip() == "0":
            found.append(place_text(server))
    return found


def servers_answering_master(servers: list[tuple[str, int]], *, timeout_s: float, password: str | None = None,
                             username: str | None = None) -> list[tuple[str, int]]:
    """The data servers that answer ROLE master. More than one: a primary whose host rejoins after a failover stays a
    master, taking the writes of any client sent to it, until Sentinel demotes it (10-12 s measured), while every
    sentinel already names the new one (revha3)."""
    found = []
    for server in servers:
        try:
            role = _exchange(server, _auth(username, password) + [("ROLE",)], timeout_s)[-1]
        except OSError:
            continue
        if isinstance(role, list) and role and role[0] == "master":
            found.append(server)
    return found


def sentinels_disagree(sentinels: list[tuple[str, int]], master: str, *, timeout_s: float,
                       password: str | None = None) -> str | None:
    """None when every answering sentinel names the same primary, else who names which, the majority's first: a
    primary cut off with a minority of the sentinels (its host cut from the others') is still a master and still
    named by them, beside the one the majority promoted; or the seconds of a failover while the word spreads."""
    named: dict[tuple[str, int], list[str]] = {}
    for sentinel in sentinels:
        try:
            answer = _exchange(sentinel, _auth(None, password) + [("SENTINEL", "get-master-addr-by-name", master)],
                               timeout_s)[-1]
        except OSError:
            continue
        primary = None if isinstance(answer, _Refused) else named_address(answer)
        if primary is not None:
            named.setdefault(primary, []).append(place_text(sentinel))
    if len(named) < 2:
        return None
    return "; ".join(f"{place_text(primary)} (named by {len(by)} of {len(sentinels)}: {', '.join(by)})"
                     for primary, by in sorted(named.items(), key=lambda item: -len(item[1])))


# A sentinel in TILT mode (its wall clock stepped back, or jumped over 2 s ahead: an NTP step, the sentinel or its host
# stalled) reports no primary down and starts no failover for 30 s after the last jump; CKQUORUM counts it usable.
TILT_PERIOD_S = 30


def _tilt_readiness(sentinels: list[tuple[str, int]], master: str, asked: tuple[str, int], answer: str,
                    timeout_s: float, password: str | None) -> tuple[bool, str]:
    """failover_readiness after sentinel `asked` answered CKQUORUM OK (`answer`, "OK N usable Sentinels ..."): False when the
    usable sentinels not in TILT mode (INFO sentinel's sentinel_tilt) are fewer than the quorum, the number that must
    see the primary down before one fails it over (a sentinel in TILT still votes for the one that does)."""
    where = place_text(asked)
    try:
        usable = int(answer.split()[1])
        reply = _exchange(asked, _auth(None, password) + [("SENTINEL", "master", master)],
                          timeout_s)[-1]
        quorum = int(dict(zip(reply[::2], reply[1::2]))["quorum"])
    except (OSError, IndexError, ValueError, KeyError, TypeError):
        return True, f"{where}: {answer}"  # (TILT not checked: what CKQUORUM said stands)
    tilted = []
    for sentinel in sentinels:
        try:
            info = _exchange(sentinel, _auth(None, password) + [("INFO", "sentinel")], timeout_s)[-1]
        except OSError:
            continue
        fields = dict(line.split(":", 1) for line in str(info).splitlines() if ":" in line)
        if fields.get("sentinel_tilt", "0").strip() == "1":
            since = fields.get("sentinel_tilt_since_seconds", "?").strip()
            tilted.append(f"{place_text(sentinel)} (for {since} s)")
    if tilted and usable - len(tilted) < quorum:
        return False, (f"{where}: {answer}; but {len(tilted)} of them in TILT mode: {', '.join(tilted)}, so fewer "
                       f"than the quorum ({quorum}) can see the primary down: no failover until TILT ends "
                       f"({TILT_PERIOD_S} s after a sentinel's clock last stepped back or jumped ahead)")
    return True, f"{where}: {answer}" + (f" ({len(tilted)} in TILT mode: {', '.join(tilted)})" if tilted else "")


def is_readonly(error: Any) -> bool:
    """A write refused because the server is now a replica (a failover happened): ask Sentinel again."""
    text = str(error)
    return text.startswith("READONLY") or "READONLY You can't write" in text


# --------------------------------------------------------------------------- managed config files


def render_server_conf(*, port: int, bind: str, directory: str, maxmemory_mb: int, password: str | None,
                       quote: Any) -> str:
    """A managed data server's config. The same for the primary and the replicas: which one replicates
    which is decided at start by launcher.redis_node (from Sentinel, else the topology's first server),
    and after that by Sentinel alone (it sends REPLICAOF and rewrites this file)."""
    lines = [f"port {port}", f"bind {bind}", "protected-mode yes", f"dir {quote(directory)}",
             "appendonly yes", "appendfsync everysec", 'save ""', "daemonize no", 'logfile ""',
             f"maxmemory {maxmemory_mb}mb", "maxmemory-policy noeviction",
             # A replica promoted by Sentinel keeps the data; a replica never takes writes.
             "replica-read-only yes", "replica-serve-stale-data yes",
             # A replica rejoining after a failover is synced at once: Redis 7 otherwise waits 5 s for
             # more replicas before a diskless transfer, 5 s during which WAIT finds no replica.
             "repl-diskless-sync-delay 0"]
    if password:
        lines += [f"requirepass {quote(password)}", f"masterauth {quote(password)}"]
    return "\n".join(lines) + "\n"


def render_sentinel_conf(*, port: int, bind: str, directory: str, master: str, primary: tuple[str, int],
                         quorum: int, down_after_ms: int, failover_timeout_ms: int, parallel_syncs: int,
                         password: str | None, quote: Any, announce: str | None = None) -> str:
    """A sentinel's config file. Sentinel rewrites it (its state: the current primary, the epochs, the
    other sentinels and replicas it found), so it lives under run/ and the launcher writes it only when
    it is missing or the topology's sentinel settings changed."""
    lines = [f"port {port}", f"bind {bind}", "protected-mode no", "daemonize no", 'logfile ""',
             f"dir {quote(directory)}",
             f"sentinel monitor {master} {primary[0]} {primary[1]} {quorum}",
             f"sentinel down-after-milliseconds {master} {down_after_ms}",
             f"sentinel failover-timeout {master} {failover_timeout_ms}",
             f"sentinel parallel-syncs {master} {parallel_syncs}",
             "sentinel resolve-hostnames no"]
    if announce:
        lines.append(f"sentinel announce-ip {announce}")
    if password:
        # The data servers' password, and the sentinels' own (they use it between themselves too).
        lines += [f"sentinel auth-pass {master} {quote(password)}", f"requirepass {quote(password)}"]
    return "\n".join(lines) + "\n"
