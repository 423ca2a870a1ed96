"""The facade's signature checks reproduce the official SDKs' signatures: the captured
requests of vendor-apis.md §1.9 (credentials testAkId / testAkSecret)."""

from __future__ import annotations

from outdial.api.facades.aliyun.params import Params, form_pairs
from outdial.api.facades.aliyun.reply import to_xml
from outdial.api.facades.aliyun.signature import (
    EMPTY_SHA256,
    acs3_signature,
    acs3_string_to_sign,
    parse_acs3,
    v1_signature,
    v1_string_to_sign,
)

ACS3_QUERY = (
    "CallingNumber.1=95187&CallingNumber.2=057100000000&InstanceId=174952ab-9825-4cc9-a5e2-"
    "de82d7fa4cdd&JobGroupDescription=%E6%8F%8F%E8%BF%B0&JobGroupName=%E7%AC%AC%E4%B8%80%E4%B8"
    "%AA%E4%BD%9C%E4%B8%9A%E7%BB%84+a%2Bb&ScriptId=63cc3b45-feb2-4676-a7d7-f717001fa1e1&Strategy"
    "Json=%7B%22maxAttemptsPerDay%22%3A2%2C%22name%22%3A%22%E7%AD%96%E7%95%A5%E5%90%8D%E5%AD%97"
    "%22%2C%22startTime%22%3A1631503815256%2C%22endTime%22%3A1631521815256%2C%22minAttemptInterva"
    "l%22%3A60%2C%22workingTime%22%3A%5B%7B%22beginTime%22%3A%2209%3A00%3A00%22%2C%22endTime%22%3"
    "A%2212%3A00%3A00%22%7D%2C%7B%22beginTime%22%3A%2213%3A00%3A00%22%2C%22endTime%22%3A%2218%3A3"
    "0%3A00%22%7D%5D%7D"
)
ACS3_HEADERS = {
    "host": ["127.0.0.1:38159"],
    "x-acs-version": ["2019-12-26"],
    "x-acs-action": ["CreateJobGroup"],
    "user-agent": ["AlibabaCloud (Linux; x86_64) Python/3.11.7 Core/0.4.3 TeaDSL/2"],
    "x-acs-date": ["2026-11-23T04:39:42Z"],
    "x-acs-signature-nonce": ["7b939d7f27a259adf4bc29c3698159b3"],
    "accept": ["application/json"],
    "x-acs-content-sha256": [EMPTY_SHA256],
    "x-acs-credentials-provider": ["static_ak"],
}
ACS3_AUTHORIZATION = (
    "ACS3-HMAC-SHA256 Credential=testAkId,SignedHeaders=accept;host;user-agent;x-acs-action;"
    "x-acs-content-sha256;x-acs-credentials-provider;x-acs-date;x-acs-signature-nonce;"
    "x-acs-version,Signature=46e4fefb269b8ba61dbd915d848591af34286aa0b00d8282324b6c3e96d2868b"
)

V1_QUERY = (
    "InstanceId=174952ab-9825-4cc9-a5e2-de82d7fa4cdd&JobGroupName=%E7%AC%AC%E4%B8%80%E4%B8%AA%E4"
    "%BD%9C%E4%B8%9A%E7%BB%84%20a%2Bb&ScriptId=63cc3b45-feb2-4676-a7d7-f717001fa1e1&CallingNumber"
    ".1=95187&CallingNumber.2=057100000000&StrategyJson=%7B%22maxAttemptsPerDay%22%3A2%2C%22minAt"
    "temptInterval%22%3A60%2C%22workingTime%22%3A%5B%7B%22beginTime%22%3A%2209%3A00%3A00%22%2C%22"
    "endTime%22%3A%2212%3A00%3A00%22%7D%5D%7D&Version=2019-12-26&Action=CreateJobGroup&Format=JSO"
    "N&RegionId=cn-shanghai&Timestamp=2026-11-23T04%3A40%3A20Z&SignatureMethod=HMAC-SHA1&Signatur"
    "eType=&SignatureVersion=1.0&SignatureNonce=98c4ada103903e492cc079d4f73f7563&AccessKeyId=test"
    "AkId&Signature=WPev0GgUkaaoxxyuKA5hw5kbbGA%3D"
)


def acs3(secret: str, query: str = ACS3_QUERY) -> str:
    auth = parse_acs3(ACS3_AUTHORIZATION)
    to_sign = acs3_string_to_sign("POST", query, ACS3_HEADERS, auth.signed_headers, EMPTY_SHA256)
    return acs3_signature(secret, to_sign)


def test_acs3_signature_of_the_current_sdk() -> None:
    auth = parse_acs3(ACS3_AUTHORIZATION)
    assert auth.access_key_id == "testAkId"
    assert acs3("testAkSecret") == auth.signature


def test_acs3_signature_changes_with_the_secret_and_the_query() -> None:
    expected = parse_acs3(ACS3_AUTHORIZATION).signature
    assert acs3("other") != expected
    assert acs3("testAkSecret", ACS3_QUERY.replace("95187", "95188")) != expected


def test_v1_signature_of_the_legacy_sdk_keeps_the_empty_signature_type() -> None:
    pairs = form_pairs(V1_QUERY)
    assert ("SignatureType", "") in pairs
    post, get = v1_string_to_sign("POST", pairs), v1_string_to_sign("GET", pairs)
    assert v1_signature("testAkSecret", post) == "WPev0GgUkaaoxxyuKA5hw5kbbGA="
    assert v1_signature("testAkSecret", get) != "WPev0GgUkaaoxxyuKA5hw5kbbGA="


def test_a_plus_is_a_space_and_percent_2b_a_plus() -> None:
    assert Params(form_pairs(ACS3_QUERY)).text("JobGroupName") == "第一个作业组 a+b"


def test_the_three_list_syntaxes_read_alike() -> None:
    indexed = Params([("CallingNumber.2", "0571"), ("CallingNumber.1", "95187")])
    as_json = Params([("CallingNumber", '["95187", "0571"]')])
    plural = Params([("CallingNumbers", '["95187", "0571"]')])
    for params in (indexed, as_json, plural):
        assert params.strings("CallingNumber") == ["95187", "0571"]
    assert Params([]).strings("CallingNumber") is None


def test_booleans_arrive_as_python_str() -> None:
    params = Params([("All", "False"), ("WithScript", "True")])
    assert params.boolean("All") is False
    assert params.boolean("WithScript") is True


def test_xml_repeats_list_items_under_their_key() -> None:
    xml = to_xml("R", {"A": [{"B": 1}, {"B": 2}], "N": ["95187"], "Ok": True}).decode()
    assert "<A><B>1</B></A><A><B>2</B></A>" in xml
    assert "<N>95187</N>" in xml and "<Ok>true</Ok>" in xml
