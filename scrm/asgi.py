import os

from django.core.asgi import get_asgi_application

# Servers and workers run production settings unless told otherwise: a deployment that forgets
# DJANGO_SETTINGS_MODULE must not serve with DEBUG on (the demo's manage.py sets local itself).
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "scrm.settings.production")
application = get_asgi_application()
