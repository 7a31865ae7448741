"""One-time codes (TOTP, RFC 6238): the RFC's own test vectors, the drift window, no replay."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from joinedup.web import mfa

RFC_SECRET = "GEZDGNBVGY3TQOJQGEZDGNBVGY3TQOJQ"  # base32 of the RFC's ASCII "12345678901234567890"


@pytest.mark.parametrize(
    ("unix_time", "eight_digits"),
    [
        (59, "94287082"),
        (1111111109, "07081804"),
        (1234567890, "89005924"),
        (2000000000, "69279037"),
    ],
)
def test_the_rfc_6238_vectors(unix_time: int, eight_digits: str) -> None:
    step = mfa.step_at(datetime.fromtimestamp(unix_time, UTC))
    assert mfa.code_for(RFC_SECRET, step, digits=8) == eight_digits
    assert mfa.code_for(RFC_SECRET, step) == eight_digits[-6:]


def test_a_code_is_good_for_its_step_and_one_either_side_and_only_once() -> None:
    secret = mfa.new_secret()
    assert len(secret) == 32  # 160 bits
    now = datetime(2026, 9, 1, 9, 0, 10, tzinfo=UTC)
    step = mfa.step_at(now)
    code = mfa.code_for(secret, step)
    assert mfa.matching_step(secret, code, now, None) == step
    assert mfa.matching_step(secret, f"{code[:3]} {code[3:]}", now, None) == step  # as shown
    assert mfa.matching_step(secret, mfa.code_for(secret, step - 1), now, None) == step - 1
    assert mfa.matching_step(secret, mfa.code_for(secret, step + 1), now, None) == step + 1
    assert mfa.matching_step(secret, mfa.code_for(secret, step - 2), now, None) is None
    later = now + timedelta(minutes=2)
    assert mfa.matching_step(secret, code, later, None) is None  # expired
    assert mfa.matching_step(secret, code, now, step) is None  # already used: no replay
    assert mfa.matching_step(secret, mfa.code_for(secret, step - 1), now, step) is None
    for bad in ("", "12345", "1234567", "abcdef"):
        assert mfa.matching_step(secret, bad, now, None) is None


def test_the_provisioning_uri_is_what_authenticator_apps_read() -> None:
    uri = mfa.provisioning_uri("ABCDEFGH", account="jsmith", issuer="joinedup Test District")
    assert uri == (
        "otpauth://totp/joinedup%20Test%20District:jsmith?secret=ABCDEFGH"
        "&issuer=joinedup%20Test%20District&algorithm=SHA1&digits=6&period=30"
    )
