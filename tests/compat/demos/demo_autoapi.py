#!/usr/bin/env python
"""0.4 style: AutoAPI over a DictQueryset, rendered with hide_status=True.

Ported to Python 3: the model is pydantic (0.4's was a DictShield Document).
"""

from uuid import UUID, uuid4

from pydantic import BaseModel, Field

from brubeck.request_handling import Brubeck
from brubeck.autoapi import AutoAPIBase
from brubeck.queryset import DictQueryset


### Todo Model
class Todo(BaseModel):
    """Bare minimum for a todo"""
    id: UUID = Field(default_factory=uuid4)
    completed: bool = False
    deleted: bool = False
    archived: bool = False
    title: str


### Todo API
class TodosAPI(AutoAPIBase):
    queries = DictQueryset()
    model = Todo

    def render(self, **kwargs):
        return super(TodosAPI, self).render(hide_status=True, **kwargs)  # noqa: UP008


config = {
    'mongrel2_pair': ('tcp://127.0.0.1:9999', 'tcp://127.0.0.1:9998'),
    'handler_tuples': [],
}

app = Brubeck(**config)
app.register_api(TodosAPI)
app.run()
