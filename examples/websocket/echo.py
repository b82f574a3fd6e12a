"""WebSocket echo: every message comes back as it was sent (text as text, bytes as bytes).

    python examples/websocket/echo.py --port 9001    # ws://127.0.0.1:9001/echo

`/echo` is callback style (`on_message`); `/shout` is the synchronous style,
one green thread looping on `receive()`. Open http://127.0.0.1:9001/ for a page
that talks to `/echo`. It is also what scripts/autobahn.sh tests (with
`--max-message-size 16777216` for Autobahn's 16 MiB performance cases).
Same file, other layers: BRUBECK_CONCURRENCY=eventlet, or
BRUBECK_CONNECTION=mongrel2://PULL,PUB behind Mongrel2.
"""

from __future__ import annotations

import argparse

from brubeck.app import Brubeck
from brubeck.connections import WSGIConnection
from brubeck.handlers import WebMessageHandler
from brubeck.websocket import WebSocketHandler

PAGE = """<!doctype html><meta charset="utf-8"><title>echo</title>
<input id="say" autofocus placeholder="say something, press Enter"><pre id="log"></pre>
<script>
const log = (line) => document.getElementById("log").textContent += line + "\\n";
const ws = new WebSocket(location.href.replace(/^http/, "ws") + "echo");
ws.onmessage = (event) => log("< " + event.data);
ws.onclose = (event) => log("closed " + event.code);
document.getElementById("say").onkeydown = (event) => {
  if (event.key === "Enter") { ws.send(event.target.value); log("> " + event.target.value);
                               event.target.value = ""; }
};
</script>
"""


class Page(WebMessageHandler):
    def get(self):
        self.set_body(PAGE, {"Content-Type": "text/html; charset=utf-8"})
        return self.render()


class Echo(WebSocketHandler):
    def on_message(self, message):
        self.write_message(message)


class Shout(WebSocketHandler):
    def open(self):
        while (message := self.receive()) is not None:
            self.write_message(message.upper() if isinstance(message, str) else message)


def build_app(port: int = 9001, host: str = "127.0.0.1") -> Brubeck:
    return Brubeck(msg_conn=WSGIConnection(port=port, host=host), handler_tuples=[
        (r"^/$", Page), (r"^/echo$", Echo), (r"^/shout$", Shout)])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=9001)
    parser.add_argument("--max-message-size", type=int, default=None,
                        help="bytes (default: websocket_max_message_size, 1 MiB)")
    args = parser.parse_args()
    if args.max_message_size:
        Echo.max_message_size = Shout.max_message_size = args.max_message_size
    build_app(args.port, args.host).run()


if __name__ == "__main__":
    main()
