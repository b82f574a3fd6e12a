#!/usr/bin/env python
"""0.4 style: the minimal demo served over WSGI (port 6767 unless overridden)."""

from brubeck.connections import WSGIConnection
from brubeck.request_handling import Brubeck, WebMessageHandler


class DemoHandler(WebMessageHandler):
    def get(self):
        who = self.get_argument('name', 'dude')
        self.set_body('Take five, %s!' % who)
        return self.render()


config = {
    'msg_conn': WSGIConnection(),
    'handler_tuples': [(r'^/brubeck', DemoHandler)],
}
app = Brubeck(**config)
app.run()
