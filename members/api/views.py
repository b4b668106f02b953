from __future__ import annotations

from django.shortcuts import get_object_or_404
from django.utils.translation import gettext as _
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import serializers, status
from rest_framework.pagination import PageNumberPagination
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from accounts.api.permissions import key_store
from accounts.models import AuditEntry, Store
from accounts.phones import InvalidPhone, normalize_phone
from members.models import ConsentRecord, Member
from members.selectors import member_card
from members.services import member_enrol, member_update
from members.services.profiles import consent_set
from scrm.exceptions import ApplicationError


class MemberOutputSerializer(serializers.ModelSerializer):
    store: serializers.SlugRelatedField = serializers.SlugRelatedField(
        slug_field="code", read_only=True
    )

    class Meta:
        model = Member
        fields = ["code", "phone", "name", "store", "channel", "joined_at"]


def _check_consent(value: dict) -> dict:
    unknown = sorted(set(value) - set(Member.CONSENT_CHANNELS))
    if unknown:
        raise serializers.ValidationError(
            _("Unknown channel: %(names)s. Use sms, email, wecom or portal.")
            % {"names": ", ".join(unknown)}
        )
    return value


class MemberListCreateApi(APIView):
    class MemberEnrolInput(serializers.Serializer):
        phone = serializers.CharField(max_length=32)
        name = serializers.CharField(max_length=100, required=False, allow_blank=True, default="")
        store = serializers.CharField(max_length=16, required=False, allow_null=True, default=None)
        channel = serializers.ChoiceField(
            choices=Member.Channel.choices, default=Member.Channel.STORE
        )
        email = serializers.EmailField(required=False, allow_blank=True, default="")
        birthday = serializers.DateField(required=False, allow_null=True, default=None)
        referral_code = serializers.CharField(
            max_length=32, required=False, allow_blank=True, default=""
        )
        consent = serializers.DictField(
            child=serializers.BooleanField(), required=False, default=dict
        )

        def validate_consent(self, value: dict) -> dict:
            return _check_consent(value)

    @extend_schema(
        parameters=[
            OpenApiParameter("phone", str, description="Find by phone (any common format)")
        ],
        responses=MemberOutputSerializer(many=True),
    )
    def get(self, request: Request) -> Response:
        qs = Member.objects.select_related("store").order_by("id")
        phone = request.query_params.get("phone")
        if phone is not None:
            try:
                qs = qs.filter(phone=normalize_phone(phone))
            except InvalidPhone as exc:
                raise ApplicationError(str(exc), fields={"phone": [str(exc)]}) from exc
        paginator = PageNumberPagination()
        page = paginator.paginate_queryset(qs, request, view=self)
        return paginator.get_paginated_response(MemberOutputSerializer(page, many=True).data)

    @extend_schema(
        request=MemberEnrolInput,
        responses={201: MemberOutputSerializer, 200: MemberOutputSerializer},
    )
    def post(self, request: Request) -> Response:
        data = self.MemberEnrolInput(data=request.data)
        data.is_valid(raise_exception=True)
        scoped = key_store(request)
        store_code = data.validated_data["store"]
        store = None
        if store_code:
            store = Store.objects.filter(code=store_code, is_active=True).first()
            if store is None:
                raise ApplicationError(_("Unknown store."), fields={"store": [_("Unknown store.")]})
        if scoped is not None:
            if store is not None and store != scoped:
                raise ApplicationError(
                    _("This key is limited to store %(code)s.") % {"code": scoped.code},
                    code="permission_denied",
                    status_code=403,
                )
            store = scoped
        member, created = member_enrol(
            phone=data.validated_data["phone"],
            name=data.validated_data["name"],
            store=store,
            channel=data.validated_data["channel"],
            email=data.validated_data["email"],
            birthday=data.validated_data["birthday"],
            actor=request.user if request.user.is_authenticated else None,
            via=AuditEntry.Via.API,
        )
        if data.validated_data["consent"]:
            member = consent_set(
                member=member,
                consent=data.validated_data["consent"],
                source=ConsentRecord.Source.API,
                actor=request.user if request.user.is_authenticated else None,
            )
        return Response(
            member_card(member), status=status.HTTP_201_CREATED if created else status.HTTP_200_OK
        )


class MemberDetailApi(APIView):
    class MemberPatchInput(serializers.Serializer):
        name = serializers.CharField(max_length=100, required=False, allow_blank=True)
        email = serializers.EmailField(required=False, allow_blank=True)
        birthday = serializers.DateField(required=False, allow_null=True)
        consent = serializers.DictField(child=serializers.BooleanField(), required=False)
        frequency = serializers.ChoiceField(choices=Member.Frequency.choices, required=False)

        def validate_consent(self, value: dict) -> dict:
            return _check_consent(value)

    @extend_schema(responses={200: dict})
    def get(self, request: Request, code: str) -> Response:
        member = get_object_or_404(
            Member.objects.select_related("store", "tier"), code=code.upper()
        )
        return Response(member_card(member))

    @extend_schema(request=MemberPatchInput, responses={200: dict})
    def patch(self, request: Request, code: str) -> Response:
        member = get_object_or_404(
            Member.objects.select_related("store", "tier"), code=code.upper()
        )
        data = self.MemberPatchInput(data=request.data, partial=True)
        data.is_valid(raise_exception=True)
        fields = dict(data.validated_data)
        consent, frequency = fields.pop("consent", None), fields.pop("frequency", None)
        if consent or frequency:
            member = consent_set(
                member=member,
                consent=consent or {},
                frequency=frequency,
                source=ConsentRecord.Source.API,
                actor=request.user if request.user.is_authenticated else None,
            )
        member = member_update(
            member=member,
            data=fields,
            actor=request.user if request.user.is_authenticated else None,
            via=AuditEntry.Via.API,
        )
        return Response(member_card(member))
