"""Download one labelled output of the user's newest workflow invocation from a Galaxy server.

    python fetch_output.py URL API_KEY OUTPUT_LABEL DESTINATION

The Galaxy suite uses it to read the workflow's test metrics after planemo ran the workflow test,
to compare them with the Nextflow pipeline's on the same data.
"""

from __future__ import annotations

import json
import sys
import urllib.request


def get(url: str, key: str, path: str) -> bytes:
    request = urllib.request.Request(url + path, headers={"x-api-key": key})
    with urllib.request.urlopen(request, timeout=120) as response:
        return response.read()


def main() -> None:
    url, key, label, destination = sys.argv[1:5]
    invocations = json.loads(get(url, key, "/api/invocations?limit=1&sort_by=create_time&sort_desc=true"))
    if not invocations:
        sys.exit("no workflow invocation found")
    invocation = json.loads(get(url, key, f"/api/invocations/{invocations[0]['id']}"))
    outputs = invocation.get("outputs") or {}
    if label not in outputs:
        sys.exit(f"invocation {invocation['id']} has no output {label!r} (outputs: {sorted(outputs)})")
    content = get(url, key, f"/api/datasets/{outputs[label]['id']}/display?preview=false")
    with open(destination, "wb") as handle:
        handle.write(content)
    print(f"invocation {invocation['id']}: {label} -> {destination} ({len(content)} bytes)")


if __name__ == "__main__":
    main()
