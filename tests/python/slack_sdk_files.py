"""Slack's Python SDK uploads, lists, reads and deletes files on a real Natter.

files_upload_v2 runs Slack's whole flow unchanged: files.getUploadURLExternal, a POST of the
bytes to the URL it returns, files.completeUploadExternal. Prints "ok" last when every check
passed. NATTER_API_URL, NATTER_TOKEN and NATTER_CHANNEL come from tests/api/python.rs.
"""

import os
import struct
import urllib.error
import urllib.request
import zlib

from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError

client = WebClient(token=os.environ["NATTER_TOKEN"], base_url=os.environ["NATTER_API_URL"])
channel = os.environ["NATTER_CHANNEL"]
content = "minutes of the meeting\n" * 100

upload = client.files_upload_v2(
    channel=channel,
    content=content,
    filename="minutes.txt",
    title="Meeting minutes",
    initial_comment="the minutes",
)
assert upload["ok"], upload
file = upload["file"]
assert file["name"] == "minutes.txt", file
assert file["title"] == "Meeting minutes", file
assert file["size"] == len(content.encode()), file
assert file["mimetype"] == "text/plain", file
assert channel in file["channels"], file

# Two files in one message, as bytes.
def png(width, height):
    """A grey PNG, built with the standard library."""

    def chunk(kind, data):
        body = kind + data
        return struct.pack(">I", len(data)) + body + struct.pack(">I", zlib.crc32(body))

    rows = b"".join(b"\0" + b"\x80\x80\x80" * width for _ in range(height))
    header = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return (
        b"\x89PNG\r\n\x1a\n"
        + chunk(b"IHDR", header)
        + chunk(b"IDAT", zlib.compress(rows))
        + chunk(b"IEND", b"")
    )


dot = png(8, 4)
both = client.files_upload_v2(
    channel=channel,
    file_uploads=[
        {"content": b"a,b\n1,2\n", "filename": "table.csv", "title": "Table"},
        {"content": dot, "filename": "dot.png", "title": "Dot"},
    ],
    initial_comment="two files",
)
assert both["ok"] and len(both["files"]) == 2, both

# History carries the files; the newest message has both, the comment as its text.
history = client.conversations_history(channel=channel, limit=5)
newest = history["messages"][0]
assert newest["text"] == "two files", newest
assert [f["name"] for f in newest["files"]] == ["table.csv", "dot.png"], newest
shared_dot = newest["files"][1]
assert shared_dot["mimetype"] == "image/png" and "thumb_360" in shared_dot, shared_dot

# files.info and url_private with the token give the bytes back.
info = client.files_info(file=file["id"])
assert info["file"]["id"] == file["id"], info
request = urllib.request.Request(
    info["file"]["url_private"], headers={"Authorization": "Bearer " + os.environ["NATTER_TOKEN"]}
)
with urllib.request.urlopen(request) as response:
    assert response.read().decode() == content
# Without the token, it does not exist.
try:
    urllib.request.urlopen(info["file"]["url_private"])
    raise AssertionError("url_private answered without the token")
except urllib.error.HTTPError as error:
    assert error.code == 404, error.code

listed = client.files_list(channel=channel)
assert {f["name"] for f in listed["files"]} >= {"minutes.txt", "table.csv", "dot.png"}, listed

assert client.files_delete(file=file["id"])["ok"]
try:
    client.files_info(file=file["id"])
    raise AssertionError("a deleted file is still there")
except SlackApiError as error:
    assert error.response["error"] == "file_not_found", error.response
print("ok")
