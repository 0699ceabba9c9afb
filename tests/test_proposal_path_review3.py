"""gaterev3: the gatefix review's "nothing was recorded" attacked against a real redis-server (and a real gate, permit
issuer and client): it must be said only when nothing of the call can have been run."""

from __future__ import annotations

import pytest
import redis

from helpers import TcpProxy
from launcher.resp import NotSent, RedisUnavailable, RespClient, encode_commands


class CutOneReply(TcpProxy):
    """A TCP proxy that, once armed, cuts the connection carrying the next reply from Redis instead of passing it on:
    the request reached Redis, which ran it; its client never hears back (a network cut after the write)."""

    armed = False

    def passing(self, data: bytes, to_upstream: bool, shared: dict) -> bytes:
        if self.armed and not to_upstream:
            self.armed = False
            raise OSError("cut")
        return data


def test_a_write_redis_ran_before_the_connection_was_cut_is_never_not_sent_when_the_reconnect_is_refused(
        redis_server) -> None:
    # RespClient.pipeline_raw replaces a connection found dead after a call and sends the call again; when that new
    # connection's AUTH was refused (a password rotated meanwhile, as operators do, or maxclients reached), its
    # HandshakeRefused, a NotSent, came out of the call: the permit issuer answered `nothing_written` and the gate
    # HOLD "nothing was recorded" for a write Redis had run (reproduced against a real redis-server: the key written,
    # NotSent raised).
    admin = redis.Redis(port=redis_server.port, decode_responses=True, socket_timeout=2)
    admin.config_set("requirepass", "before")
    admin = redis.Redis(port=redis_server.port, password="before", decode_responses=True, socket_timeout=2)
    proxy = CutOneReply(redis_server.port)
    client = RespClient(port=proxy.port, password="before", timeout_s=2.0)
    try:
        assert client.call("PING") == "PONG"
        admin.config_set("requirepass", "after")  # the connection already open stays authenticated
        admin = redis.Redis(port=redis_server.port, password="after", decode_responses=True, socket_timeout=2)
        proxy.armed = True
        with pytest.raises(RedisUnavailable) as failed:
            client.pipeline_raw(encode_commands([("SET", "written", "1")]), 1)
        assert admin.get("written") == "1", "Redis ran the call"
        assert not isinstance(failed.value, NotSent), f"NotSent for a call Redis ran: {failed.value}"
        assert "outcome unknown" in str(failed.value), str(failed.value)
    finally:
        client.close()
        proxy.close()
        admin.config_set("requirepass", "")
