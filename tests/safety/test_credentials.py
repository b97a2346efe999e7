"""No password of a URI ever shows in an error message or a repr, whatever characters it holds
(``@``, spaces, quotes, ``:``): ``redact`` cuts the userinfo up to the last ``@`` before the host."""

from __future__ import annotations

import string

import pytest
from hypothesis import assume, given, settings, strategies as st

from vecbridge.connectors.elasticsearch import ElasticsearchConfig, ElasticsearchConnector
from vecbridge.connectors.milvus import MilvusConnector
from vecbridge.schemas import ConfigurationError, Settings
from vecbridge.schemas.errors import redact

# Anything printable but the characters that end a URI's authority ('/', '?', '#'), which a
# password must percent-encode; '@', ':', spaces and quotes included.
PASSWORDS = st.text(alphabet=sorted(set(string.printable) - set("/?#\n\r\x0b\x0c")), min_size=1, max_size=24)
PROPERTY = settings(max_examples=100, deadline=None)


def _secret(password: str) -> str:
    return f"root:{password}"


@PROPERTY
@given(password=PASSWORDS, path=st.sampled_from(["", "/db", "/db?x=1"]))
def test_redact_removes_any_password(password, path):
    uri = f"http://root:{password}@127.0.0.1:19530{path}"
    assert redact(uri) == f"http://***@127.0.0.1:19530{path}"
    assert redact(f"cannot open {uri}: refused") == f"cannot open http://***@127.0.0.1:19530{path}: refused"
    assert redact(repr(uri)).endswith(f"***@127.0.0.1:19530{path}{repr(uri)[-1]}")


@PROPERTY
@given(password=PASSWORDS)
def test_settings_and_es_reprs_hide_any_password(password):
    assume(len(password.strip()) >= 6 and password not in "http://***@127.0.0.1:19530/db")
    # a password that is a substring of the reprs anyway (e.g. "simila" in ip_similarity) proves nothing
    safe = "http://root:x@127.0.0.1:9200"
    safe_config = ElasticsearchConfig(url=safe)
    assume(not any(password in t for t in (repr(Settings(uri=safe, es_url=safe)), repr(safe_config))))
    assume(password not in repr(ElasticsearchConnector(config=safe_config)))
    uri = f"http://root:{password}@127.0.0.1:19530/db"
    text = repr(Settings(uri=uri, es_url=uri))
    assert _secret(password) not in text and password not in text
    config = ElasticsearchConfig(url=f"http://root:{password}@127.0.0.1:9200")
    for shown in (repr(config), config.display_url, repr(ElasticsearchConnector(config=config))):
        assert password not in shown and "***@127.0.0.1:9200" in shown


@pytest.mark.parametrize("password", ["S3cr3t", "p@ss word", 'it\'s "x"', "a:b@c"])
def test_milvus_connector_errors_hide_the_password(password):
    with pytest.raises(ConfigurationError) as err:
        MilvusConnector(uri=f"http://root:{password}@127.0.0.1:19530/db")
    assert password not in str(err.value) and "***@127.0.0.1:19530" in str(err.value)


def test_redact_keeps_text_without_credentials():
    text = "Milvus at http://127.0.0.1:19530/db failed; mail admin@example.org"
    assert redact(text) == text
