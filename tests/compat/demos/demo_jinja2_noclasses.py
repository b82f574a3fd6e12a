#! /usr/bin/env python
"""0.4 style: a function route rendering a Jinja2 template through the app."""

from brubeck.request_handling import Brubeck, http_response
from brubeck.connections import Mongrel2Connection
from brubeck.templating import load_jinja2_env, Jinja2Rendering  # noqa: F401


app = Brubeck(msg_conn=Mongrel2Connection('tcp://127.0.0.1:9999',
                                          'tcp://127.0.0.1:9998'),
              template_loader=load_jinja2_env('./templates/jinja2'))


@app.add_route('^/', method=['GET', 'POST'])
def index(application, message):
    name = message.get_argument('name', 'dude')
    context = {
        'name': name,
    }
    body = application.render_template('success.html', **context)
    return http_response(body, 200, 'OK', {})


app.run()
