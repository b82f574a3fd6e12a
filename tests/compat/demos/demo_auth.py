#!/usr/bin/env python
"""0.4 style: @authenticated with credentials checked from the arguments."""

import logging

from brubeck.request_handling import Brubeck, WebMessageHandler
from brubeck.connections import Mongrel2Connection
from brubeck.models import User
from brubeck.auth import authenticated, UserHandlingMixin

known_user = User.create_user('jd', 'foo')


class DemoHandler(WebMessageHandler, UserHandlingMixin):
    def get_current_user(self):
        username = self.get_argument('username')
        password = self.get_argument('password')
        if known_user.username != username:
            logging.error('unknown user %r', username)
            return None
        if not known_user.check_password(password):
            logging.error('wrong password for %r', username)
            return None
        return known_user

    @authenticated
    def post(self):
        self.set_body('%s logged in successfully!' % self.current_user.username)
        return self.render()


config = {
    'msg_conn': Mongrel2Connection('tcp://127.0.0.1:9999', 'tcp://127.0.0.1:9998'),
    'handler_tuples': [(r'^/brubeck', DemoHandler)],
}
app = Brubeck(**config)
app.run()
