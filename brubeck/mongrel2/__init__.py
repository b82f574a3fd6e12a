"""Brubeck behind Mongrel2: a worker PULLs requests over ZeroMQ and PUBlishes replies.

One module per job: `wire` (message parsing and reply framing, no I/O),
`tnetstring` (the header encoding), `uploads` (bodies spooled to disk),
`sender` (the send API), `connection` (a worker's lifecycle and dispatch) and
`config` (writing and loading a Mongrel2 config). Nothing here imports a
concurrency library: the connection takes green zmq from the app's backend.
"""

from __future__ import annotations

from .config import Mongrel2Config, free_ports
from .connection import Mongrel2Connection
from .uploads import UploadStore
from .wire import MalformedMessage, Message, Mongrel2Client, parse_message

__all__ = ["MalformedMessage", "Message", "Mongrel2Client", "Mongrel2Config",
           "Mongrel2Connection", "UploadStore", "free_ports", "parse_message"]
