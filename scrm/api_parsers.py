from django.conf import settings
from django.utils.translation import gettext_lazy as _
from rest_framework import exceptions
from rest_framework.parsers import JSONParser


class PayloadTooLarge(exceptions.APIException):
    status_code = 413
    default_code = "too_large"
    default_detail = _("The request body is too large.")


class LimitedJSONParser(JSONParser):
    """JSON only, refused with 413 before reading when the body is over the limit."""

    def parse(self, stream, media_type=None, parser_context=None):
        request = (parser_context or {}).get("request")
        length = request.META.get("CONTENT_LENGTH") if request is not None else None
        try:
            too_big = int(length or 0) > settings.SCRM_API_MAX_BODY_BYTES
        except ValueError:
            too_big = False
        if too_big:
            raise PayloadTooLarge()
        return super().parse(stream, media_type, parser_context)
