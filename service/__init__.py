"""serve.py's HTTP service: the tagger's models behind an ASGI app."""
