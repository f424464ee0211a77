"""A CalDAV server sees a corrected export as an update of last week's (Radicale, a server we did not write).

Last week's export is loaded into a calendar collection as a client keeps it: one calendar object
per event (RFC 4791 §4.1), each under its own href. This week's export, after one event was
corrected, is then synchronised as a client does: the server refuses every event as a new
object (``no-uid-conflict``: same UID, so the same event); as a replacement of its object it
takes each, and its change log (WebDAV sync, RFC 6578) shows exactly one changed object, the
corrected event, with a higher SEQUENCE. The other events' objects are byte for byte the same, so
not even their ETags change.
"""

from __future__ import annotations

import base64
import contextlib
import copy
import datetime as dt
import re
import socket
import subprocess
import sys
import time
import typing as t
import urllib.error
import urllib.request
from pathlib import Path

import icalendar
import pytest
from helpers import shipped
from test_ics import calendar_bytes

pytest.importorskip("radicale")

pytestmark = pytest.mark.slow  # starts a server: about two seconds

USER = "newsroom"
EFES = "efes-2022@records-toolkit"


class Server:
    """Radicale on 127.0.0.1, its storage in a temporary folder; a tiny client over urllib."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self.process: subprocess.Popen[bytes] | None = None
        self.base = ""

    def start(self) -> None:
        for _attempt in range(3):  # a free port can be taken between the probe and the server's bind
            with socket.socket() as probe:
                probe.bind(("127.0.0.1", 0))
                port = probe.getsockname()[1]
            config = self.root / "config"
            config.write_text(
                f"[server]\nhosts = 127.0.0.1:{port}\n"
                "[auth]\ntype = none\n"  # any user name, no password: a throwaway server
                "[rights]\ntype = owner_only\n"
                f"[storage]\nfilesystem_folder = {self.root / 'collections'}\n"
                "[web]\ntype = none\n"
                "[logging]\nlevel = error\n",
                "utf-8",
            )
            log = open(self.root / "log", "ab")  # the server's own; its copy is closed below
            self.process = subprocess.Popen(
                [sys.executable, "-m", "radicale", "--config", str(config)], stdout=log, stderr=log
            )
            log.close()
            self.base = f"http://127.0.0.1:{port}"
            deadline = time.monotonic() + 20
            while time.monotonic() < deadline and self.process.poll() is None:
                with contextlib.suppress(OSError), socket.create_connection(("127.0.0.1", port), timeout=0.2):
                    return
                time.sleep(0.05)
            self.stop()
        raise RuntimeError(f"Radicale did not start: {(self.root / 'log').read_text('utf-8', 'replace')}")

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        self.process = None

    def request(
        self, method: str, path: str, body: bytes | None = None, headers: dict[str, str] | None = None
    ) -> tuple[int, dict[str, str], bytes]:
        token = base64.b64encode(f"{USER}:x".encode()).decode()
        sent = {"Authorization": f"Basic {token}", **(headers or {})}
        request = urllib.request.Request(self.base + path, data=body, method=method, headers=sent)
        try:
            with urllib.request.urlopen(request, timeout=10) as response:
                return response.status, dict(response.headers), response.read()
        except urllib.error.HTTPError as error:
            return error.code, dict(error.headers), error.read()


@pytest.fixture
def server(tmp_path: Path) -> t.Iterator[Server]:
    running = Server(tmp_path)
    running.start()
    try:
        yield running
    finally:
        running.stop()


def objects(data: bytes) -> dict[str, bytes]:
    """The export as CalDAV calendar objects (RFC 4791 §4.1: one event each), by UID."""
    calendar = icalendar.Calendar.from_ical(data)
    found: dict[str, bytes] = {}
    for event in calendar.walk("VEVENT"):
        one = icalendar.Calendar()
        one.add("VERSION", "2.0")
        one.add("PRODID", str(calendar["PRODID"]))
        one.add_component(event)
        found[str(event["UID"])] = one.to_ical()
    return found


def href(uid: str) -> str:
    return f"/{USER}/news/{re.sub(r'[^a-z0-9-]', '-', uid)}.ics"


SYNC_TOKEN = b'<?xml version="1.0"?><propfind xmlns="DAV:"><prop><sync-token/></prop></propfind>'
QUERY = (
    b'<?xml version="1.0"?><C:calendar-query xmlns="DAV:" xmlns:C="urn:ietf:params:xml:ns:caldav">'
    b'<prop><getetag/><C:calendar-data/></prop><C:filter><C:comp-filter name="VCALENDAR">'
    b'<C:comp-filter name="VEVENT"/></C:comp-filter></C:filter></C:calendar-query>'
)


def stored(server: Server) -> dict[str, icalendar.Event]:
    """Every event the server holds (a calendar-query REPORT), by UID."""
    status, _, body = server.request("REPORT", f"/{USER}/news/", QUERY, {"Depth": "1", "Content-Type": "text/xml"})
    assert status == 207, body
    events: dict[str, icalendar.Event] = {}
    for data in re.findall(rb"<C:calendar-data>(.*?)</C:calendar-data>", body, re.S):
        text = data.replace(b"&#13;", b"\r").replace(b"&lt;", b"<").replace(b"&gt;", b">").replace(b"&amp;", b"&")
        (event,) = icalendar.Calendar.from_ical(text).walk("VEVENT")
        assert str(event["UID"]) not in events  # one object per UID
        events[str(event["UID"])] = event
    return events


def test_a_caldav_server_sees_the_corrected_export_as_an_update(server: Server, tmp_path: Path) -> None:
    records = shipped()
    last_week = calendar_bytes(records)
    previous = tmp_path / "calendar.ics"
    previous.write_bytes(last_week)
    corrected = copy.deepcopy(records)
    next(r for r in corrected if r["id"] == "efes-2022")["date"] = "2022-05-10/2022-06-09"
    this_week = calendar_bytes(corrected, previous=str(previous))

    status, _, body = server.request("MKCALENDAR", f"/{USER}/news/")
    assert status == 201, body
    etags: dict[str, str] = {}
    for uid, data in objects(last_week).items():
        status, headers, body = server.request(
            "PUT", href(uid), data, {"Content-Type": "text/calendar", "If-None-Match": "*"}
        )
        assert status == 201, body
        etags[uid] = headers["ETag"]
    before = stored(server)
    assert before[EFES]["SEQUENCE"] == 0
    status, _, body = server.request("PROPFIND", f"/{USER}/news/", SYNC_TOKEN, {"Depth": "0"})
    (token,) = re.findall(rb"<sync-token>(.*?)</sync-token>", body)

    for uid, data in objects(this_week).items():
        # as a new object: refused, the server already holds this event (RFC 4791 §5.3.2.1)
        status, _, body = server.request("PUT", href(uid) + ".new", data, {"Content-Type": "text/calendar"})
        assert status == 409 and b"no-uid-conflict" in body, (uid, status, body)
        # as the new version of the object it holds: taken
        status, _, body = server.request(
            "PUT", href(uid), data, {"Content-Type": "text/calendar", "If-Match": etags[uid]}
        )
        assert status in (200, 204), body

    sync = (
        b'<?xml version="1.0"?><sync-collection xmlns="DAV:"><sync-token>' + token + b"</sync-token>"
        b"<sync-level>1</sync-level><prop><getetag/></prop></sync-collection>"
    )
    status, _, body = server.request("REPORT", f"/{USER}/news/", sync, {"Depth": "1", "Content-Type": "text/xml"})
    assert status == 207, body
    assert re.findall(rb"<href>(.*?)</href>", body) == [href(EFES).encode()]  # one change, the corrected event

    after = stored(server)
    assert set(after) == set(before)
    assert after[EFES]["SEQUENCE"] == 1 > before[EFES]["SEQUENCE"]
    assert after[EFES]["LAST-MODIFIED"].dt > before[EFES]["LAST-MODIFIED"].dt
    assert after[EFES]["DTSTART"].dt == dt.date(2022, 5, 10)
    for uid in set(after) - {EFES}:
        assert after[uid].to_ical() == before[uid].to_ical()
