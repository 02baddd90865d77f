"""Asterisk's REST interface (ARI): a second source of call events and a second way to control
calls, beside AMI. `translate` turns ARI's events into the AMI vocabulary the tracker reads;
`client` keeps the /ari/events WebSocket alive and makes REST requests with timeouts."""
