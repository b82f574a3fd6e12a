"""WebSocket benchmark (issue 15): echo round trips per second and fan-out to 1,000
clients, for Brubeck on each backend and transport beside Tornado and `websockets`.
Run it with `python -m bench.ws`; results go to bench/results/ws.md."""
