"""Calls: the pure call tracker (AMI events in, call records out) and its data model."""
