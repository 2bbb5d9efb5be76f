"""A real SMTP server on loopback for the tests (Python's standard smtpd): stores every
message it accepts as NNNN.eml in a directory, and prints its port on stdout.

    python3 smtp_sink.py OUT_DIR [--fail-first N] [--reject]

--fail-first N answers the first N messages with 451 (try again later); --reject answers
every message with 550 (mailbox unavailable).
"""
import os
import sys
import warnings

warnings.filterwarnings("ignore", category=DeprecationWarning)
import asyncore  # noqa: E402
import smtpd  # noqa: E402

out = sys.argv[1]
fail_first = int(sys.argv[sys.argv.index("--fail-first") + 1]) if "--fail-first" in sys.argv else 0
reject = "--reject" in sys.argv


class Sink(smtpd.SMTPServer):
    seen = 0
    stored = 0

    def process_message(self, peer, mailfrom, rcpttos, data, **kwargs):
        Sink.seen += 1
        if reject:
            return "550 5.1.1 mailbox unavailable"
        if Sink.seen <= fail_first:
            return "451 4.3.0 try again later"
        Sink.stored += 1
        path = os.path.join(out, "%04d.eml" % Sink.stored)
        with open(path + ".tmp", "wb") as f:
            f.write(data)
        os.rename(path + ".tmp", path)
        return None


server = Sink(("127.0.0.1", 0), None, decode_data=False)
print(server.socket.getsockname()[1], flush=True)
asyncore.loop(timeout=0.05)
