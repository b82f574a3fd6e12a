#!/usr/bin/env python
"""0.4 style: a decorated function route, no handler classes."""

from brubeck.request_handling import Brubeck, http_response

app = Brubeck(mongrel2_pair=('tcp://127.0.0.1:9999',   # requests from Mongrel2
                             'tcp://127.0.0.1:9998'))  # responses to Mongrel2


@app.add_route('^/brubeck', method='GET')
def take_five(application, message):
    who = message.get_argument('name', 'dude')
    return http_response('Take five, %s!' % who, 200, 'OK', {})


app.run()
