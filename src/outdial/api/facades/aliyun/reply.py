"""Replies in Alibaba's envelope: JSON, or XML when the request says ``Format=XML``."""

from __future__ import annotations

from typing import Any
from xml.etree.ElementTree import Element, SubElement, tostring

from fastapi.responses import JSONResponse, Response

from outdial.api.facades.aliyun.errors import AliyunError

HOST_ID = "outdial"
XML_MEDIA = "text/xml;charset=utf-8"  # the SDK reads an XML error only with this exact type


def success(action: str, payload: dict[str, Any], request_id: str, xml: bool) -> Response:
    body = {
        "RequestId": request_id,
        "Code": "OK",
        "Message": "Success",
        "HttpStatusCode": 200,
        "Success": True,
        **payload,
    }
    if xml:
        return Response(to_xml(f"{action}Response", body), media_type=XML_MEDIA)
    return JSONResponse(body)


def failure(error: AliyunError, request_id: str, xml: bool) -> Response:
    body = {
        "RequestId": request_id,
        "HostId": HOST_ID,
        "Code": error.code,
        "Message": error.message,
        "HttpStatusCode": error.status,
        "Success": False,
    }
    if xml:
        return Response(to_xml("Error", body), status_code=error.status, media_type=XML_MEDIA)
    return JSONResponse(body, status_code=error.status)


def to_xml(root: str, body: dict[str, Any]) -> bytes:
    """Alibaba's XML: one element per key, a list as the key repeated (seed 000's
    ``<WorkingTime>`` twice), booleans as true/false."""
    element = Element(root)
    for key, value in body.items():
        _add(element, key, value)
    text: bytes = tostring(element, encoding="utf-8", xml_declaration=True)
    return text


def _add(parent: Element, key: str, value: Any) -> None:
    if isinstance(value, list):
        for item in value:
            _add(parent, key, item)
        return
    child = SubElement(parent, key)
    if isinstance(value, dict):
        for k, v in value.items():
            _add(child, k, v)
    elif isinstance(value, bool):
        child.text = "true" if value else "false"
    elif value is not None:
        child.text = str(value)
