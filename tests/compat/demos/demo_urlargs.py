#!/usr/bin/env python
"""0.4 style: URL groups reach class handlers and functions as arguments."""

from brubeck.connections import Mongrel2Connection
from brubeck.request_handling import Brubeck, WebMessageHandler, http_response


class IndexHandler(WebMessageHandler):
    def get(self):
        self.set_body('Take five!')
        return self.render()


class NameHandler(WebMessageHandler):
    def get(self, name):
        self.set_body('Take five, %s!' % name)
        return self.render()


def name_function(application, message, name):
    return http_response('Take five, %s!' % name, 200, 'OK', {})


urls = [(r'^/class/(\w+)$', NameHandler),
        (r'^/fun/(?P<name>\w+)$', name_function),
        (r'^/$', IndexHandler)]

config = {
    'msg_conn': Mongrel2Connection('tcp://127.0.0.1:9999', 'tcp://127.0.0.1:9998'),
    'handler_tuples': urls,
}
app = Brubeck(**config)


@app.add_route(r'^/deco/(?P<name>\w+)$', method='GET')
def decorated(application, message, name):
    return http_response('Take five, %s!' % name, 200, 'OK', {})


app.run()
