#!/usr/bin/env python
"""0.4 style: an upload form; `hasattr(self.message, 'files')` tells an upload apart.

Ported to Python 3 without PIL: 0.4 opened the upload as an image and saved
word.png; this writes the uploaded bytes to word.png as they came.
"""

from brubeck.request_handling import Brubeck
from brubeck.templating import Jinja2Rendering, load_jinja2_env
from brubeck.connections import Mongrel2Connection


class UploadHandler(Jinja2Rendering):
    def get(self):
        """Offers the upload form."""
        return self.render_template('landing.html')

    def post(self):
        """Saves an uploaded file, then back to the landing page."""
        if hasattr(self.message, 'files'):
            with open('word.png', 'wb') as saved:
                saved.write(self.message.files['data'][0]['body'])
        return self.redirect('/')


config = {
    'msg_conn': Mongrel2Connection("tcp://127.0.0.1:9999", "tcp://127.0.0.1:9998"),
    'handler_tuples': [(r'^/add_file', UploadHandler)],
    'template_loader': load_jinja2_env('./templates/multipart'),
}

app = Brubeck(**config)
app.run()
