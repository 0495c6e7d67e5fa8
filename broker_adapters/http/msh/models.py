"""The request and response bodies of NHN's MSH API v2, as its OpenAPI description names them.

Field names, required fields, nullability and enums follow the description
(``../shared/nhn/msh-api-v2.json``) so that the served OpenAPI has the same
schemas and existing clients read the answers unchanged. Unknown fields are
refused (``additionalProperties: false`` there too).
"""

from datetime import datetime
from enum import StrEnum
from typing import Annotated
from uuid import UUID

from pydantic import BaseModel, ConfigDict, Field

from schemas.vocabulary import AppRecStatus as AppRecCode


class _Body(BaseModel):
    model_config = ConfigDict(extra="forbid")


class AppRecStatus(StrEnum):
    """Application receipt status (kodeverk 8258 by name)."""

    OK = "Ok"
    REJECTED = "Rejected"
    OK_ERROR_IN_MESSAGE_PART = "OkErrorInMessagePart"

    @property
    def code(self) -> AppRecCode:
        """The kodeverk 8258 code the AppRec document carries."""
        return _CODES[self]

    @classmethod
    def of(cls, code: AppRecCode) -> "AppRecStatus":
        """The API name of a kodeverk 8258 code."""
        return _NAMES[code]


_CODES = {
    AppRecStatus.OK: AppRecCode.OK,
    AppRecStatus.REJECTED: AppRecCode.REJECTED,
    AppRecStatus.OK_ERROR_IN_MESSAGE_PART: AppRecCode.OK_ERROR_IN_MESSAGE_PART,
}
_NAMES = {code: name for name, code in _CODES.items()}


class DeliveryState(StrEnum):
    """Transport state of a message for one receiver."""

    UNCONFIRMED = "Unconfirmed"
    """Routed, not yet taken by the receiver's endpoint."""
    ACKNOWLEDGED = "Acknowledged"
    """The receiver's endpoint took it (queue confirm, webhook 2xx, stored in the mailbox)."""
    REJECTED = "Rejected"
    """The hub rejected the message, or gave up delivering it."""


class OrderBy(StrEnum):
    """How to order a listing."""

    ASCENDING = "Ascending"
    DESCENDING = "Descending"


class AppRecError(_Body):
    """Information about an error in the application receipt."""

    error_code: str | None = Field(
        alias="errorCode", description="Application receipt error code (kodeverk 8221)."
    )
    details: str | None = Field(description="Details about the error.")
    description: str | None = None
    oid: str | None = None


class EbXmlInfo(_Body):
    """ebXML overrides; accepted for compatibility, not used (the hub does not speak ebXML)."""

    cpa_id: str | None = Field(default=None, alias="cpaId")
    conversation_id: str | None = Field(default=None, alias="conversationId")
    service: str | None = None
    service_type: str | None = Field(default=None, alias="serviceType")
    action: str | None = None
    sender_role: str | None = Field(default=None, alias="senderRole")
    use_sender_level1_her_id: bool | None = Field(default=None, alias="useSenderLevel1HerId")
    receiver_role: str | None = Field(default=None, alias="receiverRole")
    application_name: str | None = Field(default=None, alias="applicationName")
    application_version: str | None = Field(default=None, alias="applicationVersion")
    middleware_name: str | None = Field(default=None, alias="middlewareName")
    middleware_version: str | None = Field(default=None, alias="middlewareVersion")
    compress_payload: bool | None = Field(default=None, alias="compressPayload")


class PostMessageRequest(_Body):
    """Business document (payload) and metadata for POST on Messages."""

    business_document: Annotated[str, Field(min_length=1)] = Field(
        alias="businessDocument", description="The XML document, base64-encoded."
    )
    content_type: Annotated[str, Field(min_length=1)] = Field(
        alias="contentType", description="application/xml."
    )
    content_transfer_encoding: Annotated[str, Field(min_length=1)] = Field(
        alias="contentTransferEncoding", description="base64."
    )
    eb_xml_overrides: EbXmlInfo | None = Field(default=None, alias="ebXmlOverrides")
    receiver_her_ids_subset: list[int] | None = Field(
        default=None,
        alias="receiverHerIdsSubset",
        description="Not supported: the hub routes to every receiver the document names.",
    )


class PostAppRecRequest(_Body):
    """Information about the application receipt."""

    app_rec_status: AppRecStatus = Field(alias="appRecStatus")
    app_rec_error_list: list[AppRecError] | None = Field(
        default=None, alias="appRecErrorList", description="Required when Rejected."
    )
    eb_xml_overrides: EbXmlInfo | None = Field(default=None, alias="ebXmlOverrides")


class Message(BaseModel):
    """A received message (without its document); metadata only with ``IncludeMetadata``."""

    model_config = ConfigDict(populate_by_name=True)

    id: UUID | None = Field(default=None, description="The message id for /Messages/{id}/*.")
    content_type: str | None = Field(default=None, alias="contentType")
    receiver_her_id: int | None = Field(default=None, alias="receiverHerId")
    sender_her_id: int | None = Field(default=None, alias="senderHerId")
    business_document_id: str | None = Field(default=None, alias="businessDocumentId")
    business_document_gen_date: datetime | None = Field(
        default=None, alias="businessDocumentGenDate"
    )
    is_app_rec: bool | None = Field(default=None, alias="isAppRec")


class GetBusinessDocumentResponse(BaseModel):
    """The business document of a message."""

    model_config = ConfigDict(populate_by_name=True)

    business_document: str = Field(alias="businessDocument", min_length=1)
    content_type: str = Field(alias="contentType", min_length=1)
    content_transfer_encoding: str = Field(alias="contentTransferEncoding", min_length=1)


class StatusInfo(BaseModel):
    """Status of a sent message for one receiver or copy receiver."""

    model_config = ConfigDict(populate_by_name=True)

    receiver_her_id: int = Field(alias="receiverHerId")
    transport_delivery_state: DeliveryState = Field(alias="transportDeliveryState")
    app_rec_status: AppRecStatus | None = Field(default=None, alias="appRecStatus")


class ApprecInfo(BaseModel):
    """The AppRec of one receiver or copy receiver, if any."""

    model_config = ConfigDict(populate_by_name=True)

    receiver_her_id: int = Field(alias="receiverHerId")
    app_rec_status: AppRecStatus | None = Field(default=None, alias="appRecStatus")
    app_rec_error_list: list[AppRecError] | None = Field(default=None, alias="appRecErrorList")


class ErrorMessage(BaseModel):
    """Information about an error that has occurred while processing a request."""

    model_config = ConfigDict(populate_by_name=True)

    error: str | None = None
    error_code: int = Field(default=0, alias="errorCode")
    validation_errors: list[str] | None = Field(default=None, alias="validationErrors")
    stack_trace: str | None = Field(default=None, alias="stackTrace")
    request_id: str = Field(alias="requestId")
