"""How a request arrives and leaves: API Gateway events, the WSGI server (`make run` and the streaming
Function URL), the resolver with one exception handler per error family, and the HTTP routes.

May import every layer below it; nothing imports it but handler.py and local/.
"""
