"""The little both Mongrel2 anchors share: pick a request apart, build the reply.

Only what a hello needs: the sender, the connection id, and whether Mongrel2
is telling us a client went away (METHOD JSON), which must get no answer.
"""

from bench.apps import HELLO

RESPONSE = (b"HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: %d\r\n\r\n%s"
            % (len(HELLO), HELLO))
DISCONNECT = b"6:METHOD,4:JSON,"


def reply_for(message: bytes) -> bytes | None:
    """The PUB frame answering `message`, or None for a disconnect notice."""
    sender, conn_id, _path, rest = message.split(b" ", 3)
    size, _, rest = rest.partition(b":")
    if DISCONNECT in rest[: int(size)]:
        return None
    return b"%s %d:%s, %s" % (sender, len(conn_id), conn_id, RESPONSE)
