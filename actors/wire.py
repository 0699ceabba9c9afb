"""What travels over ZeroMQ: JSON frames, the reply envelope, ticks and heartbeats.

Every REQ/REP reply is one envelope: {"status": "ok", ...} or
{"status": "error", "reason": ..., "detail": ...}.
"""

from __future__ import annotations

import hashlib
import hmac
from hashlib import blake2b
import json
from json.encoder import c_make_encoder, encode_basestring_ascii  # type: ignore[attr-defined]
from dataclasses import dataclass
from typing import Any

import orjson

from actors.message_checks import finite_float
from launcher.keys import permit

TICK_TOPIC_PREFIX = b"tick."
HEARTBEAT_TOPIC = b"heartbeat"


# One encoder for every frame: json.dumps with non-default arguments builds a new JSONEncoder per call,
# which cost half of each encode (a decision reply: 20 us per json.dumps call, 9 us with this one).
_ENCODER = json.JSONEncoder(separators=(",", ":"), allow_nan=False)
encode_text = _ENCODER.encode  # compact JSON text; ValueError on NaN or Infinity
# JSONEncoder.encode builds the json module's C encoder (and a closure) on every call; this one is built once
# with the same settings and gives the same text (a decision reply: 5.7 -> 4.7 us, issue 14). It keeps no
# record of the objects being encoded (no circular-reference check, which needs a fresh record per call): a
# structure that contains itself, or one nested deeper than Python's stack, is a ValueError as a NaN is.
_ENCODE_CHUNKS = None if c_make_encoder is None else c_make_encoder(
    None, _ENCODER.default, encode_basestring_ascii, None, _ENCODER.key_separator, _ENCODER.item_separator,
    _ENCODER.sort_keys, _ENCODER.skipkeys, _ENCODER.allow_nan)


def encode(obj: Any) -> bytes:
    """Compact JSON (the json module's bytes, ASCII); ValueError on NaN or Infinity, TypeError on a value
    JSON has no form for."""
    if _ENCODE_CHUNKS is None:
        return _ENCODER.encode(obj).encode()
    try:
        return "".join(_ENCODE_CHUNKS(obj, 0)).encode()
    except RecursionError:
        raise ValueError("cannot encode: the value contains itself or is nested too deep") from None


def encode_finite(obj: Any) -> bytes:
    """encode(obj)'s JSON value in orjson's bytes, for replies that hold no NaN or Infinity (orjson would write
    them as null, where encode() refuses them): the gate's, whose metrics are rounded or null and whose
    proposals are checked finite. A decision reply: 5.7 us with encode(), 0.6 us here (issue 14). The same
    value, not always the same bytes: a float may take another form (1e-06 as 1e-6, 1.2e-05 as 0.000012); non-ASCII
    text goes as UTF-8 instead of \\u escapes. What orjson refuses (a lone surrogate, an integer beyond 64
    bits, a key that is not a string, nesting past 254) takes encode()."""
    try:
        return orjson.dumps(obj)
    except TypeError:  # orjson.JSONEncodeError is a TypeError
        return encode(obj)


def decode(frame: bytes) -> Any:
    return json.loads(frame)


# The gate <-> permit issuer link (and the issuer's stored decision): frames that only the two actors read,
# encoded and decoded by orjson, 5 to 15 times faster than the json module on these messages (issue 14).
# orjson writes some floats in another form (1.2e-05 as 0.000012) and non-ASCII unescaped: the same values.
# NaN and Infinity are never sent on the link (the gate's metrics are rounded or null, proposals are checked
# finite); orjson would write them as null, and refuses them when reading. The gate's replies to clients
# take orjson too, through encode_finite (docs/proposal-api.md: read replies as JSON, not as bytes).
encode_internal = orjson.dumps  # bytes, compact
decode_internal = orjson.loads  # ValueError (orjson.JSONDecodeError) on anything that is not JSON


# A gate's request to its permit issuer is signed when the topology's Redis has a password: the frame ends with a
# newline and the hex keyed BLAKE2b (a MAC by design, one C call) of the request under a key derived from that
# password, so that only a process holding the password (which could write a permit to Redis itself) gets a permit
# from the issuer's socket. That socket listens on loopback TCP, where any local process can connect; unsigned, one
# could send a decision of its own, past the gate's policy and cooldowns. A signature covers its own request only: one
# seen by a process that took the issuer's port signs nothing else (and the issuer refuses that request past its
# deadline_epoch). The key is derived once (HMAC-SHA256); each message's MAC is keyed BLAKE2b, not Python's hmac
# objects, whose dozen Python calls per MAC cost the gate and the issuer about 30 us a decision each at 1,000/s.
_ISSUER_KEY_CONTEXT = b"clustergate permit issuer request v1"
_MAC_BYTES = 32
_SIGNATURE_HEX = 2 * _MAC_BYTES
_REQUEST_MAC = b"cg-request"  # BLAKE2b personalisations: a request's MAC is never a reply key, nor the other way
_REPLY_KEY = b"cg-reply-key"


def issuer_key(redis_password: str | None) -> bytes | None:
    """The key a gate signs its requests to the permit issuer with, and the issuer checks; None without a password."""
    if not redis_password:
        return None
    return hmac.new(redis_password.encode(), _ISSUER_KEY_CONTEXT, hashlib.sha256).digest()


def _mac_hex(key: bytes, data: bytes) -> bytes:
    return blake2b(data, digest_size=_MAC_BYTES, key=key, person=_REQUEST_MAC).hexdigest().encode()


def signed_issuer_request(frame: bytes, key: bytes | None) -> bytes:
    """The frame a gate sends: the request, and with a key its signature after a newline (orjson writes none)."""
    if key is None:
        return frame
    return frame + b"\n" + _mac_hex(key, frame)


def verified_issuer_request(frame: bytes, key: bytes | None) -> bytes | None:
    """The request of a frame a gate signed with `key` (the frame itself without a key), None when it is not signed so."""
    if key is None:
        return frame
    request, newline, signature = frame[:-_SIGNATURE_HEX - 1], frame[-_SIGNATURE_HEX - 1:-_SIGNATURE_HEX], \
        frame[-_SIGNATURE_HEX:]
    if newline != b"\n" or not hmac.compare_digest(_mac_hex(key, request), signature):
        return None
    return request


def issuer_reply_key(key: bytes | None, request_frame: bytes) -> bytes | None:
    """The key the issuer signs its reply to one verified request with (signed_issuer_request, verified_issuer_request),
    derived from the request's own signature: a process that took the issuer's port cannot answer the gate "written"
    (no permit, no cooldown in Redis), nor pass off one reply as another request's."""
    if key is None:
        return None
    return blake2b(request_frame[-_SIGNATURE_HEX:], digest_size=_MAC_BYTES, key=key, person=_REPLY_KEY).digest()


def recorded_form(decision: dict[str, Any]) -> dict[str, Any]:
    """A decision the permit issuer has just written, as answered: with its permit fields, not a replay
    (the issuer builds it; the gate too, from what it sent, when the issuer's result is compact)."""
    issue = decision["final_action"] != "HOLD"
    return {**decision, "permit": issue, "permit_key": permit(decision["plan_id"]) if issue else None,
            "replayed": False, "recorded": True}


def ok_envelope(**body: Any) -> dict[str, Any]:
    return {"status": "ok", **body}


INTERNAL_ERROR = "internal_error"  # the reason of an error raised while handling a request: its outcome is unknown


def error_envelope(reason: str, detail: str = "") -> dict[str, Any]:
    return {"status": "error", "reason": reason, "detail": detail}


class BadTick(ValueError):
    """A tick frame that must not be used; the message names what is wrong."""


@dataclass(frozen=True, slots=True)
class Tick:
    symbol: str
    price: float
    ts: float  # epoch seconds of the price
    seq: int

    def frames(self) -> list[bytes]:
        return [TICK_TOPIC_PREFIX + self.symbol.encode(),
                encode({"symbol": self.symbol, "price": self.price, "ts": self.ts, "seq": self.seq})]


def heartbeat_frames(ts: float, seq: int) -> list[bytes]:
    return [HEARTBEAT_TOPIC, encode({"ts": ts, "seq": seq})]


def valid_price(price: Any) -> bool:
    number = finite_float(price)
    return number is not None and number > 0


def parse_tick(frames: list[bytes]) -> Tick | None:
    """Return the tick in a message, None for a heartbeat; raise BadTick for anything malformed."""
    if len(frames) != 2:
        raise BadTick(f"expected 2 frames (topic, body), got {len(frames)}")
    topic, body = frames
    if topic == HEARTBEAT_TOPIC:
        return None
    if not topic.startswith(TICK_TOPIC_PREFIX):
        raise BadTick(f"unknown topic {topic[:40]!r}")
    try:
        data = json.loads(body)
    except (ValueError, UnicodeDecodeError, RecursionError) as exc:  # RecursionError: nested too deep
        raise BadTick(f"body is not JSON: {exc}"[:300]) from None
    if not isinstance(data, dict):
        raise BadTick("body is not a JSON object")
    symbol, price, ts, seq = data.get("symbol"), data.get("price"), data.get("ts"), data.get("seq", 0)
    if not isinstance(symbol, str) or topic[len(TICK_TOPIC_PREFIX):] != symbol.encode():
        raise BadTick(f"symbol {symbol!r} does not match topic {topic[:40]!r}")
    if not valid_price(price):
        raise BadTick(f"price {price!r} is not a finite positive number"[:300])
    ts_s = finite_float(ts)
    if ts_s is None or ts_s <= 0:
        raise BadTick(f"ts {ts!r} is not a positive epoch time"[:300])
    if isinstance(seq, bool) or not isinstance(seq, int):
        raise BadTick(f"seq {seq!r} is not an integer")
    return Tick(symbol, float(price), ts_s, seq)
