"""Calls: the pure call tracker (AMI events in, call records out) and its data model.

Modules, in the order an event meets them:
- `capture`: reading AMI captures (capture object, JSON array, JSON lines, raw AMI text).
- `tracker`: `CallTracker` — `feed(event)`, `expire(now)`, `alive_channels()`,
  `close_missing(alive, at)`, `close_all(at)`; the event → handler table.
- `core`: channels from snapshots, linkedid grouping into conversations, legs, finishing.
- `channels`, `dials`, `bridges`, `transfers`, `queues`, `dialplan`, `interception`, `resync`:
  one module per event family (`dialplan`: VarSet/Newexten — recording file names, the line of
  an inbound call; `interception`: the CrmInterception UserEvent of responsible-manager
  interception; `resync`: CoreShowChannel snapshots adopted after a reconnect).
- `legs`: who talks to the client (bridges and Local pairs); `records`: direction, parties,
  disposition and the finished `Call`; `state`: the mutable working state.
- `model`: the frozen `Call` / `LiveEvent` records and their JSON shape.
- `rules`: `TrackerRules` (numbering plan, lines, lifetime) and builders from the settings.
- `phones`: E.164 normalisation and last-ten-digit matching (used by adapters too).
- `truth`: comparing emitted calls with a capture's ground truth (tests, live checks).
"""
