#!/usr/bin/env python
"""0.4 style: one class handler, connection from `mongrel2_pair`."""

from brubeck.request_handling import Brubeck, WebMessageHandler


class DemoHandler(WebMessageHandler):
    def get(self):
        who = self.get_argument('name', 'dude')
        self.set_body('Take five, %s!' % who)
        return self.render()


config = {
    'mongrel2_pair': ('tcp://127.0.0.1:9999', 'tcp://127.0.0.1:9998'),
    'handler_tuples': [(r'^/brubeck', DemoHandler)],
}
app = Brubeck(**config)
app.run()
