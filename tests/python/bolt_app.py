"""A Slack Bolt app, unchanged but for its Web API base URL, answering mentions from Natter.

Run by tests/api/python.rs with NATTER_API_URL, NATTER_TOKEN, NATTER_SIGNING_SECRET and PORT.
Natter POSTs signed event callbacks to http://127.0.0.1:$PORT/slack/events; Bolt checks the
signature, and its reply goes back through chat.postMessage.
"""

import os

from slack_bolt import App
from slack_sdk import WebClient

client = WebClient(token=os.environ["NATTER_TOKEN"], base_url=os.environ["NATTER_API_URL"])
app = App(client=client, signing_secret=os.environ["NATTER_SIGNING_SECRET"])


@app.event("app_mention")
def answer_mention(event, say):
    say(f"Hello <@{event['user']}>, you said: {event['text']}")


@app.event("message")
def ignore_other_messages(event):
    pass


app.start(port=int(os.environ["PORT"]), path="/slack/events")
