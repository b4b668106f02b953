"""The embedded demo: ``make run``. The product's error pages, the console SMS code shown on the page."""

from .base import *  # noqa: F403
from .base import env

# The product's own 404, 403 and 500 pages, as a user meets them (DEBUG=true for Django's).
DEBUG = env.bool("DEBUG", default=False)
# Static files straight from the apps' folders (no collectstatic for the demo), refreshed on change.
WHITENOISE_USE_FINDERS = True
WHITENOISE_AUTOREFRESH = True
SCRM_SMS_SHOW_IN_PAGE = env.bool("SCRM_SMS_SHOW_IN_PAGE", default=True)
# The demo's mails (password resets) are printed in the terminal: a reset works end to end.
SCRM_EMAIL_CONFIGURED = True
