"""hoso's web interface (Starlette + Jinja2 + htmx) and its command line."""
