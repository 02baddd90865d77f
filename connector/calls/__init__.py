"""Calls: the pure call tracker (AMI events in, call records out) and its data model.

Modules, in the order an event meets them:
- `capture`: reading AMI captures (capture object, JSON array, JSON lines, raw AMI text).
- `tracker`: `CallTracker` — `feed(event)`, `expire(now)`, `alive_channels()`,
  `close_missing(alive, at)`, `close_all(at)`; the event → handler table.
- `core`: channels from snapshots, linkedid grouping into conversations, legs, finishing.
- `channels`, `dials`, `bridges`, `transfers`, `queues`, `dialplan`, `interception`, `resync`:
  one module per event family (`dialplan`: VarSet/Newexten — recording file names, the line of
  an inbound call, the evidence of an unanswered call's reason; `interception`: the
  CrmInterception UserEvent of responsible-manager interception; `resync`: CoreShowChannel
  snapshots adopted after a reconnect).
- `legs`: who talks to the client (bridges and Local pairs); `records`: direction, parties,
  disposition and the finished `Call`; `state`: the mutable working state.
- `model`: the frozen `Call` / `LiveEvent` records and their JSON shape.
- `clock`: the events' time checked before it is believed (bad stamps, outliers, a stepped
  clock, the daemon's monotonic reference).
- `rules`: `TrackerRules` (numbering plan, lines, lifetime, bounds) and builders from the settings.
- `phones`: E.164 normalisation with libphonenumber and a default region, last-ten-digit
  matching (used by adapters too).
- `truth`: comparing emitted calls with a capture's ground truth (tests, live checks).
"""
