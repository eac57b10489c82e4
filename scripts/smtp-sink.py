#!/usr/bin/env python3
"""A real SMTP server on loopback for the tests (aiosmtpd): every message it receives is
written to DIR as one .eml file. It picks a free port and writes it to DIR/port once ready.

    smtp-sink.py DIR
"""
import os
import signal
import socket
import sys
import threading
import time

from aiosmtpd.controller import Controller


class SaveToDirectory:
    def __init__(self, directory):
        self.directory = directory
        self.count = 0
        self.lock = threading.Lock()

    async def handle_DATA(self, server, session, envelope):
        with self.lock:
            self.count += 1
            name = f"{time.time_ns()}-{self.count}.eml"
        partial = os.path.join(self.directory, name + ".partial")
        with open(partial, "wb") as out:
            out.write(b"X-Envelope-To: " + ", ".join(envelope.rcpt_tos).encode() + b"\r\n")
            out.write(envelope.original_content or envelope.content)
        os.rename(partial, os.path.join(self.directory, name))
        return "250 Message accepted for delivery"


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def main():
    directory = sys.argv[1]
    os.makedirs(directory, exist_ok=True)
    controller = Controller(SaveToDirectory(directory), hostname="127.0.0.1", port=free_port())
    controller.start()
    with open(os.path.join(directory, "port.partial"), "w") as f:
        f.write(str(controller.port))
    os.rename(os.path.join(directory, "port.partial"), os.path.join(directory, "port"))
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    signal.signal(signal.SIGINT, lambda *_: stop.set())
    stop.wait()
    controller.stop()


if __name__ == "__main__":
    main()
