"""Platform library shared by every Dreamer's Cave service.

Plumbing only: settings, MySQL access and migrations, the response envelope, language and
pagination helpers, JWT verification, observability, the event bus and the app factory.
Domain code never lives here.
"""
