"""Moved to `brubeck.mongrel2.wire` (and uploads to `brubeck.mongrel2.uploads`);
this name keeps old imports working."""

from __future__ import annotations

from ..mongrel2 import tnetstring
from ..mongrel2.uploads import (
    UPLOAD_DONE,
    UPLOAD_START,
    UPLOAD_TEMPLATE,
    UploadStore,
    check_upload,
    spooled_file,
    upload_state,
)
from ..mongrel2.wire import (
    MAX_TARGETS,
    MalformedMessage,
    Message,
    Mongrel2Client,
    chunks,
    client_of,
    conn_id_text,
    declared_length,
    frame,
    parse_message,
    raw_target,
    request_headers,
    sender_text,
    to_request,
    upload_length,
)

check_head = upload_length  # its name before the move

UPLOAD_EXAMPLE = UPLOAD_TEMPLATE

__all__ = ["MAX_TARGETS", "UPLOAD_DONE", "UPLOAD_EXAMPLE", "UPLOAD_START", "MalformedMessage",
           "Message", "Mongrel2Client", "UploadStore", "check_head", "check_upload", "chunks",
           "client_of", "conn_id_text", "declared_length", "frame", "parse_message", "raw_target",
           "request_headers", "sender_text", "spooled_file", "tnetstring", "to_request",
           "upload_state"]
