from django.conf import settings
from django.utils.translation import gettext_lazy as _
from rest_framework import exceptions
from rest_framework.parsers import JSONParser


class PayloadTooLarge(exceptions.APIException):
    status_code = 413
    default_code = "too_large"
    default_detail = _("The request body is too large.")


class BodyRefused(exceptions.ValidationError):
    """A body that parses but cannot be stored (a NUL byte), or nests too deep to parse."""


class LimitedJSONParser(JSONParser):
    """JSON only: refused with 413 before reading when the body is over the limit, with 400 when
    it nests deeper than Python's parser goes (it raised RecursionError: a 500) or holds a NUL
    byte (PostgreSQL cannot store one)."""

    def parse(self, stream, media_type=None, parser_context=None):
        request = (parser_context or {}).get("request")
        length = request.META.get("CONTENT_LENGTH") if request is not None else None
        try:
            too_big = int(length or 0) > settings.SCRM_API_MAX_BODY_BYTES
        except ValueError:
            too_big = False
        if too_big:
            raise PayloadTooLarge()
        try:
            data = super().parse(stream, media_type, parser_context)
        except RecursionError as exc:
            raise exceptions.ParseError(_("The JSON nests too deeply.")) from exc
        from scrm.middleware import json_has_nul

        field = json_has_nul(data)
        if field is not None:
            raise BodyRefused({field: [_("This field contains a character that is not allowed.")]})
        return data
