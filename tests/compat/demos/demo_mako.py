#!/usr/bin/env python
"""0.4 style: WebMessageHandler first, then the Mako mixin."""

from brubeck.request_handling import Brubeck, WebMessageHandler
from brubeck.templating import MakoRendering, load_mako_env
from brubeck.connections import Mongrel2Connection


class DemoHandler(WebMessageHandler, MakoRendering):
    def get(self):
        name = self.get_argument('name', 'dude')
        context = {'name': name}
        return self.render_template('success.html', **context)


config = {
    'msg_conn': Mongrel2Connection('tcp://127.0.0.1:9999', 'tcp://127.0.0.1:9998'),
    'handler_tuples': [(r'^/brubeck', DemoHandler)],
    'template_loader': load_mako_env('./templates/mako'),
}
app = Brubeck(**config)
app.run()
