"""The app hostile tests aim at: the shared suite's routes plus a few that misbehave on purpose."""

from brubeck.request_handling import WebMessageHandler
from tests.suite.app import build_app


class HeaderEchoHandler(WebMessageHandler):
    """Puts a client-chosen value in a response header: the header-injection target."""

    def get(self):
        self.headers["X-Echo"] = self.get_argument("v", "")
        self.set_body("echoed")
        return self.render()


class StatusLineHandler(WebMessageHandler):
    """Puts a client-chosen value in the status message."""

    def get(self):
        self.set_body("status", status_code=200)
        self.set_status(200, self.get_argument("v", "OK"))
        return self.render()


def build_hostile_app(**config):
    app = build_app(**config)
    app.add_route_rule(r"^/header$", HeaderEchoHandler)
    app.add_route_rule(r"^/statusline$", StatusLineHandler)
    return app
