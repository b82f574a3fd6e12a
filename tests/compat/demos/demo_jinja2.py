#!/usr/bin/env python
"""0.4 style: the rendering mixin alone is the handler; templates relative to the cwd."""

from brubeck.request_handling import Brubeck
from brubeck.templating import Jinja2Rendering, load_jinja2_env


class DemoHandler(Jinja2Rendering):
    def get(self):
        name = self.get_argument('name', 'dude')
        context = {'name': name}
        return self.render_template('success.html', **context)


app = Brubeck(mongrel2_pair=('tcp://127.0.0.1:9999', 'tcp://127.0.0.1:9998'),
              handler_tuples=[(r'^/brubeck', DemoHandler)],
              template_loader=load_jinja2_env('./templates/jinja2'))
app.run()
