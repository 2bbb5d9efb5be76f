"""A real SMTP server on loopback for the tests (Python's standard smtpd up to 3.11, else
aiosmtpd): stores every message it accepts as NNNN.eml in a directory, and prints its port
on stdout.

    python3 smtp_sink.py OUT_DIR [--fail-first N] [--reject]

--fail-first N answers the first N messages with 451 (try again later); --reject answers
every message with 550 (mailbox unavailable).
"""
import os
import sys
import warnings

warnings.filterwarnings("ignore", category=DeprecationWarning)

out = sys.argv[1]
fail_first = int(sys.argv[sys.argv.index("--fail-first") + 1]) if "--fail-first" in sys.argv else 0
reject = "--reject" in sys.argv
seen = 0
stored = 0


def defects(data):
    """What a strict reader finds wrong with a message (RFC 5322 and MIME), or None."""
    import email
    import email.policy

    try:
        msg = email.message_from_bytes(data, policy=email.policy.strict)
        for part in msg.walk():
            if not part.is_multipart():
                part.get_content()
    except Exception as e:  # the strict policy raises on the first defect
        return "%s: %s" % (type(e).__name__, e)
    if msg.get("MIME-Version") != "1.0":
        return "no MIME-Version: 1.0"
    return None


def accept(data):
    """The SMTP answer to a message: None (250) or an error line. Every message is read
    strictly first: one a strict reader finds fault with is refused (554), so the test that
    sent it fails."""
    global seen, stored
    seen += 1
    wrong = defects(data)
    if wrong:
        return "554 5.6.0 malformed message: %s" % wrong.replace("\n", " ")
    if reject:
        return "550 5.1.1 mailbox unavailable"
    if seen <= fail_first:
        return "451 4.3.0 try again later"
    stored += 1
    path = os.path.join(out, "%04d.eml" % stored)
    with open(path + ".tmp", "wb") as f:
        f.write(data)
    os.rename(path + ".tmp", path)
    return None


try:
    import asyncore
    import smtpd

    class Sink(smtpd.SMTPServer):
        def process_message(self, peer, mailfrom, rcpttos, data, **kwargs):
            return accept(data)

    server = Sink(("127.0.0.1", 0), None, decode_data=False)
    print(server.socket.getsockname()[1], flush=True)
    asyncore.loop(timeout=0.05)
except ImportError:
    import socket
    import time

    from aiosmtpd.controller import Controller

    class Handler:
        async def handle_DATA(self, server, session, envelope):
            return accept(envelope.original_content or envelope.content) or "250 OK"

    probe = socket.socket()
    probe.bind(("127.0.0.1", 0))
    port = probe.getsockname()[1]
    probe.close()
    controller = Controller(Handler(), hostname="127.0.0.1", port=port)
    controller.start()
    print(port, flush=True)
    while True:
        time.sleep(3600)
