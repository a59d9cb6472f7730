"""Slack's own Python SDK against Natter: only the base URL and the tokens are Natter's.

Run by tests/api/python.rs with NATTER_API_URL (ending in /api/), NATTER_TOKEN (a bot token),
NATTER_WEBHOOK_URL and NATTER_CHANNEL (a channel id). Prints "ok" when every step worked.
"""

import os

from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError
from slack_sdk.webhook import WebhookClient

api_url = os.environ["NATTER_API_URL"]
channel = os.environ["NATTER_CHANNEL"]

# Incoming webhook, exactly as a Slack integration sends it.
hook = WebhookClient(os.environ["NATTER_WEBHOOK_URL"])
response = hook.send(
    text="*Deploy* finished",
    blocks=[
        {"type": "header", "text": {"type": "plain_text", "text": "Release 1.2"}},
        {"type": "section", "text": {"type": "mrkdwn", "text": "All <https://ci.example/7|checks> passed"}},
    ],
)
assert response.status_code == 200 and response.body == "ok", (response.status_code, response.body)
response = hook.send(text="")
assert response.status_code == 400 and response.body == "no_text", (response.status_code, response.body)

# The Web API.
client = WebClient(token=os.environ["NATTER_TOKEN"], base_url=api_url)
auth = client.auth_test()
assert auth["ok"] and auth["user_id"].startswith("U"), auth.data

client.conversations_join(channel=channel)
posted = client.chat_postMessage(channel=channel, text="posted by slack_sdk")
ts = posted["ts"]
assert posted["message"]["text"] == "posted by slack_sdk"

client.chat_update(channel=channel, ts=ts, text="edited by slack_sdk")
history = client.conversations_history(channel=channel, limit=2)
texts = [m["text"] for m in history["messages"]]
assert texts[0] == "edited by slack_sdk", texts
assert history["has_more"] is True

# Paging with the SDK's own cursor handling.
pages = list(client.conversations_history(channel=channel, limit=1))
assert len(pages) >= 3, len(pages)

info = client.conversations_info(channel=channel)
assert info["channel"]["is_member"] is True

members = client.users_list()["members"]
assert any(m["is_bot"] for m in members)

try:
    client.chat_postMessage(channel="C999999", text="nowhere")
    raise AssertionError("posting to an unknown channel must fail")
except SlackApiError as error:
    assert error.response["error"] == "channel_not_found", error.response.data

client.chat_delete(channel=channel, ts=ts)
print("ok")
