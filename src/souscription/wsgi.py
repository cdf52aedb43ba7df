"""WSGI entry point for any WSGI server (waitress in `souscription serve`, gunicorn in production)."""

import os

from django.core.wsgi import get_wsgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "souscription.settings")
application = get_wsgi_application()
