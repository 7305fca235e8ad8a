"""AWS secrets never reach a log line: the redaction filter masks them (issue 15's consumer).

botocore logs request headers and credentials at DEBUG, and a setup error can repeat a key; these
are the shapes AWS credentials take in such lines.
"""

from __future__ import annotations

import pytest

from core.app.redact import redact

SECRET = "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY"
TOKEN = "IQoJb3JpZ2luX2VjEJr//////////wEaCXVzLWVhc3QtMSJHMEUCIQ"
SIGNATURE = "fe5f80f77d5fa3beca038a248ff027d0445342fe2855ddc963176630326f1024"
AUTH = (
    "AWS4-HMAC-SHA256 Credential=AKIAIOSFODNN7EXAMPLE/20261205/us-east-1/sqs/aws4_request, "
    f"SignedHeaders=host;x-amz-date, Signature={SIGNATURE}"
)


@pytest.mark.parametrize(
    "line",
    [
        f"aws_secret_access_key={SECRET}",
        f"AWS_SECRET_ACCESS_KEY={SECRET} AWS_SESSION_TOKEN={TOKEN}",
        f"{{'aws_secret_access_key': '{SECRET}', 'aws_session_token': '{TOKEN}'}}",
        f'{{"aws_secret_access_key": "{SECRET}"}}',
        f"Credentials(access_key='AKIAIOSFODNN7EXAMPLE', secret_key='{SECRET}', token='{TOKEN}')",
        f"X-Amz-Security-Token: {TOKEN}",
        f"headers={{'X-Amz-Security-Token': '{TOKEN}', 'Authorization': b'{AUTH}'}}",
        f"Authorization: {AUTH}",
        f"https://sqs.us-east-1.amazonaws.com/?X-Amz-Signature={SIGNATURE}&X-Amz-Security-Token={TOKEN}",
        f"StringToSign ...\nSignature: {SIGNATURE}",
    ],
)
def test_aws_secrets_are_masked(line: str) -> None:
    cleaned = redact(line)
    for secret in (SECRET, TOKEN, SIGNATURE):
        assert secret not in cleaned, cleaned
    assert redact(cleaned) == cleaned


def test_plain_words_about_aws_stay_readable() -> None:
    line = "EventBridge queue unreachable: retrying in 8 s (region us-east-1, key id AKIA...)"
    assert redact(line) == line
