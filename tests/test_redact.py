"""`mask_url`: credentials masked, everything else as given."""

from __future__ import annotations

import pytest

from costmodel._redact import mask_url


@pytest.mark.parametrize("url", ["sqlite:///spend.db", "sqlite:////var/lib/spend.db",
                                 "redis://ledger:6379/0", "memory://", "file:///x.db"])
def test_a_url_without_credentials_is_shown_as_given(url):
    # (urlunsplit alone turns "sqlite:///spend.db" into "sqlite:/spend.db")
    assert mask_url(url) == url


def test_userinfo_and_credential_query_values_are_masked():
    assert mask_url("redis://u:secret@h:6379/0") == "redis://***@h:6379/0"
    assert mask_url("/v1/realtime?key=sk-1&model=m") == "/v1/realtime?key=***&model=m"
