"""Request bodies schemathesis cannot make from the OpenAPI document by itself."""
from hypothesis import strategies as st
import schemathesis

# The mail intake takes a raw message (RFC 5322): a sender, a subject and a text, in any
# script, with German and English words among the generated ones.
_word = st.one_of(
    st.sampled_from(["Passwort", "vergessen", "Drucker", "password", "reset", "Grüße", "Größe"]),
    st.text(st.characters(codec="utf-8", categories=["L", "N"]), min_size=1, max_size=12),
)
_text = st.lists(_word, min_size=1, max_size=30).map(" ".join)
_local = st.from_regex(r"\A[a-z][a-z0-9.]{0,15}\Z")
_domain = st.sampled_from(["alpen-logistik.example", "example.com", "lkh-nord.example"])


def _mail(local, domain, subject, body, message_id):
    return (
        f"From: {local}@{domain}\r\n"
        "To: helpdesk@example.com\r\n"
        f"Subject: =?utf-8?b?{__import__('base64').b64encode(subject.encode()).decode()}?=\r\n"
        f"Message-ID: <{message_id}@{domain}>\r\n"
        "MIME-Version: 1.0\r\n"
        "Content-Type: text/plain; charset=utf-8\r\n"
        "Content-Transfer-Encoding: 8bit\r\n"
        "\r\n"
        f"{body}\r\n"
    ).encode()


schemathesis.openapi.media_type(
    "message/rfc822",
    st.builds(_mail, _local, _domain, _text, _text, st.uuids().map(str)),
)
