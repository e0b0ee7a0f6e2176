"""A real SMTP server (aiosmtpd) for shopd's mail tests.

usage: smtp_server.py MODE PORT OUTDIR
  MODE accept  : store every message as OUTDIR/<n>.eml, with its envelope
                 recipients in OUTDIR/<n>.rcpt (one per line)
       reject4 : answer DATA with 451 (transient failure)
       reject5 : answer DATA with 550 (permanent failure)
Prints "ready" once listening on 127.0.0.1:PORT; runs until killed.
"""
import os
import signal
import sys
import time

from aiosmtpd.controller import Controller

mode, port, outdir = sys.argv[1], int(sys.argv[2]), sys.argv[3]
os.makedirs(outdir, exist_ok=True)


class Handler:
    async def handle_DATA(self, server, session, envelope):
        if mode == "reject4":
            return "451 4.3.0 try again later"
        if mode == "reject5":
            return "550 5.7.1 rejected by policy"
        name = os.path.join(outdir, str(time.time_ns()))
        with open(name + ".rcpt", "w") as f:
            f.write("\n".join(envelope.rcpt_tos))
        with open(name + ".tmp", "wb") as f:
            f.write(envelope.original_content or envelope.content)
        os.rename(name + ".tmp", name + ".eml")
        return "250 OK"


controller = Controller(Handler(), hostname="127.0.0.1", port=port)
controller.start()
print("ready", flush=True)
signal.sigwait({signal.SIGTERM, signal.SIGINT})
controller.stop()
