"""Threads, reactions and pins through Slack's own Python SDK.

Run by tests/api/python.rs with NATTER_API_URL (ending in /api/), NATTER_TOKEN (a bot token in
NATTER_CHANNEL) and NATTER_OTHER_CHANNEL (a channel the bot is also in). Prints "ok" when every
step worked; an assertion says which did not.
"""

import os
import time

from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError

client = WebClient(token=os.environ["NATTER_TOKEN"], base_url=os.environ["NATTER_API_URL"])
channel = os.environ["NATTER_CHANNEL"]
other = os.environ["NATTER_OTHER_CHANNEL"]


def error_of(call, **kwargs):
    try:
        call(**kwargs)
    except SlackApiError as error:
        return error.response["error"]
    raise AssertionError(f"{call.__name__} {kwargs} should have failed")


# The other channel's messages were sent in an earlier second, so their ts differ from these.
time.sleep(1.1)
root = client.chat_postMessage(channel=channel, text="Release train leaves at 3 :steam_locomotive:")
root_ts = root["ts"]
first = client.chat_postMessage(channel=channel, text="I'll bring the notes", thread_ts=root_ts)
assert first["message"]["thread_ts"] == root_ts, first.data
second = client.chat_postMessage(channel=channel, text="Shipping now", thread_ts=root_ts, reply_broadcast=True)
assert second["message"]["subtype"] == "thread_broadcast", second.data
client.chat_postMessage(channel=channel, text="after the thread")

# The channel's history: top-level messages and the broadcast reply, not the plain one.
history = client.conversations_history(channel=channel, limit=10)["messages"]
texts = [m["text"] for m in history]
assert "I'll bring the notes" not in texts, texts
assert "Shipping now" in texts, texts
root_seen = next(m for m in history if m["ts"] == root_ts)
assert root_seen["reply_count"] == 2, root_seen
assert root_seen["thread_ts"] == root_ts
assert root_seen["latest_reply"] == second["ts"], root_seen
assert len(root_seen["reply_users"]) == 1 and root_seen["reply_users"][0].startswith("U")

# The thread, root first, then in order; the SDK pages it with its own cursor handling.
replies = client.conversations_replies(channel=channel, ts=root_ts)["messages"]
assert [m["text"] for m in replies] == [
    "Release train leaves at 3 :steam_locomotive:",
    "I'll bring the notes",
    "Shipping now",
], replies
# The SDK's iterator hands back one response object, updated page by page: read each as it comes.
last_of_each_page = [page["messages"][-1]["text"] for page in client.conversations_replies(channel=channel, ts=root_ts, limit=1)]
assert last_of_each_page == ["I'll bring the notes", "Shipping now"], last_of_each_page

# Reactions: by shortcode, once per person per emoji, listed by reactions.get.
client.reactions_add(channel=channel, timestamp=root_ts, name="thumbsup")
client.reactions_add(channel=channel, timestamp=root_ts, name="tada")
assert error_of(client.reactions_add, channel=channel, timestamp=root_ts, name="thumbsup") == "already_reacted"
assert error_of(client.reactions_add, channel=channel, timestamp=root_ts, name="not_an_emoji_at_all") == "invalid_name"
assert error_of(client.reactions_add, channel=other, timestamp=root_ts, name="tada") == "message_not_found"
got = client.reactions_get(channel=channel, timestamp=root_ts)["message"]["reactions"]
assert [(r["name"], r["count"]) for r in got] == [("+1", 1), ("tada", 1)], got
client.reactions_remove(channel=channel, timestamp=root_ts, name="tada")
assert error_of(client.reactions_remove, channel=channel, timestamp=root_ts, name="tada") == "no_reaction"
history = client.conversations_history(channel=channel, limit=10)["messages"]
assert next(m for m in history if m["ts"] == root_ts)["reactions"] == [
    {"name": "+1", "users": [client.auth_test()["user_id"]], "count": 1}
]

# Pins.
client.pins_add(channel=channel, timestamp=root_ts)
assert error_of(client.pins_add, channel=channel, timestamp=root_ts) == "already_pinned"
items = client.pins_list(channel=channel)["items"]
assert [i["message"]["ts"] for i in items] == [root_ts], items
assert client.conversations_history(channel=channel, limit=1)["pin_count"] == 1
client.pins_remove(channel=channel, timestamp=root_ts)
assert client.pins_list(channel=channel)["items"] == []

# Bad replies store nothing and say why.
assert error_of(client.chat_postMessage, channel=channel, text="x", thread_ts="1700000000.999999") == "thread_not_found"
assert error_of(client.chat_postMessage, channel=channel, text="x", thread_ts=first["ts"]) == "cannot_reply_to_message"
assert error_of(client.chat_postMessage, channel=other, text="x", thread_ts=root_ts) == "thread_not_found"

# Deleting the root keeps the thread, under a tombstone.
client.chat_delete(channel=channel, ts=root_ts)
replies = client.conversations_replies(channel=channel, ts=root_ts)["messages"]
assert replies[0]["subtype"] == "tombstone" and len(replies) == 3, replies
history = client.conversations_history(channel=channel, limit=10)["messages"]
assert any(m["ts"] == root_ts and m["reply_count"] == 2 for m in history), history
print("ok")
