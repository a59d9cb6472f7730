"""Runs the scim2-tester compliance checker against a Natter SCIM endpoint.

Usage: scim_check.py <base URL, …/scim/v2> <SCIM token>

Prints every check with its status and exits 1 if any check reports ERROR or CRITICAL (a
violation of a MUST of RFC 7643/7644).
"""

import sys

from httpx2 import Client
from scim2_client.engines.httpx2 import SyncSCIMClient
from scim2_tester import Status, check_server

base, token = sys.argv[1], sys.argv[2]
http = Client(base_url=base, headers={"Authorization": f"Bearer {token}"}, timeout=30)
client = SyncSCIMClient(http)
client.discover()
results = check_server(client)
failed = 0
for result in results:
    bad = result.status in (Status.ERROR, Status.CRITICAL)
    failed += bad
    where = f"[{result.resource_type}] " if result.resource_type else ""
    print(f"{result.status.name:<10} {where}{result.title}: {result.reason}")
    if bad and result.data is not None:
        print(f"           data: {result.data!r}"[:2000])
counts = {}
for result in results:
    counts[result.status.name] = counts.get(result.status.name, 0) + 1
print("summary:", ", ".join(f"{n} {k}" for k, n in sorted(counts.items())))
sys.exit(1 if failed else 0)
