#!/usr/bin/env python
"""0.4 style: Mustache templates are named without their extension."""

from brubeck.request_handling import Brubeck, WebMessageHandler
from brubeck.templating import MustacheRendering, load_mustache_env
from brubeck.connections import Mongrel2Connection


class DemoHandler(WebMessageHandler, MustacheRendering):
    def get(self):
        name = self.get_argument('name', 'dude')
        return self.render_template('success', name=name)


config = {
    'msg_conn': Mongrel2Connection('tcp://127.0.0.1:9999', 'tcp://127.0.0.1:9998'),
    'handler_tuples': [(r'^/brubeck', DemoHandler)],
    'template_loader': load_mustache_env('./templates/mustache'),
}
app = Brubeck(**config)
app.run()
