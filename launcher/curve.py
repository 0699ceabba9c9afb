"""CurveZMQ certificates: reading them, checking them, and the keys each socket uses.

Certificates are pyzmq's (`zmq.auth.create_certificates`): NAME.key holds a public key, NAME.key_secret
the public and the secret key. A secret key lives only in a file its owner alone can read; it is
never put in YAML, never logged, never printed.
"""

from __future__ import annotations

import errno
import os
import stat
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from launcher.topology import Topology

PUBLIC_SUFFIX = ".key"
SECRET_SUFFIX = ".key_secret"


class KeyFileError(ValueError):
    """A certificate that is missing, unreadable, malformed or too widely readable; names the file."""


@dataclass(frozen=True)
class Keypair:
    public: bytes  # Z85, 40 bytes
    secret: bytes = field(repr=False)


@dataclass(frozen=True)
class SocketKeys:
    """What one socket needs: its own keypair, and the server's public key (connect) or the
    allowed client public keys (bind)."""

    keypair: Keypair
    server_key: bytes | None = None
    allowed: frozenset[bytes] = frozenset()


def certificate_path(ref: str, *, keys_dir: Path | None, base: Path, secret: bool) -> Path:
    """A certificate name in keys_dir ('desk' -> keys_dir/desk.key[_secret]), or a path to a file."""
    if ref.endswith((PUBLIC_SUFFIX, SECRET_SUFFIX)) or "/" in ref or keys_dir is None:
        p = Path(ref).expanduser()
        return p if p.is_absolute() else (base / p)
    return keys_dir / (ref + (SECRET_SUFFIX if secret else PUBLIC_SUFFIX))


def unreachable(path: Path) -> str | None:
    """Why stat() cannot look at a key path, when for another reason than its not being there: a directory on the way
    this user cannot search (EACCES, never as root), a name too long, a symlink loop (keysdir re-review: Path.exists
    and is_dir raised the first two out of validate, and a loop was said not to exist); None otherwise."""
    try:
        path.stat()
    except (FileNotFoundError, NotADirectoryError):
        return None
    except OSError as exc:
        hint = (f" (a directory on the way is not searchable by this user, uid {os.geteuid()})"
                if exc.errno == errno.EACCES else "")
        return f"{path} cannot be looked at: {exc.strerror or exc}{hint}"
    return None


MAX_CERTIFICATE_BYTES = 64 * 1024  # pyzmq writes about 300


def _read_certificate(path: Path) -> tuple[bytes, bytes | None, os.stat_result]:
    """A certificate's keys and the stat of the very file they were read from: opened once, judged by fstat of the
    open descriptor (pubkeys review: read by name, then stat'ed by name again, a file replaced in between had one
    file's key taken on another's mode and owner, and one removed in between was said not to be a certificate)."""
    if (why := unreachable(path)) is not None:
        raise KeyFileError(why)
    fd, info = _open_regular_file(path)  # the way checked before the file is opened, and again once read
    try:
        content = os.read(fd, MAX_CERTIFICATE_BYTES + 1)
    except OSError as exc:
        raise KeyFileError(f"{path} could not be read: {exc.strerror or exc}") from None
    finally:
        os.close(fd)
    if len(content) > MAX_CERTIFICATE_BYTES:
        raise KeyFileError(f"{path} is not a CurveZMQ certificate (over {MAX_CERTIFICATE_BYTES} bytes)")
    try:
        public, secret = _certificate_keys(content)
    except ValueError as exc:
        raise KeyFileError(f"{path} is not a CurveZMQ certificate: {exc}") from None
    if public is None:
        raise KeyFileError(f"{path} is not a CurveZMQ certificate (no public-key line)")
    if not _is_z85_key(public) or (secret is not None and not _is_z85_key(secret)):
        raise KeyFileError(f"{path} holds a key that is not 40 Z85 characters")
    return public, secret, info


Z85_ALPHABET = b"0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ.-:+=^!/*?&<>()[]{}@%$#"


def _is_z85_key(key: bytes) -> bool:
    """40 Z85 characters, each group of five below 2**32: a key libzmq's zmq_z85_decode takes (revpub review: only
    the length was looked at, and zmq.curve_public's 'Invalid argument' escaped validate for any other)."""
    if len(key) != 40 or not all(c in Z85_ALPHABET for c in key):
        return False
    for group in range(0, 40, 5):
        value = 0
        for c in key[group:group + 5]:
            value = value * 85 + Z85_ALPHABET.index(c)
        if value >= 2 ** 32:
            return False
    return True


def _open_regular_file(path: Path) -> tuple[int, os.stat_result]:
    """A descriptor open for reading on the regular file `path` leads to, and its fstat; anything else (a FIFO, a
    device, a socket, a directory) is refused without being opened (revpub review: opened before fstat judged it,
    another user's FIFO or symlink to a device in a sticky directory had root open it, which arms a watchdog, rewinds
    a tape, or releases the FIFO's writer). The name is looked up once (O_PATH, which opens nothing) and that very
    file is opened through /proc/self/fd, so nothing swapped in between is opened either."""
    try:
        where = os.open(path, os.O_PATH | os.O_CLOEXEC)
    except FileNotFoundError:
        raise KeyFileError(f"{path} does not exist (make one with `clustergate keys generate DIR --name NAME`)") from None
    except OSError as exc:
        raise KeyFileError(f"{path} cannot be opened: {exc.strerror or exc}") from None
    try:
        info = os.fstat(where)
        if not stat.S_ISREG(info.st_mode):
            raise KeyFileError(f"{path} is not a file")
        # The way, before the file is opened (revpub review: another user's symlink in /tmp was followed, and read,
        # before being refused) and once the name led to a file (revpub2 review: checked before this look, and only
        # if the name existed then, a symlink made just after was followed). Found all this user's or root's, the
        # way is one no other user can change.
        _refuse_a_way_others_can_change(path)
        try:
            fd = os.open(f"/proc/self/fd/{where}", os.O_RDONLY | os.O_NONBLOCK | os.O_CLOEXEC)
        except FileNotFoundError:  # no /proc: by name, judged again below by the open descriptor
            fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK | os.O_CLOEXEC)
    except PermissionError:
        raise KeyFileError(f"{path} is not readable by this user") from None
    except OSError as exc:
        raise KeyFileError(f"{path} cannot be opened: {exc.strerror or exc}") from None
    finally:
        os.close(where)
    try:
        opened = os.fstat(fd)
    except BaseException:
        os.close(fd)
        raise
    if (opened.st_dev, opened.st_ino) != (info.st_dev, info.st_ino):
        os.close(fd)
        raise KeyFileError(f"{path} could not be checked: replaced while it was opened")
    return fd, opened


def _certificate_keys(content: bytes) -> tuple[bytes | None, bytes | None]:
    """The public-key and secret-key values of a certificate's text, read as zmq.auth.load_certificate reads them
    (which takes only a file name): lines end at '\\n' only, as a file's lines do in Python (pubkeys review: split at
    a lone '\\r' as well, a comment's trailer was a key line pyzmq never reads); a key line without '=' read before
    both keys were found is a ValueError (pyzmq's was an IndexError; skipped, such a file was taken)."""
    public = secret = None
    for line in content.split(b"\n"):
        line = line.strip()
        if line.startswith(b"#"):
            continue
        for name in (b"public-key", b"secret-key"):
            if line.startswith(name) and b"=" not in line:
                raise ValueError(f"a {name.decode()} line without '=' (cut short, or edited by hand?)")
            if line.startswith(name):
                value = line.partition(b"=")[2].strip(b" \t'\"")
                public, secret = (value, secret) if name == b"public-key" else (public, value)
        if public and secret:
            break
    return public, secret


def read_public_key(path: Path) -> bytes:
    """The public key in a .key file; a file holding a secret key (whatever its name) is refused, so that no
    secret certificate is asked for, nor copied, where only a peer's public key belongs, and so is one that a user
    other than this one (or root) could rewrite, swap, or have given its name (a hard link), which would let that
    user's key in."""
    public, secret, info = _read_certificate(path)
    if secret is not None:
        raise KeyFileError(f"{path} holds a secret key where a public key is asked for: give the .key file (the "
                           f"public half) instead, and keep the .key_secret file on the machine that uses it")
    mode = stat.S_IMODE(info.st_mode)
    if mode & 0o022:
        raise KeyFileError(f"{path} is writable by group or others (mode {mode:04o}), so any local user could put "
                           f"their own key in it; run chmod go-w {path}")
    if info.st_uid not in (os.geteuid(), 0):
        raise KeyFileError(f"{path} is owned by uid {info.st_uid}, who could put another key in it; chown it to this "
                           f"user (uid {os.geteuid()})")
    _refuse_a_name_others_could_have_made(path, info, "public")
    _refuse_a_way_others_can_change(path)
    return public


def _refuse_a_way_others_can_change(path: Path) -> None:
    """Whoever can write a certificate's directory, or one above, can swap the file for a symlink to another
    certificate, or the directory for one of theirs (secrev2 review; keysdir review for secret keys): the directory
    of the name given and of the file it leads to, and the way to each. The sticky bit (/tmp) keeps others' files
    theirs."""
    try:
        resolved = path.resolve()
    except OSError as exc:  # a symlink on the way removed while it was read (revpub2 review: FileNotFoundError escaped)
        raise KeyFileError(_not_checked(path, exc)) from None
    for directory in dict.fromkeys((path.absolute().parent, resolved.parent)):
        if (writable := others_can_write(directory, sticky_ok=True)) is not None:
            raise KeyFileError(f"{path}: its directory {writable}")
    # The file's own name too: a symlink another user owns in a sticky directory is theirs to point elsewhere.
    if (unsafe := _unsafe_on_the_way(path, os.geteuid())) is not None:
        raise KeyFileError(f"{path}: {unsafe}")


def read_keypair(path: Path) -> Keypair:
    """The keypair in a .key_secret file, which must be readable by its owner only, have no other name (hard link),
    and lie where no other user can swap it (its directories as for a public certificate)."""
    public, secret, info = _read_certificate(path)
    if secret is None and path.name.endswith(SECRET_SUFFIX):
        raise KeyFileError(f"{path} has no secret-key line: cut short (a half-written copy?) or a public certificate "
                           f"renamed; copy it again from the machine that made it, or generate a new keypair")
    if secret is None:
        raise KeyFileError(f"{path} holds no secret key; name the .key_secret file")
    import zmq
    if zmq.curve_public(secret) != public:
        raise KeyFileError(f"{path}: its public key does not belong to its secret key: regenerate it with clustergate "
                           f"keys generate (a certificate spliced from two, or its public-key line edited)")
    mode = stat.S_IMODE(info.st_mode)
    if mode & 0o077:
        raise KeyFileError(f"{path} is readable by group or others (mode {mode:04o}); run chmod 600 {path}")
    if info.st_uid != os.geteuid():
        raise KeyFileError(f"{path} is owned by uid {info.st_uid}, not by this user (uid {os.geteuid()}); a secret "
                           f"key belongs to the user whose actors use it: chown it or generate one as this user")
    _refuse_a_name_others_could_have_made(path, info, "secret")
    _refuse_a_way_others_can_change(path)
    return Keypair(public=public, secret=secret)


def _refuse_a_name_others_could_have_made(path: Path, info: os.stat_result, kind: str) -> None:
    """A certificate with another name (hard link) where another user could have made the name it is read by: with
    the kernel's fs.protected_hardlinks at 0, any user can give a file root owns a name in a sticky directory such as
    /tmp, owned by root and of a good mode (keysdir review for secret keys; pubkeys review: a revoked client's public
    key, named where the gate looks for a trusted one, let that client in). The find it names is given the file a
    symlink leads to: given the symlink, it finds only the symlink (revpub review)."""
    if info.st_nlink > 1 and _others_could_name_it(path):
        raise KeyFileError(f"{path} has {info.st_nlink} names (hard links): another name of a {kind} key may be one "
                           f"another user made (in a sticky directory such as /tmp, with the kernel's "
                           f"fs.protected_hardlinks at 0), and outlives its removal when revoked; find them with "
                           f"find {_filesystem_of(path)} -xdev -samefile {path.resolve()}, remove every other, and copy "
                           f"(cp -p) a {kind} key rather than link it")


def _others_could_name_it(path: Path) -> bool:
    """Whether another user could have made the name a file is read by: the directory holding it (where any
    symlinks lead) is one others can write, as a sticky /tmp. A second name in a directory only this user or root
    can write is one they made (keysdir re-review: `rsync --link-dest`/`cp -al` releases were refused)."""
    try:
        return bool(path.resolve().parent.stat().st_mode & 0o022)
    except OSError:  # gone meanwhile: _refuse_a_way_others_can_change names it
        return True


def _filesystem_of(path: Path) -> Path:
    """Where the filesystem holding a file is mounted: every other name of the file is below it, and `find /
    -xdev` finds none of them on another filesystem (keysdir re-review: a key on /srv or a tmpfs)."""
    where = path.resolve().parent
    while not os.path.ismount(where):
        where = where.parent
    return where


def others_can_write(directory: Path, sticky_ok: bool = False) -> str | None:
    """Why a key directory is unsafe (another local user could plant or swap a key in it), or None. sticky_ok: for a
    file's own directory, the sticky bit (/tmp) keeps others from removing or replacing the file.

    Every directory above it too, as the path is written and as it resolves (as ssh's StrictModes): one that another
    user can write without the sticky bit, or owns, lets them rename the key directory away and put one holding their
    key in its place (a shared /srv of mode 0777 above keys/ of 0700 did). Owned by this user or root, and writable by
    no one else (the sticky bit enough: /tmp), they cannot."""
    uid = os.geteuid()
    try:
        info = directory.stat()
    except OSError as exc:  # deleted (or moved) since the caller looked
        return _not_checked(directory, exc)
    mode = stat.S_IMODE(info.st_mode)
    if mode & 0o022 and not (sticky_ok and mode & stat.S_ISVTX):
        return (f"{directory} is writable by group or others (mode {mode:04o}), so any local user could plant "
                f"a key there; run chmod go-w {directory}")
    if info.st_uid not in (uid, 0):
        return (f"{directory} is owned by uid {info.st_uid}, who could plant a key there; chown it to this user "
                f"(uid {uid}) or root")
    return _unsafe_on_the_way(directory, uid)


def _not_checked(directory: Path, exc: OSError) -> str:
    where = f"{exc.filename}, on the way to it: " if exc.filename and exc.filename != str(directory) else ""
    return (f"{directory} could not be checked: {where}{exc.strerror or exc} (deleted or moved meanwhile, or a "
            f"/proc/self/fd link to a deleted directory?); name a path that exists")


def _unsafe_on_the_way(directory: Path, uid: int) -> str | None:
    """Every directory the kernel walks through to reach `directory`, following each symlink met on the way as it
    does, and each such symlink (secrev3 review: the second of two symlinks, or one a relative keys_dir went
    through, lies in a directory neither the path as written nor as resolved shows; and in a sticky directory a
    symlink's owner can still point it elsewhere). One that cannot be looked at is a reason too: a directory deleted
    meanwhile, or a /proc/self/fd/N link reading '/old/path (deleted)' (keysdir review: FileNotFoundError escaped)."""
    try:
        return _unsafe_on_the_way_walked(directory, uid)
    except OSError as exc:
        return _not_checked(directory, exc)


def _unsafe_on_the_way_walked(directory: Path, uid: int) -> str | None:
    pending, hops = list(directory.absolute().parts[1:]), 0
    current: Path | None = Path("/")
    while current is not None:
        info = current.stat()
        mode = stat.S_IMODE(info.st_mode)
        if mode & 0o022 and not mode & stat.S_ISVTX:
            who = "any local user" if mode & 0o002 else f"any user of its group (gid {info.st_gid})"
            return (f"{current}, above {directory}, is writable by group or others (mode {mode:04o}), so {who} "
                    f"could rename what leads to {directory} away and put a directory holding their key in its "
                    f"place; run chmod go-w {current} (or chmod +t {current})")
        if info.st_uid not in (uid, 0):
            return (f"{current}, above {directory}, is owned by uid {info.st_uid}, who could rename what leads to "
                    f"{directory} away and put a directory holding their key in its place; keep the keys where every "
                    f"directory above is this user's (uid {uid}) or root's")
        below, current = current, None
        while pending:  # to the next directory down, through any symlinks (one found once is checked once)
            name = pending.pop(0)
            if name == "..":  # the parent of a directory walked through was walked through
                below = below.parent
                continue
            entry = below / name
            link = entry.lstat()
            if not stat.S_ISLNK(link.st_mode):
                # The name itself, another user's in a sticky directory, is theirs to replace between a look and an
                # open (revpub2 review: without /proc, root opened the FIFO uid 65534 renamed over their file).
                if not pending and link.st_uid not in (uid, 0) and below.stat().st_mode & stat.S_ISVTX:
                    return (f"{entry} is owned by uid {link.st_uid} in the sticky directory {below}, so they could "
                            f"put another file in its place (a symlink, a FIFO) between its look and its open; "
                            f"keep it as this user's (uid {uid}) or root's")
                current = entry if pending else None  # the key directory itself: the caller checks it
                break
            if below.stat().st_mode & stat.S_ISVTX and link.st_uid not in (uid, 0):
                return (f"{entry}, a symlink on the way to {directory}, is owned by uid {link.st_uid} in the sticky "
                        f"directory {below}, so they could point it elsewhere, at their own key; replace it "
                        f"with a symlink of this user's (uid {uid}) or root's, or name the directory it leads to")
            hops += 1
            if hops > 40:
                return f"{directory} is reached through more than 40 symlinks; name the directory they lead to"
            target = Path(os.readlink(entry))
            below = Path("/") if target.is_absolute() else below
            pending = [part for part in target.parts if part != "/"] + pending
    return None


def read_key_dir(directory: Path) -> frozenset[bytes]:
    """Every public key in a directory's *.key files; an empty or missing directory is an error."""
    if (why := unreachable(directory)) is not None:
        raise KeyFileError(why)
    if not directory.is_dir():
        raise KeyFileError(f"{directory} is not a directory")
    files = sorted(directory.glob("*" + PUBLIC_SUFFIX))
    if not files:
        raise KeyFileError(f"{directory} holds no public certificates (*.key)")
    return frozenset(read_public_key(f) for f in files)


def _create_new(path: Path, content: bytes, mode: int) -> None:
    """Write a file that did not exist: FileExistsError when anything is at path, a symlink (even dangling) included."""
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW, mode)
    try:
        os.fchmod(fd, mode)
        os.write(fd, content)
        os.fsync(fd)
    except BaseException:
        os.close(fd)
        path.unlink()
        raise
    os.close(fd)


def generate_keypair(directory: Path, name: str) -> tuple[Path, Path]:
    """Write NAME.key (0644) and NAME.key_secret (0600, never readable by others, not even briefly). Never
    overwrites, nor writes through a symlink: FileExistsError when either path holds anything."""
    import tempfile

    import zmq.auth
    directory.mkdir(parents=True, exist_ok=True, mode=0o700)
    public_file, secret_file = directory / (name + PUBLIC_SUFFIX), directory / (name + SECRET_SUFFIX)
    old_umask = os.umask(0o077)
    try:  # pyzmq opens its paths with open(..., "w"): let it write into a private directory of our own
        with tempfile.TemporaryDirectory(dir=directory, prefix=".keys-generate-") as scratch:
            made_public, made_secret = (Path(p) for p in zmq.auth.create_certificates(scratch, "certificate"))
            _create_new(secret_file, made_secret.read_bytes(), 0o600)
            try:
                _create_new(public_file, made_public.read_bytes(), 0o644)
            except BaseException:
                secret_file.unlink()
                raise
    finally:
        os.umask(old_umask)
    return public_file, secret_file


# --------------------------------------------------------------------------- a topology's sockets


def key_directory(topo: "Topology", written: str) -> Path:
    """keys_dir or an allow_dir as written, relative to the topology's directory: not resolved, so that the
    directories its symlinks lie in are checked too (others_can_write), and again when an actor starts."""
    return topology_base(topo) / written


def keys_dir_of(topo: "Topology") -> Path | None:
    curve = topo.security.curve
    return key_directory(topo, curve.keys_dir) if curve is not None else None


def topology_base(topo: "Topology") -> Path:
    return topo.resolve_path(".")


def socket_keys(topo: "Topology", actor: str, role: str) -> SocketKeys:
    """The keys of one CURVE socket of a validated topology (defaults already filled in)."""
    sock = topo.actors[actor].sockets[role]
    curve = sock.curve
    assert curve is not None and curve.keypair is not None, "socket_keys on a socket without curve"
    keys_dir, base = keys_dir_of(topo), topology_base(topo)
    keypair = read_keypair(certificate_path(curve.keypair, keys_dir=keys_dir, base=base, secret=True))
    if sock.bind is not None:
        allowed = set(read_public_key(certificate_path(ref, keys_dir=keys_dir, base=base, secret=False))
                      for ref in curve.allow)
        if curve.allow_dir:
            allowed |= read_key_dir(key_directory(topo, curve.allow_dir))
        return SocketKeys(keypair=keypair, allowed=frozenset(allowed))
    assert curve.server_key is not None
    server = read_public_key(certificate_path(curve.server_key, keys_dir=keys_dir, base=base, secret=False))
    return SocketKeys(keypair=keypair, server_key=server)
