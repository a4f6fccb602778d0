"""SMTP receiver for notify/ tests (Debian's python3-aiosmtpd).

Usage: _smtp_receiver.py starttls|tls PORT CERT KEY USER PASS
Prints {"ready": PORT}, then one JSON line per accepted message, until its
standard input closes.
"""
import email
import email.policy
import json
import ssl
import sys

from aiosmtpd.controller import Controller
from aiosmtpd.smtp import AuthResult, LoginPassword

mode, port, cert, key, user, pw = sys.argv[1:7]


class Handler:
    async def handle_DATA(self, server, session, envelope):
        msg = email.message_from_bytes(envelope.content, policy=email.policy.default)
        print(json.dumps({
            "subject": str(msg["subject"]),
            "message_id": str(msg["message-id"]),
            "text": msg.get_body(("plain",)).get_content(),
            "from": envelope.mail_from,
            "to": envelope.rcpt_tos,
            "data": envelope.content.decode("utf8", "replace"),
            "tls": server.transport.get_extra_info("ssl_object") is not None,
            "auth": bool(session.authenticated),
        }), flush=True)
        return "250 OK queued"


def authenticate(server, session, envelope, mechanism, auth_data):
    ok = (isinstance(auth_data, LoginPassword)
          and auth_data.login.decode() == user
          and auth_data.password.decode() == pw)
    return AuthResult(success=ok, handled=False)


ctx = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
ctx.load_cert_chain(cert, key)
if mode == "starttls":
    c = Controller(Handler(), hostname="127.0.0.1", port=int(port),
                   tls_context=ctx, require_starttls=True,
                   authenticator=authenticate, auth_require_tls=True,
                   auth_required=True)
else:
    c = Controller(Handler(), hostname="127.0.0.1", port=int(port),
                   ssl_context=ctx, authenticator=authenticate,
                   auth_require_tls=False, auth_required=True)
c.start()
print(json.dumps({"ready": int(port)}), flush=True)
try:
    sys.stdin.read()
finally:
    c.stop()
