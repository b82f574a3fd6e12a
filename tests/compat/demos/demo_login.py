#!/usr/bin/env python
"""0.4 style: a login flow with cookies, web_authenticated, redirects and templates."""

import logging

from brubeck.request_handling import Brubeck, WebMessageHandler
from brubeck.models import User
from brubeck.auth import web_authenticated, UserHandlingMixin
from brubeck.templating import Jinja2Rendering, load_jinja2_env
from brubeck.connections import Mongrel2Connection

known_user = User.create_user('jd', 'foo')


class CustomAuthMixin(WebMessageHandler, UserHandlingMixin):
    def get_current_user(self):
        username = self.get_cookie('username', secret=self.application.cookie_secret)
        if username == known_user.username:
            return known_user
        username = self.get_argument('username')
        password = self.get_argument('password')
        if username != known_user.username or not known_user.check_password(password):
            logging.info('login refused for %r', username)
            return None
        self.set_cookie('username', username, secret=self.application.cookie_secret)
        return known_user


class LandingHandler(CustomAuthMixin, Jinja2Rendering):
    @web_authenticated
    def get(self):
        return self.render_template('landing.html', username=self.current_user.username)


class LoginHandler(CustomAuthMixin, Jinja2Rendering):
    def get(self):
        return self.render_template('login.html')

    @web_authenticated
    def post(self):
        return self.redirect('/')


class LogoutHandler(CustomAuthMixin, Jinja2Rendering):
    def get(self):
        self.delete_cookies()
        return self.redirect('/login')


config = {
    'msg_conn': Mongrel2Connection('tcp://127.0.0.1:9999', 'tcp://127.0.0.1:9998'),
    'handler_tuples': [
        (r'^/login', LoginHandler),
        (r'^/logout', LogoutHandler),
        (r'^/', LandingHandler),
    ],
    'template_loader': load_jinja2_env('./templates/login'),
    'login_url': '/login',
    'cookie_secret': 'demo secret, not for production',
}
app = Brubeck(**config)
app.run()
