"""The servers under test, one module each, each run as its own process.

Every app answers the same small bodies so the only difference between two
rows is the stack that produced them.
"""

HELLO = b"Hello, world!"
