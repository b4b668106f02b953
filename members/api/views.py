from __future__ import annotations

from django.db import transaction
from django.http import Http404
from django.utils.translation import gettext as _
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import serializers, status
from rest_framework.pagination import PageNumberPagination
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from accounts.access import Actor, actor_of
from accounts.api.permissions import key_store
from accounts.models import AuditEntry, Store
from accounts.phones import InvalidPhone, normalize_phone
from members.api.schema import PAGE, MemberCardOut, paginated
from members.api.serializers import PHONE_PATTERN, ConsentField, PhoneField
from members.models import ConsentRecord, Member
from members.selectors import member_card
from members.selectors.scope import card_for, in_scope, member_to_serve, members_browsable
from members.services import member_enrol, member_update
from members.services.members import member_details_problems
from members.services.profiles import consent_set
from scrm.exceptions import ApplicationError


def member_served(actor: Actor, code: str) -> Member:
    """The member a code names, for serving (any store of the brand); 404 when there is none."""
    member = member_to_serve(actor, code=code)
    if member is None:
        raise Http404
    return member


def member_in_scope(actor: Actor, code: str) -> Member:
    """The member a code names, to browse or change: the actor's stores' only (403 otherwise)."""
    member = member_served(actor, code)
    if not in_scope(actor, member):
        raise ApplicationError(
            _("This member belongs to another store: this key can only serve them there."),
            code="permission_denied",
            status_code=403,
        )
    return member


def _masked_row(actor: Actor, member: Member, row: dict) -> dict:
    if in_scope(actor, member):
        return row
    from scrm.masking import mask_name, mask_phone

    return {**row, "phone": mask_phone(row["phone"]), "name": mask_name(row["name"])}


class MemberOutputSerializer(serializers.ModelSerializer):
    store: serializers.SlugRelatedField = serializers.SlugRelatedField(
        slug_field="code", read_only=True
    )

    class Meta:
        model = Member
        fields = ["code", "phone", "name", "store", "channel", "joined_at"]


class MemberListCreateApi(APIView):
    class MemberEnrolInput(serializers.Serializer):
        phone = PhoneField(max_length=32)
        name = serializers.CharField(max_length=100, required=False, allow_blank=True, default="")
        store = serializers.CharField(
            max_length=16, min_length=1, required=False, allow_null=True, default=None
        )
        channel = serializers.ChoiceField(
            choices=Member.Channel.choices, default=Member.Channel.STORE
        )
        email = serializers.EmailField(required=False, allow_blank=True, default="")
        birthday = serializers.DateField(required=False, allow_null=True, default=None)
        referral_code = serializers.CharField(
            max_length=32, required=False, allow_blank=True, default=""
        )
        consent = ConsentField(required=False, default=dict)

    @extend_schema(
        operation_id="members_list",
        parameters=[
            OpenApiParameter(
                "phone",
                {"type": "string", "pattern": PHONE_PATTERN},
                description="Find by phone (any common format).",
            ),
            PAGE,
        ],
        responses=paginated(MemberOutputSerializer, "PaginatedMemberList"),
    )
    def get(self, request: Request) -> Response:
        actor = actor_of(request)
        phone = request.query_params.get("phone")
        paginator = PageNumberPagination()
        if phone is not None:
            # An exact number finds the member whichever store enrolled them (the chain rule).
            try:
                normalize_phone(phone)
            except InvalidPhone as exc:
                raise ApplicationError(str(exc), fields={"phone": [str(exc)]}) from exc
            found = member_to_serve(actor, phone=phone)
            page = paginator.paginate_queryset([found] if found else [], request, view=self)
        else:
            page = paginator.paginate_queryset(
                members_browsable(actor).order_by("id"), request, view=self
            )
        rows = [_masked_row(actor, m, MemberOutputSerializer(m).data) for m in page or []]
        return paginator.get_paginated_response(rows)

    @extend_schema(
        request=MemberEnrolInput,
        responses={201: MemberCardOut, 200: MemberCardOut},
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
            card_for(actor_of(request), member, member_card(member)),
            status=status.HTTP_201_CREATED if created else status.HTTP_200_OK,
        )


class MemberDetailApi(APIView):
    class MemberPatchInput(serializers.Serializer):
        name = serializers.CharField(max_length=100, required=False, allow_blank=True)
        email = serializers.EmailField(required=False, allow_blank=True)
        birthday = serializers.DateField(required=False, allow_null=True)
        consent = ConsentField(required=False)
        frequency = serializers.ChoiceField(choices=Member.Frequency.choices, required=False)

    @extend_schema(responses={200: MemberCardOut})
    def get(self, request: Request, code: str) -> Response:
        actor = actor_of(request)
        member = member_served(actor, code)
        return Response(card_for(actor, member, member_card(member)))

    @extend_schema(request=MemberPatchInput, responses={200: MemberCardOut})
    def patch(self, request: Request, code: str) -> Response:
        member = member_in_scope(actor_of(request), code)
        data = self.MemberPatchInput(data=request.data, partial=True)
        data.is_valid(raise_exception=True)
        fields = dict(data.validated_data)
        consent, frequency = fields.pop("consent", None), fields.pop("frequency", None)
        problems = member_details_problems(fields, current_name=member.name)
        if problems:  # before anything is written: a refused PATCH changes nothing
            raise ApplicationError(_("Some fields are not valid."), fields=problems)
        with transaction.atomic():
            return self._patch(request, member, fields, consent, frequency)

    def _patch(self, request: Request, member: Member, fields, consent, frequency) -> Response:
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
