"""A Slack Bolt app, unchanged but for its Web API base URL, answering mentions from Natter.

Run by tests/api/python.rs with NATTER_API_URL, NATTER_TOKEN, NATTER_SIGNING_SECRET and PORT.
Natter POSTs signed event callbacks to http://127.0.0.1:$PORT/slack/events; Bolt checks the
signature. A mention gets :eyes: and an answer in its thread; a reaction to the bot's answer
gets thanks in the same thread (found with conversations.replies, as Slack apps do).
"""

import os

from slack_bolt import App
from slack_sdk import WebClient

client = WebClient(token=os.environ["NATTER_TOKEN"], base_url=os.environ["NATTER_API_URL"])
app = App(client=client, signing_secret=os.environ["NATTER_SIGNING_SECRET"])


@app.event("app_mention")
def answer_mention(event, say, client):
    client.reactions_add(channel=event["channel"], timestamp=event["ts"], name="eyes")
    say(f"Hello <@{event['user']}>, you said: {event['text']}", thread_ts=event.get("thread_ts") or event["ts"])


@app.event("reaction_added")
def thank_for_reaction(event, client):
    item = event["item"]
    thread = client.conversations_replies(channel=item["channel"], ts=item["ts"])["messages"]
    client.chat_postMessage(
        channel=item["channel"],
        thread_ts=thread[0]["ts"],
        text=f"Thanks for the :{event['reaction']}:, <@{event['user']}>",
    )


@app.event("message")
def ignore_other_messages(event):
    pass


app.start(port=int(os.environ["PORT"]), path="/slack/events")
