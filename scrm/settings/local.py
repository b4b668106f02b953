"""The embedded demo: ``make run``. Debug on, the console SMS code shown on the page."""

from .base import *  # noqa: F403
from .base import env

DEBUG = env.bool("DEBUG", default=True)
SCRM_SMS_SHOW_IN_PAGE = env.bool("SCRM_SMS_SHOW_IN_PAGE", default=True)
# The demo's mails (password resets) are printed in the terminal: a reset works end to end.
SCRM_EMAIL_CONFIGURED = True
